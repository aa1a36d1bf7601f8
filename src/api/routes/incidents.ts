import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { IncidentStore } from '../../incidents/store.js';
import type { Incident, TimelineEvent, Told } from '../../incidents/types.js';
import { ApiError } from '../errors.js';

export const incidentListQuery = z.strictObject({
  state: z.enum(['open', 'resolved']).optional(),
  slo: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Where a receiver stands with an incident, from its notification log and the incident's timeline. */
export interface ReceiverView {
  route: string;
  routedNow: boolean;
  /**
   * sent: up to date with the incident's latest state; pending: a change not sent yet; retrying /
   * dead_lettered: the last attempt failed; not_notified: never told, and nothing to tell it.
   */
  status: 'pending' | 'sent' | 'retrying' | 'dead_lettered' | 'not_notified';
  told: Told | null;
  lastFailure: { at: string; reason: string; error: string } | null;
}

/**
 * Incidents for the Maestro AlertCenter, behind ADMIN_TOKEN.
 * GET /api/v1/incidents?state=open|resolved&slo=&limit=   open first, then newest
 * GET /api/v1/incidents/:id                               state, tiers, alerts (the first 1,000), timeline, and per receiver what was sent
 */
export function incidentsRouter(store: IncidentStore, adminAuth: RequestHandler): Router {
  const router = Router();
  router.get('/api/v1/incidents', adminAuth, async (req, res) => {
    const query = incidentListQuery.safeParse(req.query);
    if (!query.success) {
      const issue = query.error.issues[0]!;
      throw new ApiError(400, 'invalid_query', `${issue.path.join('.') || '(query)'}: ${issue.message}`);
    }
    res.json({ incidents: await store.list(query.data) });
  });
  router.get('/api/v1/incidents/:id', adminAuth, async (req, res) => {
    const id = String(req.params.id);
    const incident = await store.get(id);
    if (!incident) throw new ApiError(404, 'not_found', `no incident with id ${JSON.stringify(id)}`);
    const [timeline, told, alerts] = await Promise.all([store.timeline(id), store.told(id), store.alerts(id)]);
    res.json({ incident: { ...incident, alerts }, timeline, receivers: receiverViews(incident, told, timeline) });
  });
  return router;
}

export function receiverViews(incident: Incident, told: Record<string, Told>, timeline: readonly TimelineEvent[]): Record<string, ReceiverView> {
  const views: Record<string, ReceiverView> = {};
  for (const [name, receiver] of Object.entries(incident.receivers)) {
    const entry = told[name] ?? null;
    const last = [...timeline].reverse().find((event) => 'receiver' in event && event.receiver === name);
    const failure = [...timeline]
      .reverse()
      .find((event) => (event.kind === 'notification_failed' || event.kind === 'notification_dead_lettered') && event.receiver === name);
    const status: ReceiverView['status'] =
      last?.kind === 'notification_dead_lettered'
        ? 'dead_lettered'
        : last?.kind === 'notification_failed'
          ? 'retrying'
          : entry !== null
            ? entry.rev >= incident.rev
              ? 'sent'
              : 'pending'
            : receiver.routedNow && incident.state === 'open'
              ? 'pending'
              : 'not_notified';
    views[name] = {
      route: receiver.route,
      routedNow: receiver.routedNow,
      status,
      told: entry,
      lastFailure: failure && 'reason' in failure ? { at: failure.at, reason: failure.reason, error: failure.error } : null,
    };
  }
  return views;
}
