import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

/**
 * The shipped routing (routing/routes.yaml) with `resolve_hold` set on every route, in a file of
 * its own (for ROUTING_FILE): a test that resolves alerts sees the resolves without the default 5m hold-down.
 */
export function shippedRoutingWith({ resolveHold }: { resolveHold: string }): string {
  const shipped = readFileSync(fileURLToPath(new URL('../../routing/routes.yaml', import.meta.url)), 'utf8');
  const config = parse(shipped) as { routes: Array<Record<string, unknown>> };
  for (const route of config.routes) route.resolve_hold = resolveHold;
  const file = join(mkdtempSync(join(tmpdir(), 'alertcenter-routing-')), 'routes.yaml');
  writeFileSync(file, stringify(config));
  return file;
}
