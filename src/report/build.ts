import type { SloCatalog } from '../alerts/slo-catalog.js';
import { INCIDENT_RETENTION_MS, type IncidentStore } from '../incidents/store.js';
import { displayUrl, type PrometheusClient, PrometheusError } from '../prometheus/client.js';
import { incidentFigures, summarizeIncident } from './incident-figures.js';
import type { SloFigures, SloReport, WeeklyReport } from './model.js';
import { computeSloFigures, NO_FIGURES, querySloSeries, verdictOf } from './slo-figures.js';
import type { IsoWeek } from './week.js';

export interface ReportSources {
  catalog: SloCatalog;
  incidents: Pick<IncidentStore, 'openedBetween' | 'timeline'>;
  /** Null when PROMETHEUS_URL is not set. */
  prometheus: { client: PrometheusClient; url: string } | null;
  now?: () => number;
}

export interface BuildOptions {
  /**
   * true (the CLI, the API): a Prometheus failure throws its PrometheusError. false (the scheduled
   * mail, after its retries): the report is made with the Prometheus part marked unavailable.
   */
  requirePrometheus: boolean;
}

/** The weekly SLO review of one week: every SLO of the catalog, its figures from Prometheus and its incidents. */
export async function buildWeeklyReport(sources: ReportSources, week: IsoWeek, options: BuildOptions): Promise<WeeklyReport> {
  const now = (sources.now ?? Date.now)();
  const { catalog } = sources;

  let figures: SloFigures[] | null = null;
  let prometheus: WeeklyReport['prometheus'];
  if (sources.prometheus === null) {
    if (options.requirePrometheus) throw new PrometheusError('PROMETHEUS_URL is not set: the report reads the SLO figures from Prometheus');
    prometheus = { available: false, url: null, error: 'PROMETHEUS_URL is not set' };
  } else {
    const { client, url } = sources.prometheus;
    try {
      const series = await Promise.all(catalog.slos.map((slo) => querySloSeries(client, slo, week)));
      figures = catalog.slos.map((slo, i) => computeSloFigures(slo, week, series[i]!));
      prometheus = { available: true, url: displayUrl(url) };
    } catch (error) {
      if (options.requirePrometheus || !(error instanceof PrometheusError)) throw error;
      prometheus = { available: false, url: displayUrl(url), error: error.message };
    }
  }

  const opened = await sources.incidents.openedBetween(week.start, week.end);
  const timelines = await Promise.all(opened.map((incident) => sources.incidents.timeline(incident.id)));

  const slos: SloReport[] = catalog.slos.map((slo, i) => {
    const sloFigures = figures?.[i] ?? NO_FIGURES;
    const summaries = opened.flatMap((incident, j) => (incident.slo === slo.name ? [summarizeIncident(incident, timelines[j]!, week, now)] : []));
    return {
      name: slo.name,
      service: slo.service,
      description: slo.description,
      objective: slo.objective,
      period: slo.period,
      periodSeconds: slo.periodSeconds,
      dashboardUrl: slo.dashboard_url ?? null,
      runbookUrl: slo.runbook_url ?? null,
      figures: sloFigures,
      incidents: incidentFigures(summaries),
      verdict: verdictOf(sloFigures.budgetRemaining),
    };
  });

  const priorities = slos
    .map((slo) => ({ slo: slo.name, consumedThisWeek: slo.figures.consumedThisWeek, verdict: slo.verdict }))
    .sort((a, b) => (b.consumedThisWeek ?? -Infinity) - (a.consumedThisWeek ?? -Infinity));

  return {
    week: week.id,
    timeZone: week.timeZone,
    start: new Date(week.start).toISOString(),
    end: new Date(week.end).toISOString(),
    generatedAt: new Date(now).toISOString(),
    prometheus,
    incidentsComplete: week.start >= now - INCIDENT_RETENTION_MS && week.end <= now,
    slos,
    priorities,
  };
}
