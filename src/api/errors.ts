import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { isRedisUnavailable } from '../queue/redis.js';

/** A refusal with its HTTP status and a stable machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What express's res.json sends, without express (the webhook is served from node:http). */
export function replyJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The one error format of the HTTP edge: { "error": { "code", "message" } }. */
export function sendError(res: ServerResponse, error: ApiError): void {
  replyJson(res, error.status, { error: { code: error.code, message: error.message } });
}

/** Anything thrown by a route, as the ApiError to answer with; the unexpected is logged and is a 500. */
export function asApiError(err: unknown, logger: Logger, path: string): ApiError {
  if (err instanceof ApiError) return err;
  // Redis down, failing over or too slow: the admin API says so in its own shape, and a client retries.
  if (isRedisUnavailable(err)) return new ApiError(503, 'unavailable', `Redis is unreachable right now (${(err as Error).message}); retry later`);
  // express raises these for malformed URLs and the like: the client's fault.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new ApiError(status, 'bad_request', String((err as Error).message));
  logger.error({ err, path }, 'unhandled error');
  return new ApiError(500, 'internal', 'internal error');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    sendError(res, asApiError(err, logger, req.path));
  };
}
