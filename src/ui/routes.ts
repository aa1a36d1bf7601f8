import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Eta } from 'eta';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { stringify } from 'yaml';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { Severity } from '../alerts/types.js';
import { ApiError } from '../api/errors.js';
import { receiverViews } from '../api/routes/incidents.js';
import { explainRouting } from '../cli/routing-commands.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident } from '../incidents/types.js';
import { formatSpan, formatTime } from '../notifiers/render/format.js';
import type { DeadLetter, DeadLetters } from '../queue/dead-letters.js';
import type { ReportService } from '../report/service.js';
import { WeekError } from '../report/week.js';
import type { RoutingStore } from '../routing/store.js';
import {
  type Access,
  type Caller,
  CSRF_FIELD,
  callerOf,
  clearedSessionCookie,
  overTls,
  parseCookies,
  SESSION_COOKIE,
  type SessionStore,
  sessionCookie,
} from './access.js';
import { loadAssets, serveAsset } from './assets.js';
import type { EventHub } from './events.js';
import { describeEvent, type IncidentFilters, incidentRow, keepOrder, type LinkContext, sloCards, sortIncidents, tierViews } from './model.js';
import type { PrometheusSlos } from './prometheus.js';
import { reportView } from './report-view.js';
import { SharedRenders } from './shared-renders.js';

export interface UiDeps {
  incidents: IncidentStore;
  routing: RoutingStore;
  catalog: SloCatalog;
  defaultSeverity: Severity;
  deadLetters: DeadLetters;
  /** Job counts per queue and state (ingest and the sync queues). */
  queueCounts: () => Promise<Record<string, Record<string, number>>>;
  sessions: SessionStore;
  access: Access;
  hub: EventHub;
  prometheus: PrometheusSlos | undefined;
  cookieSecure: 'auto' | 'always' | 'never';
  slackWorkspaceUrl: string | undefined;
  /** No ADMIN_TOKEN (loopback only): any token signs in as operator, as the admin API is open. */
  openSignIn: boolean;
  /** The weekly SLO review (src/report): the Reports view. */
  reports: ReportService;
}

/** Rows per page of incidents by default; `?limit=` up to 1,000. */
export const DEFAULT_ROWS = 100;
const gzipAsync = promisify(gzip);
/** Smaller answers go as they are. */
const GZIP_FROM_BYTES = 4_096;

/** A rendered page or fragment, gzipped at most once. */
class Rendered {
  private gzipped: Promise<Buffer> | undefined;
  constructor(readonly text: string) {}
  gzip(): Promise<Buffer> {
    this.gzipped ??= gzipAsync(this.text, { level: 6 });
    return this.gzipped;
  }
}

/** Timeline entries read per row to tell a receiver's last failure. */
const ROW_TIMELINE_TAIL = 40;

const views = fileURLToPath(new URL('./views', new URL('../../src/ui/', import.meta.url)));

/** Headers of every page and fragment: nothing loads from outside the router, nothing frames it. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.locals.startedAt = performance.now();
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // Links to Slack and PagerDuty do not tell them where they were clicked (same-origin keeps the Origin header on our own forms).
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
};

/** The renderer of the page's templates (src/ui/views), compiled once and cached. */
export function createRenderer(): Eta {
  return new Eta({ views, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });
}

/**
 * The Maestro AlertCenter page (ROLE=api and ROLE=all):
 * GET  /                    SLOs, incidents, deliveries and routing, live
 * GET  /incidents/:id       one incident: timeline, alerts and labels, links
 * GET  /login, POST /login, POST /logout
 * GET  /ui/live             the page's live sections in one answer (SLOs, incident rows, deliveries)
 * GET  /ui/...              the other fragments htmx loads (rows for a filter, an incident)
 * POST /ui/routing/test     the routing tester (the CLI's explain code)
 * GET  /assets/:name        htmx, its SSE extension, the page's script and styles
 * GET  /api/v1/events       server-sent events: incident changes from every worker, through Redis
 * The actions (acknowledge, silence, re-drive) are the admin API's: the page calls them with its
 * session cookie and CSRF token.
 */
export function uiRouter(deps: UiDeps): Router {
  const router = Router();
  const eta = createRenderer();
  const assets = loadAssets();
  const form = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 50 });
  const { access } = deps;

  const linkContext = (): LinkContext => {
    const receivers = deps.routing.current().receivers;
    return {
      slackWorkspaceUrl: deps.slackWorkspaceUrl,
      channelOf: (name) => receivers.find((receiver) => receiver.name === name)?.kind ?? 'unknown',
    };
  };
  const secure = (req: Request) => deps.cookieSecure === 'always' || (deps.cookieSecure === 'auto' && overTls(req));
  const html = async (res: Response, body: string | Rendered, status = 200) => {
    const rendered = typeof body === 'string' ? new Rendered(body) : body;
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Vary', 'Accept-Encoding');
    // A page of 100 incidents is about 250 KB of HTML, 15 KB gzipped; gzipped once per render
    // (in the thread pool), however many pages get it.
    // The server's time for this page (Redis reads and rendering): what bench/ui-render.ts measures.
    if (typeof res.locals.startedAt === 'number') res.setHeader('Server-Timing', `app;dur=${(performance.now() - res.locals.startedAt).toFixed(1)}`);
    const gzipped = rendered.text.length >= GZIP_FROM_BYTES && /\bgzip\b/.test(String(res.req.headers['accept-encoding'] ?? '')) ? await rendered.gzip() : null;
    if (gzipped) res.setHeader('Content-Encoding', 'gzip');
    res.end(gzipped ?? rendered.text);
  };
  const common = (res: Response) => {
    const caller = callerOf(res)!;
    return { caller, csrf: caller.session?.csrf ?? '', canAct: caller.role === 'operator', csrfField: CSRF_FIELD };
  };

  router.get('/assets/:name', serveAsset(assets));
  // Every page and fragment below: the security headers first (a refusal carries them too).
  router.use(['/login', '/logout', '/incidents', '/reports', '/ui'], securityHeaders);
  router.get('/', securityHeaders);

  // ---- Sign in and out --------------------------------------------------------------------------
  router.get('/login', async (req, res) => {
    const next = safeNext(req.query.next);
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (id && (await deps.sessions.get(id))) return res.redirect(303, next);
    return html(res, eta.render('./login', { next, expired: req.query.expired === '1', error: null, open: deps.openSignIn }));
  });
  router.post('/login', form, async (req, res) => {
    // SameSite cannot protect the sign-in itself: refuse forms posted from another site.
    if (crossSite(req)) throw new ApiError(403, 'csrf', 'sign-in from another site refused');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const next = safeNext(body.next);
    const role = token ? access.roleOfToken(token) : null;
    if (!role) {
      return html(res, eta.render('./login', { next, expired: false, error: 'That token is not valid here.', open: deps.openSignIn }), 401);
    }
    const rawName = typeof body.name === 'string' ? body.name.trim().slice(0, 64) : '';
    const name = rawName.replace(/[^\p{L}\p{N} ._@-]/gu, '') || role;
    const { id } = await deps.sessions.create(role, name);
    res.setHeader('Set-Cookie', sessionCookie(id, deps.sessions.ttlMs, secure(req)));
    res.redirect(303, next);
  });
  router.post('/logout', form, access.page, access.pageForm, async (req, res) => {
    const caller = callerOf(res)!;
    if (caller.sessionId) await deps.sessions.destroy(caller.sessionId);
    res.setHeader('Set-Cookie', clearedSessionCookie(secure(req)));
    res.redirect(303, '/login');
  });

  // ---- The page -----------------------------------------------------------------------------------
  router.get('/', access.page, async (req, res) => {
    const filters = filtersOf(req);
    const [slos, rows, deliveries] = await Promise.all([sloData(), rowsData(filters, [], limitOf(req)), deliveriesData()]);
    return html(
      res,
      eta.render('./index', {
        ...common(res),
        title: 'Overview',
        filters,
        sloNames: deps.catalog.slos.map((slo) => slo.name),
        slos,
        rows,
        deliveries,
        routing: routingData(),
      }),
    );
  });
  router.get('/reports', access.page, async (req, res) => {
    const weeks = deps.reports.weeks();
    const asked = typeof req.query.week === 'string' ? req.query.week : undefined;
    let week: string;
    try {
      week = deps.reports.week(asked).id;
    } catch (error) {
      if (!(error instanceof WeekError)) throw error;
      return html(res, eta.render('./reports', { ...common(res), title: 'Reports', weeks, report: null, error: error.message }), 400);
    }
    const report = await deps.reports.build(week, false);
    return html(res, eta.render('./reports', { ...common(res), title: `Weekly SLO review ${week}`, weeks, report: reportView(report), error: null }));
  });
  router.get('/incidents/:id', access.page, async (req, res) => {
    const detail = await detailData(String(req.params.id));
    if (!detail) return html(res, eta.render('./missing', { ...common(res), title: 'Not found', id: String(req.params.id) }), 404);
    return html(res, eta.render('./incident-page', { ...common(res), title: detail.incident.title, detail }));
  });

  // ---- Fragments ----------------------------------------------------------------------------------
  /** A reload that a change event caused (`?gen=`) shares its render with the other pages reloading for it. */
  const renders = new SharedRenders<Rendered>(deps.hub);
  const shared = (req: Request, res: Response, render: () => Promise<string>): Promise<Rendered> => {
    const url = new URL(req.originalUrl, 'http://page');
    url.searchParams.delete('gen');
    return renders.get(`${callerOf(res)!.role} ${url.pathname}${url.search}`, req.query.gen, async () => new Rendered(await render()));
  };
  router.get('/ui/live', access.page, async (req, res) => {
    const pinned = typeof req.query.order === 'string' ? req.query.order.split(',').filter(Boolean).slice(0, 1_000) : [];
    return html(
      res,
      await shared(req, res, async () => {
        const [slos, rows, deliveries] = await Promise.all([sloData(), rowsData(filtersOf(req), pinned, limitOf(req)), deliveriesData()]);
        return eta.render('./live', { ...common(res), slos, rows, deliveries });
      }),
    );
  });
  router.get('/ui/incidents/rows', access.page, async (req, res) => {
    return html(res, eta.render('./rows', { ...common(res), rows: await rowsData(filtersOf(req), [], limitOf(req)) }));
  });
  router.get('/ui/incidents/:id', access.page, async (req, res) => {
    const detail = await detailData(String(req.params.id));
    if (!detail) return html(res, `<p class="error">No incident ${escapeHtml(String(req.params.id))}: it may have expired.</p>`, 404);
    return html(res, eta.render('./incident', { ...common(res), detail, ownPage: req.query.own === '1' }));
  });
  router.post('/ui/routing/test', form, access.page, access.pageForm, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const result = routingTest(typeof body.labels === 'string' ? body.labels : '', typeof body.at === 'string' ? body.at : '');
    if (req.headers['hx-request']) return html(res, eta.render('./routing-result', result), result.error ? 400 : 200);
    return html(res, eta.render('./routing-page', { ...common(res), title: 'Routing test', result }), result.error ? 400 : 200);
  });

  // ---- Live -------------------------------------------------------------------------------------
  router.get('/api/v1/events', access.api, (req, res) => deps.hub.serve(req, res));

  // ---- Data ---------------------------------------------------------------------------------------
  async function sloData() {
    const now = Date.now();
    const [recent, prometheus] = await Promise.all([deps.incidents.list({ limit: 200 }), deps.prometheus ? deps.prometheus.read(now) : Promise.resolve(null)]);
    return { cards: sloCards(deps.catalog, recent, prometheus, now), fromPrometheus: Boolean(prometheus?.ok) };
  }

  async function rowsData(filters: IncidentFilters, pinned: string[], limit: number) {
    const now = Date.now();
    const listed = await deps.incidents.list({ state: filters.state || undefined, slo: filters.slo || undefined, limit });
    const matching = sortIncidents(listed.filter((incident) => !filters.severity || incident.severity === filters.severity));
    const extras = await deps.incidents.toldAndRecent(
      matching.map((incident) => incident.id),
      ROW_TIMELINE_TAIL,
    );
    const links = linkContext();
    const rows = matching.map((incident) => {
      const extra = extras.get(incident.id) ?? { told: {}, recent: [] };
      return incidentRow(incident, extra.told, extra.recent, links, now);
    });
    return keepOrder(rows, pinned);
  }

  async function detailData(id: string) {
    if (!/^[\w-]{1,100}$/.test(id)) return null;
    const incident = await deps.incidents.get(id);
    if (!incident) return null;
    const now = Date.now();
    const [timeline, told, alerts] = await Promise.all([deps.incidents.timeline(id), deps.incidents.told(id), deps.incidents.alerts(id)]);
    const links = linkContext();
    const row = incidentRow(incident, told, timeline, links, now);
    const receivers = Object.entries(receiverViews(incident, told, timeline)).map(([name, view]) => ({
      name,
      channel: links.channelOf(name),
      route: view.route,
      routedNow: view.routedNow,
      chip: row.chips.find((chip) => chip.receiver === name)!,
      lastSent: view.told ? formatTime(view.told.lastAt, now) : null,
      sent: view.told?.sent ?? 0,
      failure: view.lastFailure ? `${formatTime(view.lastFailure.at, now)}: ${view.lastFailure.reason}: ${view.lastFailure.error}` : null,
    }));
    return {
      incident,
      row,
      receivers,
      tiers: tierViews(incident, now),
      alerts: Object.entries(alerts).map(([fingerprint, mark]) => ({
        fingerprint,
        tier: mark.tier,
        status: mark.status,
        startsAt: formatTime(mark.startsAt, now) ?? mark.startsAt,
      })),
      timeline: timeline.map((event) => describeEvent(event, now)),
      links: linksOf(incident),
      facts: factsOf(incident, now),
    };
  }

  async function deliveriesData() {
    const [counts, letters] = await Promise.all([
      deps.queueCounts().catch(() => ({}) as Record<string, Record<string, number>>),
      deps.deadLetters.list({ limit: 50 }).catch(() => [] as DeadLetter[]),
    ]);
    const now = Date.now();
    return {
      queues: Object.entries(counts).map(([queue, states]) => ({ queue, ...states })),
      deadLetters: letters.map((letter) => ({
        id: letter.id,
        queue: letter.queue,
        what: describeDeadLetter(letter),
        incidentId: typeof letter.incidentId === 'string' ? letter.incidentId : null,
        reason: letter.reason,
        attempts: letter.attempts,
        failedAt: letter.failedAt ? formatTime(letter.failedAt, now) : '',
      })),
    };
  }

  function routingData() {
    const masked = deps.routing.maskedConfig();
    const now = Date.now();
    const { file, hash, loadedAt, ...config } = masked;
    return {
      file,
      hash,
      loadedAt: formatTime(loadedAt, now) ?? loadedAt,
      yaml: stringify(config),
      example: 'alertname=MaestroSLOErrorBudgetBurn\nslo=database-availability\nseverity=critical\nlong_window=1h',
    };
  }

  function routingTest(labelsText: string, atText: string): { lines: string[]; error: string | null } {
    const labels: Record<string, string> = {};
    for (const [i, raw] of labelsText.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) return { lines: [], error: `line ${i + 1}: expected name=value, got ${JSON.stringify(line)}` };
      labels[line.slice(0, eq).trim()] = line
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
    }
    if (Object.keys(labels).length === 0) return { lines: [], error: 'give at least one label, as name=value' };
    const at = atText.trim() ? new Date(atText.trim()) : new Date();
    if (Number.isNaN(at.getTime())) return { lines: [], error: `not a time: ${JSON.stringify(atText)}` };
    const lines = explainRouting(deps.routing.current(), deps.catalog, { labels, at, explain: true, defaultSeverity: deps.defaultSeverity });
    return { lines, error: null };
  }

  return router;
}

function filtersOf(req: Request): IncidentFilters {
  const q = req.query;
  const state = q.state === 'open' || q.state === 'resolved' ? q.state : '';
  const severity = q.severity === 'critical' || q.severity === 'warning' || q.severity === 'info' ? q.severity : '';
  const slo = typeof q.slo === 'string' ? q.slo.slice(0, 100) : '';
  return { state, slo, severity };
}

function limitOf(req: Request): number {
  const limit = Number(req.query.limit);
  return Number.isInteger(limit) && limit >= 1 && limit <= 1_000 ? limit : DEFAULT_ROWS;
}

/** Only a path of this router: never an open redirect. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\w\-./?=&%]*$/.test(value) && !value.startsWith('/login') ? value : '/';
}

function crossSite(req: Request): boolean {
  // Browsers say where a request comes from (Fetch Metadata); older ones send Origin only.
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  if (site === 'same-origin' || site === 'none') return false;
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

function describeDeadLetter(letter: DeadLetter): string {
  if (typeof letter.incidentId === 'string') return `sync of incident ${letter.incidentId.slice(0, 8)} to ${String(letter.receiver)}`;
  const alerts = typeof letter.alerts === 'number' ? `${letter.alerts} alert${letter.alerts === 1 ? '' : 's'}` : 'unparsable body';
  return `webhook, ${alerts}${typeof letter.groupKey === 'string' ? `, group ${letter.groupKey}` : ''}`;
}

function linksOf(incident: Incident): Array<{ label: string; href: string }> {
  const links: Array<{ label: string; href: string }> = [];
  const add = (label: string, href: string | null) => {
    if (href && /^https?:\/\//i.test(href)) links.push({ label, href });
  };
  add('Runbook', incident.links.runbookUrl);
  add('Dashboard', incident.links.dashboardUrl);
  add('Prometheus expression', incident.links.generatorUrl);
  add('Alertmanager', incident.links.alertmanagerUrl);
  return links;
}

function factsOf(incident: Incident, now: number): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  if (incident.slo) facts.push(['SLO', `${incident.slo}${incident.objective !== null ? `: ${incident.objective}% over ${incident.period}` : ''}`]);
  if (incident.sloDescription) facts.push(['Objective', incident.sloDescription]);
  if (incident.service) facts.push(['Service', incident.service]);
  facts.push(['Opened', formatTime(incident.openedAt, now) ?? incident.openedAt]);
  if (incident.resolvedAt) {
    facts.push(['Resolved', `${formatTime(incident.resolvedAt, now)} after ${formatSpan(Date.parse(incident.resolvedAt) - Date.parse(incident.openedAt))}`]);
  }
  if (incident.peakBurnRate !== null) facts.push(['Peak burn', `${incident.peakBurnRate.toFixed(1)}x`]);
  facts.push(['Route', incident.policy.route]);
  facts.push([
    'Incident key',
    Object.entries(incident.keyLabels)
      .map(([name, value]) => `${name}=${value}`)
      .join(', '),
  ]);
  return facts;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type { Caller };
