import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IngestPace } from '../../src/queue/ingest-pace.js';

describe('ingest pace: processing yields to accepting in one process', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('processes few webhooks at a time while they arrive fast, and many once they slow down', () => {
    const pace = new IngestPace({ idle: 16, busy: 2, busyRate: 200 });
    const worker = { concurrency: 16 };
    pace.drive(worker);
    try {
      // 60 in a quarter of a second: 240 a second, above the 200 that count as busy.
      for (let i = 0; i < 60; i++) pace.accepted();
      vi.advanceTimersByTime(250);
      expect(worker.concurrency).toBe(2);
      // 50 in the next quarter: 200 a second, not above it.
      for (let i = 0; i < 50; i++) pace.accepted();
      vi.advanceTimersByTime(250);
      expect(worker.concurrency).toBe(16);
      for (let i = 0; i < 100; i++) pace.accepted();
      vi.advanceTimersByTime(250);
      expect(worker.concurrency).toBe(2);
      // Quiet: each window starts from nothing.
      vi.advanceTimersByTime(250);
      expect(worker.concurrency).toBe(16);
    } finally {
      pace.stop();
    }
    for (let i = 0; i < 100; i++) pace.accepted();
    vi.advanceTimersByTime(1_000);
    expect(worker.concurrency).toBe(16);
  });
});
