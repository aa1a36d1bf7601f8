/**
 * Processing yields to accepting when both share one process (ROLE=all). Accepting a webhook is
 * cheap and Alertmanager waits for its answer; processing one costs several times as much and can
 * wait a few seconds. While webhooks arrive faster than `busyRate` a second, the ingest worker
 * processes `busy` webhooks at a time, leaving the event loop to the webhook; otherwise `idle`, which
 * drains a backlog faster (the webhooks processed at once share their writes: bench/RESULTS.md).
 */
export interface IngestPaceSettings {
  idle: number;
  busy: number;
  busyRate: number;
}

/** The rate is judged over this window, so a burst slows processing within a quarter of a second. */
const WINDOW_MS = 250;

export class IngestPace {
  private acceptedInWindow = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly settings: IngestPaceSettings) {}

  /** The webhook calls this for every webhook it accepted. */
  readonly accepted = (): void => {
    this.acceptedInWindow++;
  };

  /** Sets `worker`'s concurrency from the rate of each window, until stopped. */
  drive(worker: { concurrency: number }): void {
    const { idle, busy, busyRate } = this.settings;
    this.timer = setInterval(() => {
      const rate = (this.acceptedInWindow * 1_000) / WINDOW_MS;
      this.acceptedInWindow = 0;
      const concurrency = rate > busyRate ? busy : idle;
      if (worker.concurrency !== concurrency) worker.concurrency = concurrency;
    }, WINDOW_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
