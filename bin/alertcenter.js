#!/usr/bin/env node
// The ops command line (`npx alertcenter routing check`). It runs the compiled code in dist/,
// the same code the router runs; `npm run build` (or the prepare script) produces it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/alertcenter.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('alertcenter: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2), process.env);
