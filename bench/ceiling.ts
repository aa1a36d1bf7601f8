import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The machine's ceiling for the webhook: a bare node:http server that reads the body, parses the
 * JSON and answers 202. No auth, validation, Redis or framework: what is left is Node itself.
 */
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts: unknown[] };
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accepted: body.alerts.length }));
  });
});

server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
process.once('disconnect', () => process.exit(0));
