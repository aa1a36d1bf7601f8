import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSloCatalog } from '../../src/alerts/slo-catalog.js';

const PAYLOADS = new URL('../fixtures/payloads/', import.meta.url);

/** Webhook bodies: the Alertmanager 0.25 ones were captured from a real Alertmanager; the others follow each sender's source. */
export const PAYLOAD_FIXTURES = [
  'alertmanager-0.25/critical-firing',
  'alertmanager-0.25/warning-firing',
  'alertmanager-0.25/group-two-alerts',
  'alertmanager-0.25/group-one-resolved',
  // The shipped config and rules' annotations (figures as promtool computes them for the database outage case).
  'alertmanager-0.25/figures-critical-firing',
  'alertmanager-0.25/figures-critical-resolved',
  'alertmanager-0.25/figures-missing',
  'alertmanager-0.32/some-alerts-resolved',
  'alertmanager-0.34/route-labels',
  'grafana/slo-alerts',
  'sloth/page-and-ticket',
  'pyrra/error-budget-burn',
] as const;

export type PayloadFixture = (typeof PAYLOAD_FIXTURES)[number];

/** A fresh copy each call, as JSON.parse would hand it to the webhook. */
export function payloadFixture(name: PayloadFixture): any {
  return JSON.parse(readFileSync(new URL(`${name}.json`, PAYLOADS), 'utf8'));
}

export const catalog = loadSloCatalog(fileURLToPath(new URL('../../routing/slos.yaml', import.meta.url)));
