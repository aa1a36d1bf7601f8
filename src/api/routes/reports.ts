import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { burnDownSvg } from '../../report/chart.js';
import { renderHtml, renderMarkdown } from '../../report/render.js';
import type { ReportService } from '../../report/service.js';
import { WeekError } from '../../report/week.js';
import { ApiError } from '../errors.js';

export const reportQuery = z.strictObject({
  week: z.string().optional(),
  format: z.enum(['html', 'json', 'markdown']).default('json'),
});

export const chartQuery = z.strictObject({ week: z.string().optional(), slo: z.string().min(1) });

function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const result = schema.safeParse(query);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ApiError(400, 'invalid_query', `${issue.path.join('.') || '(query)'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * The weekly SLO review for the AlertCenter page, behind ADMIN_TOKEN:
 * GET /api/v1/reports/weeks                                     the weeks it can review (newest first) and the default
 * GET /api/v1/reports/weekly?week=2026-W49&format=json|html|markdown   one week's report (default: the last complete week, JSON)
 * GET /api/v1/reports/weekly/chart?week=2026-W49&slo=api-latency      one SLO's burn-down chart (image/svg+xml)
 * Prometheus unreachable: 200 with `prometheus.available: false` and the reason (the incidents are still there).
 */
export function reportsRouter(service: ReportService, adminAuth: RequestHandler): Router {
  const router = Router();
  const weekOrFail = (id: string | undefined) => {
    try {
      return service.week(id).id;
    } catch (error) {
      if (error instanceof WeekError) throw new ApiError(400, 'invalid_query', `week: ${error.message}`);
      throw error;
    }
  };
  router.get('/api/v1/reports/weeks', adminAuth, (_req, res) => {
    res.json(service.weeks());
  });
  router.get('/api/v1/reports/weekly', adminAuth, async (req, res) => {
    const query = parseQuery(reportQuery, req.query);
    const report = await service.build(weekOrFail(query.week), false);
    if (query.format === 'json') res.json(report);
    else if (query.format === 'markdown') res.type('text/markdown; charset=utf-8').send(renderMarkdown(report));
    else res.type('text/html; charset=utf-8').send(renderHtml(report));
  });
  router.get('/api/v1/reports/weekly/chart', adminAuth, async (req, res) => {
    const query = parseQuery(chartQuery, req.query);
    const report = await service.build(weekOrFail(query.week), false);
    const slo = report.slos.find((entry) => entry.name === query.slo);
    if (!slo) throw new ApiError(404, 'not_found', `no SLO named ${JSON.stringify(query.slo)} in the catalog`);
    const svg = burnDownSvg(slo, report.start);
    if (svg === null) throw new ApiError(503, 'prometheus_unavailable', report.prometheus.available ? 'no data for this SLO' : report.prometheus.error);
    res.type('image/svg+xml').send(svg);
  });
  return router;
}
