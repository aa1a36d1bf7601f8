import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import type { Actor } from '../../incidents/types.js';
import { type ActionDeps, ActionError, type ActionOutcome, acknowledge, silence, unacknowledge, unsilence } from '../../pipeline/actions.js';
import { callerOf } from '../../ui/access.js';
import { readJsonBody } from '../body.js';
import { ApiError } from '../errors.js';

/**
 * Who acts: shown on the timeline and in Slack; Alertmanager's `createdBy` for a silence. Optional
 * for a signed-in page, whose user is the actor; a script with the bearer token names itself.
 */
const by = z.string().trim().min(1).max(100).optional();

export const actionRequest = z.strictObject({ by });

/** Longest silence: longer ones belong in Alertmanager's own form, with matchers chosen by hand. */
const MAX_SILENCE_MS = 7 * 24 * 3_600_000;

export const silenceRequest = z.strictObject({
  by,
  for: z.string().transform((text, ctx) => {
    const ms = parseDuration(text.trim());
    if (ms === null || ms <= 0 || ms > MAX_SILENCE_MS) {
      ctx.addIssue({ code: 'custom', message: `expected a duration from 1s to 7d such as 1h or 30m, got ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return ms;
  }),
  comment: z.string().max(1000).default(''),
});

const STATUS: Record<ActionError['reason'], [number, string]> = {
  not_found: [404, 'not_found'],
  resolved: [409, 'incident_resolved'],
  already_silenced: [409, 'already_silenced'],
  alertmanager_unavailable: [502, 'alertmanager_unavailable'],
};

/**
 * On-call's actions on an incident, for the AlertCenter page and scripts, behind ADMIN_TOKEN; the
 * same effects as Slack's buttons. Each answers 200 `{"incident": ..., "changed": true|false}`.
 * POST /api/v1/incidents/:id/ack        {"by": "alice"}
 * POST /api/v1/incidents/:id/unack      {"by": "alice"}
 * POST /api/v1/incidents/:id/silence    {"by": "alice", "for": "1h", "comment": "deploying the fix"}
 * POST /api/v1/incidents/:id/unsilence  {"by": "alice"}
 */
export function incidentActionsRouter(deps: ActionDeps, adminAuth: RequestHandler): Router {
  const router = Router();
  const route = <T extends z.ZodType<{ by?: string | undefined }>>(
    action: string,
    schema: T,
    act: (id: string, actor: Actor, body: z.output<T>) => Promise<ActionOutcome>,
  ) => {
    router.post(`/api/v1/incidents/:id/${action}`, adminAuth, async (req, res) => {
      const parsed = schema.safeParse((await readJsonBody(req, 16 * 1024)).value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ApiError(400, 'invalid_body', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
      }
      // The body's `by`, else who signed in to the page (set by the access check, src/ui/access.ts).
      const caller = callerOf(res);
      const name = parsed.data.by ?? (caller?.via === 'session' ? caller.actor : undefined);
      if (name === undefined) throw new ApiError(400, 'invalid_body', 'by: name who acts (a bearer token has no user to name)');
      const actor: Actor = { name, id: null, via: 'api' };
      try {
        res.json(await act(String(req.params.id), actor, parsed.data));
      } catch (error) {
        if (!(error instanceof ActionError)) throw error;
        const [status, code] = STATUS[error.reason];
        throw new ApiError(status, code, error.message);
      }
    });
  };
  route('ack', actionRequest, (id, actor) => acknowledge(id, actor, deps));
  route('unack', actionRequest, (id, actor) => unacknowledge(id, actor, deps));
  route('silence', silenceRequest, (id, actor, body) => silence(id, actor, { durationMs: body.for, comment: body.comment }, deps));
  route('unsilence', actionRequest, (id, actor) => unsilence(id, actor, deps));
  return router;
}
