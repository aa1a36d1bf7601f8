import type { Actor } from '../incidents/types.js';
import { SILENCE_BUTTONS, SLACK_ACTIONS } from '../notifiers/slack/message.js';
import type { SlackActionJobData } from '../queue/actions.js';
import { UnretryableActionError } from '../queue/actions.js';
import { type ActionDeps, ActionError, type ActionOutcome, acknowledge, silence, unsilence } from './actions.js';

export interface SlackActionDeps extends ActionDeps {
  /** Says `text` to the user who clicked, only to them (Slack's response_url, `ephemeral`). */
  respond: (responseUrl: string, text: string) => Promise<void>;
}

/**
 * Does what a Slack button asked, from the queue. What cannot be done (an Alertmanager that does
 * not answer, a resolved incident) is said to the user who clicked, in an ephemeral message, and
 * nothing half-done is recorded; the message itself changes through the incident's syncs.
 */
export async function runSlackAction(data: SlackActionJobData, deps: SlackActionDeps): Promise<void> {
  const actor: Actor = { name: data.user.name, id: data.user.id, via: 'slack' };
  const log = deps.logger.child({ incident: data.incidentId, action: data.action, slackUser: data.user.id });
  let outcome: ActionOutcome;
  try {
    outcome = await perform(data, actor, deps);
  } catch (error) {
    if (!(error instanceof ActionError)) throw error;
    log.warn({ reason: error.reason, err: error.message }, 'Slack action not done');
    await tell(data, deps, `:warning: ${error.message}`, log);
    return;
  }
  log.info({ changed: outcome.changed }, outcome.changed ? 'Slack action done' : 'Slack action changed nothing (done already)');
}

function perform(data: SlackActionJobData, actor: Actor, deps: ActionDeps): Promise<ActionOutcome> {
  const silenceFor = SILENCE_BUTTONS[data.action as keyof typeof SILENCE_BUTTONS];
  if (data.action === SLACK_ACTIONS.acknowledge) return acknowledge(data.incidentId, actor, deps);
  if (data.action === SLACK_ACTIONS.unsilence) return unsilence(data.incidentId, actor, deps);
  if (silenceFor !== undefined) return silence(data.incidentId, actor, { durationMs: silenceFor, comment: '' }, deps);
  // The request URL takes only known actions: a job with another one is not ours to guess at.
  throw new UnretryableActionError(`unknown Slack action ${JSON.stringify(data.action)}`);
}

async function tell(data: SlackActionJobData, deps: SlackActionDeps, text: string, log: SlackActionDeps['logger']): Promise<void> {
  if (data.responseUrl === null) return;
  try {
    await deps.respond(data.responseUrl, text);
  } catch (error) {
    log.warn({ err: String(error) }, 'could not answer the Slack user (response_url)');
  }
}

/** Posts an ephemeral answer to a response_url within `timeoutMs`. */
export async function respondEphemeral(responseUrl: string, text: string, timeoutMs: number): Promise<void> {
  const response = await fetch(responseUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
}
