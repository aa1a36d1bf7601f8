import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetters } from '../../src/queue/dead-letters.js';
import { createWorkerConnection } from '../../src/queue/redis.js';
import { cleanRedis, eventually, REDIS_URL, testPrefix } from '../support/router.js';

/** Two queues whose every job fails for good: their dead letters through one DeadLetters. */
describe('DeadLetters across queues', () => {
  const prefix = testPrefix();
  const connection = createWorkerConnection(REDIS_URL);
  const queues = ['first', 'second'].map((name) => new Queue<{ n: number }>(name, { connection, prefix, skipVersionCheck: true }));
  const workers = queues.map(
    (queue) =>
      new Worker<{ n: number }>(
        queue.name,
        async (job) => {
          throw new UnrecoverableError(`job ${job.data.n} refused`);
        },
        { connection, prefix, skipVersionCheck: true },
      ),
  );
  const deadLetters = new DeadLetters(queues.map((queue) => ({ queue, describe: (job) => ({ n: job.data.n }) })));
  const [first, second] = queues as [Queue<{ n: number }>, Queue<{ n: number }>];

  /** Adds a job and waits until it is a dead letter, so that failure times follow the order of the calls. */
  const fail = async (queue: Queue<{ n: number }>, n: number, jobId: string) => {
    await queue.add('job', { n }, { jobId, removeOnFail: { count: 100 } });
    await eventually(async () => (await queue.getJobState(jobId)) === 'failed', 5_000, `job ${n} to fail`);
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct finishedOn milliseconds
  };

  beforeAll(async () => {
    await fail(first, 1, 'same');
    await fail(second, 2, 'same');
    await fail(second, 3, 'only-second');
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close(true)));
    await Promise.all(queues.map((queue) => queue.close()));
    await cleanRedis(prefix);
    connection.disconnect();
  });

  it('lists the failed jobs of every queue newest first, with the common fields and the described ones', async () => {
    const listed = await deadLetters.list();
    expect(listed.map(({ queue, id, n }) => [queue, id, n])).toEqual([
      ['second', 'only-second', 3],
      ['second', 'same', 2],
      ['first', 'same', 1],
    ]);
    expect(listed[0]).toMatchObject({ reason: 'job 3 refused', attempts: 1 });
    expect(Date.parse(listed[0]!.failedAt!)).toBeGreaterThanOrEqual(Date.parse(listed[1]!.failedAt!));
    expect((await deadLetters.list({ limit: 2 })).map(({ n }) => n)).toEqual([3, 2]);
    expect((await deadLetters.list({ queue: 'first' })).map(({ n }) => n)).toEqual([1]);
  });

  it('re-drives by id alone when one queue has it, asks for the queue when several do, and finds nothing else', async () => {
    expect(await deadLetters.retry('same')).toEqual({ outcome: 'ambiguous', queues: ['first', 'second'] });
    expect(await deadLetters.retry('nothing')).toEqual({ outcome: 'not_found' });
    expect(await deadLetters.retry('only-second', 'first')).toEqual({ outcome: 'not_found' });

    const retried = await deadLetters.retry('same', 'first');
    expect(retried).toMatchObject({ outcome: 'retried', deadLetter: { queue: 'first', id: 'same', n: 1, attempts: 1 } });
    // Run again, and refused again: a dead letter once more, after its second attempt.
    await eventually(
      async () => (await first.getJob('same'))?.attemptsMade === 2 && (await first.getJobState('same')) === 'failed',
      5_000,
      'the re-driven job to fail again',
    );
    expect((await deadLetters.retry('only-second')).outcome).toBe('retried');
  });
});
