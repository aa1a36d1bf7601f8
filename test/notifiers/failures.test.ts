import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_AFTER_MS, Failures, parseRetryAfter } from '../../src/notifiers/failures.js';

const failures = new Failures('pagerduty', 'pager-api', ['R0UT1NGKEY-SECRET', 'abc', undefined]);

describe('Failures.fromStatus', () => {
  it.each([
    [429, 'rate_limited', true],
    [401, 'auth', false],
    [403, 'auth', false],
    [404, 'not_found', false],
    [408, 'timeout', true],
    [400, 'bad_request', false],
    [413, 'bad_request', false],
    [500, 'server_error', true],
    [503, 'server_error', true],
    [302, 'invalid_response', false],
  ])('HTTP %i is %s (retryable: %s)', (status, reason, retryable) => {
    expect(failures.fromStatus(status, '')).toMatchObject({ reason, retryable });
  });

  it('reads Retry-After on a 429 and falls back to 30 s', () => {
    expect(failures.fromStatus(429, '', '5').retryAfterMs).toBe(5000);
    expect(failures.fromStatus(429, '', null).retryAfterMs).toBe(DEFAULT_RETRY_AFTER_MS);
  });
});

describe('Failures messages', () => {
  it('name channel and receiver, stay on one line and cut out the credentials', () => {
    const error = failures.fromStatus(400, 'key R0UT1NGKEY-SECRET is invalid\r\nabc stays');

    expect(error.message).toBe('pagerduty receiver "pager-api": HTTP 400 key [redacted] is invalid abc stays');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');

  it.each([
    ['12', 12_000],
    [' 3 ', 3000],
    ['Fri, 27 Nov 2026 10:00:30 GMT', 30_000],
    ['Fri, 27 Nov 2026 09:00:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j -> %j ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});
