import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

const duration = z.string().refine((text) => (parseDuration(text) ?? 0) > 0, 'expected a duration such as 30d');

const sloSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a lower-case name such as api-latency'),
  service: z.string().min(1),
  description: z.string().min(1),
  objective: z.number().gt(0).lt(100),
  period: duration,
  sli: z.strictObject({
    good: z.string().includes('[WINDOW]'),
    total: z.string().includes('[WINDOW]'),
    required_series: z.string().min(1),
  }),
  dashboard_url: z.url().optional(),
  runbook_url: z.url().optional(),
});

const tierSchema = z.strictObject({
  severity: z.enum(['critical', 'warning']),
  budget_consumed: z.number().gt(0).lt(1),
  long_window: duration,
  short_window: duration,
});

const catalogSchema = z.strictObject({
  slos: z.array(sloSchema).min(1),
  burn_rate_tiers: z.array(tierSchema).min(1),
});

export type SloDefinition = z.infer<typeof sloSchema> & { periodSeconds: number };
export type BurnRateTier = z.infer<typeof tierSchema>;

export interface SloCatalog {
  slos: SloDefinition[];
  burnRateTiers: BurnRateTier[];
  byName: ReadonlyMap<string, SloDefinition>;
}

export class SloCatalogError extends Error {
  override name = 'SloCatalogError';
}

export function parseSloCatalog(text: string, file: string): SloCatalog {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new SloCatalogError(`${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const result = catalogSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new SloCatalogError(`${file}: ${formatPath(issue.path)}: ${issue.message}`);
  }
  const slos = result.data.slos.map((slo) => ({ ...slo, periodSeconds: parseDuration(slo.period)! / 1000 }));
  const byName = new Map<string, SloDefinition>();
  for (const [i, slo] of slos.entries()) {
    if (byName.has(slo.name)) throw new SloCatalogError(`${file}: slos[${i}].name: duplicate SLO "${slo.name}"`);
    byName.set(slo.name, slo);
  }
  return { slos, burnRateTiers: result.data.burn_rate_tiers, byName };
}

export function loadSloCatalog(file: string): SloCatalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SloCatalogError(`${file}: cannot read SLO catalog (${(error as NodeJS.ErrnoException).code})`);
  }
  return parseSloCatalog(text, file);
}

/** zod issue path as people write it: alerts[3].labels */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('') || '(root)';
}
