import { type Job, Queue, Worker } from 'bullmq';
import type { SloCatalog } from '../alerts/slo-catalog.js';
import type { Config } from '../config/env.js';
import { INCIDENT_RETENTION_MS, type IncidentStore } from '../incidents/store.js';
import type { Logger } from '../observability/logger.js';
import { PrometheusClient } from '../prometheus/client.js';
import { queuePrefix } from '../queue/keys.js';
import type { RedisClient } from '../queue/redis.js';
import { buildWeeklyReport, type ReportSources } from './build.js';
import { composeReportMail, sendReportMail } from './mail.js';
import type { WeeklyReport } from './model.js';
import { lastCompleteWeek, parseWeek, weekOf, weeksBefore } from './week.js';

/** The bullmq queue of the weekly report's runs, and its job scheduler's id. */
export const REPORT_QUEUE = 'report';
export const REPORT_SCHEDULER_ID = 'weekly-slo-report';
/** How long a week's mail is held by the run sending it; a run that died holding it lets a retry send again after. */
const SENDING_LOCK_MS = 10 * 60_000;
/** How long a week's "sent" mark is kept: past any retry of that week. */
const SENT_MARK_MS = 60 * 24 * 3_600_000;

export interface ReportDeps {
  config: Pick<Config, 'prometheus' | 'report'>;
  catalog: SloCatalog;
  incidents: Pick<IncidentStore, 'openedBetween' | 'timeline'>;
  now?: () => number;
}

export interface AvailableWeek {
  week: string;
  start: string;
  end: string;
  /** Whether the router still holds every incident of the week (kept 40 days). */
  incidentsComplete: boolean;
}

/** What the API, the CLI and the scheduled mail ask of the report. */
export class ReportService {
  constructor(private readonly deps: ReportDeps) {}

  get timeZone(): string {
    return this.deps.config.report.timeZone;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private sources(): ReportSources {
    const { prometheus } = this.deps.config;
    return {
      catalog: this.deps.catalog,
      incidents: this.deps.incidents,
      prometheus:
        prometheus.url === undefined
          ? null
          : {
              url: prometheus.url,
              client: new PrometheusClient({ url: prometheus.url, bearerToken: prometheus.bearerToken, timeoutMs: prometheus.timeoutMs }),
            },
      now: () => this.now(),
    };
  }

  /** The week "2026-W49" (WeekError when malformed), or the last complete week. */
  week(id?: string) {
    return id === undefined ? lastCompleteWeek(this.now(), this.timeZone) : parseWeek(id, this.timeZone);
  }

  build(weekId: string | undefined, requirePrometheus: boolean): Promise<WeeklyReport> {
    return buildWeeklyReport(this.sources(), this.week(weekId), { requirePrometheus });
  }

  /** The complete weeks whose incidents the router may still hold, newest first, then the week in progress. */
  weeks(): { timeZone: string; default: string; current: AvailableWeek; weeks: AvailableWeek[] } {
    const now = this.now();
    const current = weekOf(now, this.timeZone);
    const describe = (week: ReturnType<typeof weekOf>): AvailableWeek => ({
      week: week.id,
      start: new Date(week.start).toISOString(),
      end: new Date(week.end).toISOString(),
      incidentsComplete: week.start >= now - INCIDENT_RETENTION_MS && week.end <= now,
    });
    const weeks: AvailableWeek[] = [];
    for (let back = 1; ; back++) {
      const week = weeksBefore(current, back);
      if (week.end <= now - INCIDENT_RETENTION_MS) break;
      weeks.push(describe(week));
    }
    return { timeZone: this.timeZone, default: weeks[0]!.week, current: describe(current), weeks };
  }
}

export interface ReportSchedulerDeps {
  service: ReportService;
  connection: RedisClient;
  prefix: string;
  config: Pick<Config, 'report' | 'channels' | 'delivery'>;
  logger: Logger;
  /** Test hook: every run, whoever ran it and what it did. */
  onRun?: (run: { jobId: string; week: string; outcome: 'sent' | 'already_sent' | 'retrying'; messageId?: string }) => void;
}

export interface ReportScheduler {
  queue: Queue;
  close(): Promise<void>;
}

/**
 * The weekly mail: a bullmq job scheduler (REPORT_SCHEDULE in REPORT_TIME_ZONE) makes one job per
 * scheduled time whatever the number of replicas (each upserts the same scheduler; one job id per
 * time), and one worker takes each job. A run whose Prometheus fails is retried (REPORT_ATTEMPTS,
 * REPORT_RETRY_DELAY); the last attempt mails the report with the Prometheus part marked unavailable.
 * A week is mailed once: a run takes the week's mark (SET NX) before sending and marks it sent after.
 * Without REPORT_EMAIL_TO or SMTP_URL nothing is scheduled, and a scheduler left by an earlier
 * configuration is removed.
 */
export async function startReportScheduler(deps: ReportSchedulerDeps): Promise<ReportScheduler | null> {
  const { config, logger, connection, prefix } = deps;
  const queue = new Queue(REPORT_QUEUE, { connection, prefix: queuePrefix(prefix, REPORT_QUEUE) });
  const smtpUrl = config.channels.email.smtpUrl;
  if (config.report.emailTo.length === 0 || smtpUrl === undefined) {
    await queue.removeJobScheduler(REPORT_SCHEDULER_ID);
    await queue.close();
    logger.info(
      { reportEmailTo: config.report.emailTo.length > 0, smtp: smtpUrl !== undefined },
      'weekly SLO report mail off: set REPORT_EMAIL_TO and SMTP_URL to send it',
    );
    return null;
  }
  const { schedule, timeZone, attempts, retryDelayMs, emailTo } = config.report;
  await queue.upsertJobScheduler(
    REPORT_SCHEDULER_ID,
    { pattern: schedule, tz: timeZone },
    { name: 'weekly-report', data: {}, opts: { attempts, backoff: { type: 'fixed', delay: retryDelayMs }, removeOnComplete: 100, removeOnFail: 100 } },
  );
  // Beside the queue's keys, under its hash tag.
  const mark = (week: string) => `${queuePrefix(prefix, REPORT_QUEUE)}:mail:${week}`;

  const worker = new Worker(
    REPORT_QUEUE,
    async (job: Job) => {
      const week = deps.service.week();
      const last = job.attemptsMade + 1 >= attempts;
      // Built before the mark is taken: a Prometheus failure on an early attempt retries the job.
      let report: WeeklyReport;
      try {
        report = await deps.service.build(week.id, !last);
      } catch (error) {
        deps.onRun?.({ jobId: job.id!, week: week.id, outcome: 'retrying' });
        logger.warn(
          { week: week.id, attempt: job.attemptsMade + 1, attempts, err: (error as Error).message },
          'weekly SLO report: Prometheus failed; retrying',
        );
        throw error;
      }
      const taken = await connection.set(mark(week.id), 'sending', 'PX', SENDING_LOCK_MS, 'NX');
      if (taken === null) {
        deps.onRun?.({ jobId: job.id!, week: week.id, outcome: 'already_sent' });
        logger.info({ week: week.id, job: job.id }, 'weekly SLO report already sent (or being sent) for this week');
        return;
      }
      try {
        const messageId = await sendReportMail(composeReportMail(report), {
          url: smtpUrl,
          from: config.channels.email.from,
          to: emailTo,
          timeoutMs: config.delivery.timeoutMs,
        });
        await connection.set(mark(week.id), 'sent', 'PX', SENT_MARK_MS);
        deps.onRun?.({ jobId: job.id!, week: week.id, outcome: 'sent', messageId });
        logger.info({ week: week.id, to: emailTo, messageId, prometheus: report.prometheus.available }, 'weekly SLO report sent');
      } catch (error) {
        await connection.del(mark(week.id));
        throw error;
      }
    },
    { connection, prefix: queuePrefix(prefix, REPORT_QUEUE), concurrency: 1 },
  );
  worker.on('error', (error) => logger.warn({ err: error.message }, 'weekly SLO report worker error'));
  logger.info({ schedule, timeZone, to: emailTo }, 'weekly SLO report scheduled');
  return {
    queue,
    close: async () => {
      await worker.close();
      await queue.close();
    },
  };
}
