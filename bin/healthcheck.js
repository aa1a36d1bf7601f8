#!/usr/bin/env node
// The image's HEALTHCHECK: GET /healthz from inside the container, on the address the router
// listens on, whatever HOST is. Exit 0 when it answers 200, 1 otherwise (Docker's contract).
//
// HOST is where the router listens, not always an address to connect to: 0.0.0.0 (every IPv4
// address) is reached on 127.0.0.1, and :: (every address, IPv6 and, where the kernel allows
// it, IPv4) on ::1 and then 127.0.0.1. A specific address (10.1.2.3, fd00::5, [fd00::5]) or name
// (localhost) is reached as given: a router bound to one address does not answer on loopback.
import { request } from 'node:http';

const TIMEOUT_MS = 2_000;

/** The addresses to try, in order, for a router listening on `host`. */
function probeHosts(host) {
  const bare = (host ?? '').trim().replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  if (bare === '0.0.0.0') return ['127.0.0.1'];
  if (bare === '::' || bare === '::0' || bare === '0:0:0:0:0:0:0:0') return ['::1', '127.0.0.1'];
  return [bare];
}

function get(host, port) {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/healthz', method: 'GET', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(`${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (error) => resolve(error.message));
    req.end();
  });
}

async function main() {
  const port = Number((process.env.PORT ?? '').trim() || 8080);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`healthcheck: PORT must be a fixed port from 1 to 65535, got "${process.env.PORT}"`);
    return 1;
  }
  const outcomes = [];
  for (const host of probeHosts(process.env.HOST)) {
    const outcome = await get(host, port);
    if (outcome === '200') return 0;
    outcomes.push(`${host.includes(':') ? `[${host}]` : host}:${port}: ${outcome}`);
  }
  console.error(`healthcheck: /healthz not healthy (${outcomes.join('; ')})`);
  return 1;
}

process.exitCode = await main();
