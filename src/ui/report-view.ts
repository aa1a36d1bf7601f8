import type { WeeklyReport } from '../report/model.js';
import { duration, percent, weekSpan } from '../report/render.js';

/** One row of the Reports view: an SLO's week, as the review reads it. */
export interface ReportRow {
  slo: string;
  objective: string;
  sliWeek: string;
  budgetLeft: string;
  consumedThisWeek: string;
  consumedPreviousWeek: string;
  verdict: string;
  incidents: number;
  pages: number;
  firing: string;
  acknowledge: string;
}

export interface ReportView {
  week: string;
  span: string;
  prometheusNote: string | null;
  incidentsComplete: boolean;
  rows: ReportRow[];
  priorities: string[];
  /** The full report (HTML with its burn-down charts, Markdown) from the API. */
  htmlUrl: string;
  markdownUrl: string;
}

const VERDICT: Record<string, string> = { reliability_work_first: 'reliability work first', at_risk: 'at risk', healthy: 'healthy', unknown: 'unknown' };

/** The weekly review as the Reports view shows it: the summary table, the priorities, links to the whole report. */
export function reportView(report: WeeklyReport): ReportView {
  const query = `week=${encodeURIComponent(report.week)}`;
  return {
    week: report.week,
    span: weekSpan(report),
    prometheusNote: report.prometheus.available ? null : `Prometheus unavailable (${report.prometheus.error}): budget figures are missing, incidents are not.`,
    incidentsComplete: report.incidentsComplete,
    rows: report.slos.map((slo) => ({
      slo: slo.name,
      objective: `${slo.objective}% over ${slo.period}`,
      sliWeek: slo.figures.sliWeek === null ? 'n/a' : `${(slo.figures.sliWeek * 100).toFixed(3)}%`,
      budgetLeft: percent(slo.figures.budgetRemaining),
      consumedThisWeek: percent(slo.figures.consumedThisWeek),
      consumedPreviousWeek: percent(slo.figures.consumedPreviousWeek),
      verdict: VERDICT[slo.verdict] ?? slo.verdict,
      incidents: slo.incidents.count,
      pages: slo.incidents.pages,
      firing: duration(slo.incidents.firingSeconds),
      acknowledge: slo.incidents.acknowledge.medianSeconds === null ? 'n/a' : duration(slo.incidents.acknowledge.medianSeconds),
    })),
    priorities: report.priorities.map((entry) => `${entry.slo}: ${percent(entry.consumedThisWeek)} of its budget, ${VERDICT[entry.verdict] ?? entry.verdict}`),
    htmlUrl: `/api/v1/reports/weekly?${query}&format=html`,
    markdownUrl: `/api/v1/reports/weekly?${query}&format=markdown`,
  };
}
