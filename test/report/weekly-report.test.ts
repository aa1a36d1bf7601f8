import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReportCommand } from '../../src/cli/report-command.js';
import { IncidentStore } from '../../src/incidents/store.js';
import type { Incident } from '../../src/incidents/types.js';
import { PrometheusClient, PrometheusError } from '../../src/prometheus/client.js';
import { buildWeeklyReport, type ReportSources } from '../../src/report/build.js';
import type { WeeklyReport } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/render.js';
import { weeksBefore } from '../../src/report/week.js';
import type { SimSlo } from '../../src/simulator/maestro.js';
import { startSmtpPeer } from '../peers/smtp-peer.js';
import { cleanRedis, eventually, REDIS_URL, startTestRouter, testPrefix } from '../support/router.js';
import { catalog, countEvents, type FilledPrometheus, fillPrometheus, IncidentDriver, makeScenario, SIM_SLOS, TIERS } from './fixture.js';

const HOUR = 3_600_000;
const MIN = 60_000;
const DAY = 24 * HOUR;
/** 0.1 percentage point of the budget. */
const BUDGET_TOLERANCE = 0.001;

const now = Date.now();
const { week, dataStart, scenario } = makeScenario(now);
const previous = weeksBefore(week, 1);
const at = (day: number, hour: number, minute = 0) => week.start + day * DAY + hour * HOUR + minute * MIN;

let filled: FilledPrometheus;
let redis: Redis;
let prefix: string;
let store: IncidentStore;
let report: WeeklyReport;
const created: Partial<Record<SimSlo, Incident[]>> = {};

beforeAll(async () => {
  prefix = testPrefix();
  redis = new Redis(REDIS_URL);
  store = new IncidentStore(redis, prefix);
  const [prometheus] = await Promise.all([fillPrometheus(scenario, dataStart, week.end + HOUR), createIncidents()]);
  filled = prometheus;
  report = await buildWeeklyReport(sources(filled.prometheus.url), week, { requirePrometheus: true });
}, 90_000);

afterAll(async () => {
  await filled?.close();
  await cleanRedis(prefix);
  redis?.disconnect();
});

function sources(url: string | null): ReportSources {
  return {
    catalog,
    incidents: store,
    prometheus: url === null ? null : { url, client: new PrometheusClient({ url, timeoutMs: 10_000 }) },
  };
}

/** The incidents of the scenario's events, through the router's incident pipeline at the events' times. */
async function createIncidents(): Promise<void> {
  const driver = new IncidentDriver(store);
  const keep = (slo: SimSlo, incident: Incident | null) => {
    created[slo] ??= [];
    created[slo].push(incident!);
  };

  // The week before: not this week's (first: the pipeline ignores copies older than what it knows).
  const before = await driver.alert(previous.start + 3 * DAY + 9 * HOUR + 5 * MIN, 'run-success', TIERS.fast, 'firing', previous.start + 3 * DAY + 9 * HOUR);
  await driver.page(before!, previous.start + 3 * DAY + 9 * HOUR + 6 * MIN, 'first_notification');
  await driver.alert(previous.start + 3 * DAY + 10 * HOUR, 'run-success', TIERS.fast, 'resolved', previous.start + 3 * DAY + 9 * HOUR);
  await driver.tick(previous.start + 3 * DAY + 10 * HOUR + 6 * MIN);

  // The database outage: the fast critical tier pages at 14:05, acknowledged 8 minutes later; the warning tier joins.
  const outage = await driver.alert(at(2, 14, 5), 'database-availability', TIERS.fast, 'firing', at(2, 14, 4));
  await driver.page(outage!, at(2, 14, 5) + 30_000, 'first_notification');
  await driver.acknowledge(outage!, at(2, 14, 13));
  await driver.alert(at(2, 14, 20), 'database-availability', TIERS.warning, 'firing', at(2, 14, 19));
  await driver.alert(at(2, 16, 10), 'database-availability', TIERS.fast, 'resolved', at(2, 14, 4));
  await driver.alert(at(2, 16, 40), 'database-availability', TIERS.warning, 'resolved', at(2, 14, 19));
  await driver.tick(at(2, 16, 46));
  keep('database-availability', await store.get(outage!.id));

  // The Friday blip: a warning that clears and fires again within the hold-down (a flap), no page.
  const blip = await driver.alert(at(4, 9, 10), 'database-availability', TIERS.warning, 'firing', at(4, 9, 9));
  await driver.alert(at(4, 9, 40), 'database-availability', TIERS.warning, 'resolved', at(4, 9, 9));
  await driver.alert(at(4, 9, 42), 'database-availability', TIERS.warning, 'firing', at(4, 9, 41));
  await driver.alert(at(4, 10, 5), 'database-availability', TIERS.warning, 'resolved', at(4, 9, 41));
  await driver.tick(at(4, 10, 11));
  keep('database-availability', await store.get(blip!.id));

  // The weekend regression: a warning on Saturday night, escalated to a page in the morning, acknowledged at 09:30.
  const regression = await driver.alert(at(5, 2), 'api-latency', TIERS.warning, 'firing', at(5, 1, 59));
  await driver.alert(at(5, 9), 'api-latency', TIERS.slow, 'firing', at(5, 8, 59));
  await driver.page(regression!, at(5, 9) + 20_000, 'escalated');
  await driver.acknowledge(regression!, at(5, 9, 30));
  await driver.alert(at(5, 20), 'api-latency', TIERS.slow, 'resolved', at(5, 8, 59));
  await driver.alert(at(6, 23), 'api-latency', TIERS.warning, 'resolved', at(5, 1, 59));
  await driver.tick(at(6, 23, 6));
  keep('api-latency', await store.get(regression!.id));

  // The failed runs: a page nobody acknowledged.
  const runs = await driver.alert(at(1, 10, 20), 'run-success', TIERS.fast, 'firing', at(1, 10, 19));
  await driver.page(runs!, at(1, 10, 20) + 30_000, 'first_notification');
  await driver.alert(at(1, 16, 10), 'run-success', TIERS.fast, 'resolved', at(1, 10, 19));
  await driver.tick(at(1, 16, 16));
  keep('run-success', await store.get(runs!.id));
}

/** What the test expects of an SLO, from the scenario alone. */
function expected(slo: SimSlo) {
  const definition = catalog.byName.get(slo)!;
  const budget = (100 - definition.objective) / 100;
  const periodMs = definition.periodSeconds * 1000;
  // Prometheus holds data from dataStart: a period reaching further back counts what there is.
  const period = countEvents(scenario, slo, Math.max(dataStart, week.end - periodMs), week.end);
  const previousPeriod = countEvents(scenario, slo, Math.max(dataStart, previous.end - periodMs), previous.end);
  const thisWeek = countEvents(scenario, slo, week.start, week.end);
  const weekBefore = countEvents(scenario, slo, previous.start, previous.end);
  return {
    sliWeek: 1 - thisWeek.bad / thisWeek.events,
    sliPeriod: 1 - period.bad / period.events,
    budgetRemaining: 1 - period.bad / (budget * period.events),
    consumedThisWeek: thisWeek.bad / (budget * period.events),
    consumedPreviousWeek: weekBefore.bad / (budget * previousPeriod.events),
  };
}

const sloReport = (slo: SimSlo) => report.slos.find((entry) => entry.name === slo)!;

describe('weekly SLO report against a real Prometheus', () => {
  it('reviews the last complete week in the zone, with every SLO of the catalog', () => {
    expect(report.week).toBe(week.id);
    expect(report.timeZone).toBe('Europe/Paris');
    expect(new Date(report.start).getTime()).toBe(week.start);
    expect(report.prometheus.available).toBe(true);
    expect(report.slos.map((slo) => slo.name)).toEqual(catalog.slos.map((slo) => slo.name));
  });

  it.each(SIM_SLOS)('%s: budget figures match the counters to 0.1 percentage point', (slo) => {
    const want = expected(slo);
    const { figures } = sloReport(slo);
    expect(figures.budgetRemaining!).toBeCloseTo(want.budgetRemaining, 2);
    expect(Math.abs(figures.budgetRemaining! - want.budgetRemaining)).toBeLessThan(BUDGET_TOLERANCE);
    expect(Math.abs(figures.consumedThisWeek! - want.consumedThisWeek)).toBeLessThan(BUDGET_TOLERANCE);
    expect(Math.abs(figures.consumedPreviousWeek! - want.consumedPreviousWeek)).toBeLessThan(BUDGET_TOLERANCE);
    expect(Math.abs(figures.sliWeek! - want.sliWeek)).toBeLessThan(1e-5);
    expect(Math.abs(figures.sliPeriod! - want.sliPeriod)).toBeLessThan(1e-5);
    expect(figures.compliant).toBe(want.budgetRemaining >= 0);
    // The burn-down ends where the rules' budget left is.
    expect(Math.abs(figures.burnDown!.points.at(-1)![1] - want.budgetRemaining)).toBeLessThan(BUDGET_TOLERANCE);
    expect(figures.burnDown!.points[0]![1]).toBe(1);
  });

  it('finds the known events as the largest burn episodes, with their budget', () => {
    const db = sloReport('database-availability').figures;
    const budgetEvents = 0.001 * countEvents(scenario, 'database-availability', Math.max(dataStart, week.end - 30 * DAY), week.end).events;
    const outage = countEvents(scenario, 'database-availability', at(2, 14), at(2, 16));
    expect(db.episodes[0]).toMatchObject({ start: new Date(at(2, 14)).toISOString(), durationSeconds: 7200 });
    expect(Math.abs(db.episodes[0]!.budgetConsumed - outage.bad / budgetEvents)).toBeLessThan(BUDGET_TOLERANCE);
    expect(db.episodes[1]).toMatchObject({ start: new Date(at(4, 9)).toISOString(), durationSeconds: 3600 });

    const api = sloReport('api-latency').figures;
    expect(api.episodes[0]).toMatchObject({ start: new Date(at(5, 0)).toISOString(), durationSeconds: 48 * 3600 });
    const runs = sloReport('run-success').figures;
    expect(runs.episodes[0]).toMatchObject({ start: new Date(at(1, 10)).toISOString(), durationSeconds: 6 * 3600 });
    expect(runs.episodes[0]!.peakBurnRate).toBeCloseTo(25, 0);
  });

  it('gives the policy verdicts and the priorities by budget burned this week', () => {
    for (const slo of SIM_SLOS) {
      const remaining = expected(slo).budgetRemaining;
      const verdict = remaining <= 0 ? 'reliability_work_first' : remaining < 0.25 ? 'at_risk' : 'healthy';
      expect(sloReport(slo).verdict, slo).toBe(verdict);
    }
    const order = [...SIM_SLOS].sort((a, b) => expected(b).consumedThisWeek - expected(a).consumedThisWeek);
    expect(report.priorities.map((entry) => entry.slo)).toEqual(order);
    // The scenario makes each verdict appear: runs overspent their 7d budget, the database is at risk.
    expect(sloReport('run-success').verdict).toBe('reliability_work_first');
    expect(sloReport('database-availability').verdict).toBe('at_risk');
    expect(sloReport('api-latency').verdict).toBe('healthy');
  });

  it('counts the incidents the test created: by peak tier, firing time, pages, acknowledgement, flaps', () => {
    const seconds = (incident: Incident) => (Date.parse(incident.resolvedAt!) - Date.parse(incident.openedAt)) / 1000;
    const [outage, blip] = created['database-availability']!;
    expect(outage!.state).toBe('resolved');
    expect(sloReport('database-availability').incidents).toMatchObject({
      count: 2,
      byPeakSeverity: { critical: 1, warning: 1, info: 0 },
      firingSeconds: seconds(outage!) + seconds(blip!),
      pages: 1,
      acknowledge: { acknowledged: 1, medianSeconds: 8 * 60, longestSeconds: 8 * 60 },
      flaps: 1,
    });
    const [regression] = created['api-latency']!;
    expect(sloReport('api-latency').incidents).toMatchObject({
      count: 1,
      byPeakSeverity: { critical: 1, warning: 0, info: 0 },
      firingSeconds: seconds(regression!),
      pages: 1,
      acknowledge: { acknowledged: 1, medianSeconds: 7.5 * 3600, longestSeconds: 7.5 * 3600 },
      flaps: 0,
    });
    // Never acknowledged: no time to acknowledge ("n/a"), and the week before's incident is not counted.
    expect(sloReport('run-success').incidents).toMatchObject({
      count: 1,
      pages: 1,
      firingSeconds: seconds(created['run-success']![0]!),
      acknowledge: { acknowledged: 0, medianSeconds: null, longestSeconds: null },
    });
  });

  it('Prometheus unreachable: one error naming PROMETHEUS_URL, or the report with its Prometheus part marked unavailable', async () => {
    const down = 'http://127.0.0.1:1';
    const error = await buildWeeklyReport(sources(down), week, { requirePrometheus: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusError);
    expect((error as Error).message).toMatch(/^PROMETHEUS_URL http:\/\/127\.0\.0\.1:1: cannot reach Prometheus \(.*ECONNREFUSED.*\)$/);
    const marked = await buildWeeklyReport(sources(down), week, { requirePrometheus: false });
    expect(marked.prometheus).toMatchObject({ available: false, error: (error as Error).message });
    expect(marked.slos.every((slo) => slo.verdict === 'unknown' && slo.figures.budgetRemaining === null)).toBe(true);
    // The incidents are still there.
    expect(marked.slos.find((slo) => slo.name === 'database-availability')!.incidents.count).toBe(2);
  });
});

/** Collects what a CLI run writes. */
class Text extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.text += chunk.toString('utf8');
    callback();
  }
}

describe('where the report goes', () => {
  const env = () => ({ PROMETHEUS_URL: filled.prometheus.url, REDIS_PREFIX: prefix, REPORT_TIME_ZONE: 'Europe/Paris', REDIS_URL });

  it('renders in Chromium: the summary, three burn-down charts (SVG) and every section', async () => {
    const html = renderHtml(report);
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      await page.setContent(html, { waitUntil: 'load' });
      expect(await page.locator('svg').count()).toBe(3);
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).toContain(`Maestro weekly SLO review: ${week.id}`);
      expect(text).toContain('reliability work first');
      expect(text).toContain('Reliability work: SLOs by budget burned this week');
      // Each chart has a drawn line (the budget left) and the ideal line.
      const paths = await page.locator('svg').first().locator('path').count();
      expect(paths).toBeGreaterThan(3);
      const box = await page.locator('svg').first().boundingBox();
      expect(box!.width).toBeGreaterThan(600);
      const out = process.env.REPORT_SCREENSHOT ?? join(tmpdir(), 'weekly-report.png');
      mkdirSync(dirname(out), { recursive: true });
      await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
  }, 30_000);

  it('alertcenter report weekly: JSON of the week; Prometheus unreachable exits 1 with one line naming PROMETHEUS_URL', async () => {
    const stdout = new Text();
    const stderr = new Text();
    expect(await runReportCommand(['weekly', '--week', week.id, '--format', 'json'], env(), { stdout, stderr })).toBe(0);
    const json = JSON.parse(stdout.text);
    expect(json.week).toBe(week.id);
    expect(json.slos.find((slo: { name: string }) => slo.name === 'database-availability').incidents.count).toBe(2);

    const dir = mkdtempSync(join(tmpdir(), 'report-cli-'));
    try {
      expect(await runReportCommand(['weekly', '--format', 'markdown', '--out', join(dir, 'r.md')], env(), { stdout: new Text(), stderr: new Text() })).toBe(0);
      expect(readFileSync(join(dir, 'r.md'), 'utf8')).toContain(`# Maestro weekly SLO review: ${week.id}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const down = new Text();
    expect(await runReportCommand(['weekly'], { ...env(), PROMETHEUS_URL: 'http://127.0.0.1:1' }, { stdout: new Text(), stderr: down })).toBe(1);
    expect(down.text).toMatch(/^alertcenter: PROMETHEUS_URL http:\/\/127\.0\.0\.1:1: cannot reach Prometheus \([^\n]*\)\n$/);
    const usage = new Text();
    expect(await runReportCommand(['weekly', '--format', 'pdf'], env(), { stdout: new Text(), stderr: usage })).toBe(2);
  });

  it('two router replicas: the API serves the week to the page, and the scheduled run mails the review exactly once', async () => {
    const smtp = await startSmtpPeer();
    const routerEnv = {
      ...env(),
      ADMIN_TOKEN: 'report-admin',
      SMTP_URL: smtp.url(),
      REPORT_EMAIL_TO: 'review@maestro.example',
      // Every second: many scheduled runs of one week, across both replicas.
      REPORT_SCHEDULE: '* * * * * *',
    };
    const routers = [await startTestRouter(routerEnv), await startTestRouter(routerEnv)];
    try {
      const auth = { authorization: 'Bearer report-admin' };
      const weeks = await (await fetch(`${routers[0]!.url}/api/v1/reports/weeks`, { headers: auth })).json();
      expect(weeks.default).toBe(week.id);
      expect(weeks.weeks.length).toBeGreaterThanOrEqual(4);
      expect((await fetch(`${routers[0]!.url}/api/v1/reports/weekly`)).status).toBe(401);
      const res = await fetch(`${routers[1]!.url}/api/v1/reports/weekly?week=${week.id}&format=json`, { headers: auth });
      expect(res.status).toBe(200);
      expect((await res.json()).slos.map((slo: { verdict: string }) => slo.verdict)).toEqual(report.slos.map((slo) => slo.verdict));
      const html = await fetch(`${routers[1]!.url}/api/v1/reports/weekly?week=${week.id}&format=html`, { headers: auth });
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      const chart = await fetch(`${routers[1]!.url}/api/v1/reports/weekly/chart?week=${week.id}&slo=run-success`, { headers: auth });
      expect(chart.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      expect((await fetch(`${routers[1]!.url}/api/v1/reports/weekly?week=2026-W99`, { headers: auth })).status).toBe(400);

      // Runs: the one that sent, and later ones (on either replica) that found the week sent.
      const runs = () => routers.flatMap((router) => router.logs.entries().filter((entry) => /^weekly SLO report (sent|already sent)/.test(String(entry.msg))));
      await eventually(() => runs().length >= 4, 20_000, 'four scheduled runs');
      expect(runs().filter((entry) => entry.msg === 'weekly SLO report sent')).toHaveLength(1);
      expect(smtp.received).toHaveLength(1);
      const mail = smtp.received[0]!;
      expect(mail.envelope.to).toEqual(['review@maestro.example']);
      expect(mail.parsed.subject).toBe(`Maestro weekly SLO review ${week.id}: 1 reliability work first, 1 at risk`);
      // The charts as inline PNGs referenced from the HTML by Content-ID; the text part carries the figures.
      const images = mail.parsed.attachments.filter((attachment) => attachment.contentType === 'image/png');
      expect(images).toHaveLength(3);
      for (const image of images) expect(image.related && image.cid).toMatch(/^burndown-[a-z-]+-\d{4}-W\d{2}@alertcenter$/);
      // mailparser puts each image referenced by cid: in the HTML in place (as a data: URI): all three are referenced.
      expect(String(mail.parsed.html).match(/<img src="data:image\/png;base64,/g)).toHaveLength(3);
      expect(mail.parsed.html).not.toContain('<svg');
      expect(mail.parsed.text).toContain("Error budget left at the week's end: ");
    } finally {
      await Promise.all(routers.map((router) => router.stop()));
      await smtp.close();
    }
  }, 60_000);

  it('the scheduled run retries a Prometheus that does not answer, then mails with the Prometheus part marked unavailable', async () => {
    const smtp = await startSmtpPeer();
    const router = await startTestRouter({
      ...env(),
      REDIS_PREFIX: `${prefix}-down`,
      PROMETHEUS_URL: 'http://127.0.0.1:1',
      SMTP_URL: smtp.url(),
      REPORT_EMAIL_TO: 'review@maestro.example',
      REPORT_SCHEDULE: '*/2 * * * * *',
      REPORT_ATTEMPTS: '2',
      REPORT_RETRY_DELAY: '100ms',
    });
    try {
      await eventually(() => smtp.received.length === 1, 20_000, 'the mail');
      const retried = router.logs.entries().filter((entry) => entry.msg === 'weekly SLO report: Prometheus failed; retrying');
      expect(retried.length).toBeGreaterThanOrEqual(1);
      const mail = smtp.received[0]!;
      expect(mail.parsed.subject).toContain('Prometheus unavailable');
      expect(mail.parsed.text).toContain(
        'Prometheus unavailable: the SLO figures, charts and burn episodes are missing (PROMETHEUS_URL http://127.0.0.1:1: cannot reach Prometheus',
      );
    } finally {
      await router.stop();
      await smtp.close();
      await cleanRedis(`${prefix}-down`);
    }
  }, 30_000);
});
