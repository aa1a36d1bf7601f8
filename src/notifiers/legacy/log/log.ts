import type { Logger } from '../../../observability/logger.js';
import { episodeId } from '../episode.js';
import type { ChannelKind, DeliveryReceipt, Notification, Notifier } from '../../types.js';

export interface LogNotifierOptions {
  kind: ChannelKind;
  receiver: string;
  logger: Logger;
  /** What the channel would send for this notification; carries no credentials. */
  render: (notification: Notification) => unknown;
}

/**
 * Stands in for a channel that has no credentials: logs exactly what would have been sent,
 * so a fresh machine shows the whole flow without talking to anyone.
 */
export class LogNotifier implements Notifier {
  readonly kind: ChannelKind;
  readonly dryRun = true;
  private readonly logger: Logger;

  constructor(private readonly options: LogNotifierOptions) {
    this.kind = options.kind;
    this.logger = options.logger.child({ receiver: options.receiver, channel: options.kind });
  }

  async send(notification: Notification): Promise<DeliveryReceipt> {
    const { alert } = notification;
    this.logger.info(
      { dryRun: true, fingerprint: alert.fingerprint, status: alert.status, wouldSend: this.options.render(notification) },
      `dry run: ${this.kind} has no credentials, logging instead of sending`,
    );
    return { id: `dry-run:${episodeId(notification)}`, action: 'logged' };
  }

  async close(): Promise<void> {}
}
