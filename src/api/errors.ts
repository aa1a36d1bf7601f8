import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from '../observability/logger.js';

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

/** The one error format of the HTTP edge: { "error": { "code", "message" } }. */
export function sendError(res: Response, error: ApiError): void {
  res.status(error.status).json({ error: { code: error.code, message: error.message } });
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof ApiError) return sendError(res, err);
    // express raises these for malformed URLs and the like: the client's fault.
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err, path: req.path }, 'unhandled error');
    sendError(res, new ApiError(status, status === 500 ? 'internal' : 'bad_request', status === 500 ? 'internal error' : String(err.message)));
  };
}
