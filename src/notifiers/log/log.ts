import type { ChannelKind } from '../../domain/channels.js';
import type { SyncDecision } from '../../incidents/types.js';
import type { Logger } from '../../observability/logger.js';
import type { IncidentNotifier, SyncContext, SyncResult } from '../types.js';

export interface LogNotifierOptions {
  kind: ChannelKind;
  receiver: string;
  logger: Logger;
  /** The decisions the channel it stands in for acts on, and its update interval. */
  interests: ReadonlySet<SyncDecision>;
  minUpdateIntervalMs: number;
  /** What the channel would send for this sync; carries no credentials. */
  render: (context: SyncContext) => unknown;
}

/**
 * Stands in for a channel that has no credentials: logs exactly what that channel would send about
 * the incident, so a fresh machine shows the whole flow without talking to anyone.
 */
export class LogNotifier implements IncidentNotifier {
  readonly kind: ChannelKind;
  readonly dryRun = true;
  readonly interests: ReadonlySet<SyncDecision>;
  readonly minUpdateIntervalMs: number;
  private readonly logger: Logger;

  constructor(private readonly options: LogNotifierOptions) {
    this.kind = options.kind;
    this.interests = options.interests;
    this.minUpdateIntervalMs = options.minUpdateIntervalMs;
    this.logger = options.logger.child({ receiver: options.receiver, channel: options.kind });
  }

  async notify(context: SyncContext): Promise<SyncResult> {
    const { incident, decision } = context;
    this.logger.info(
      {
        dryRun: true,
        incident: incident.id,
        state: incident.state,
        severity: incident.severity,
        decision,
        wouldSend: this.options.render(context),
      },
      `dry run: ${this.kind} has no credentials, logging instead of sending`,
    );
    return { action: 'logged', receipt: { log: { id: `dry-run:${incident.id}:${context.receiver}` } } };
  }

  async close(): Promise<void> {}
}
