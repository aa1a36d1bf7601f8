import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Bearer token, or HTTP basic auth with the token as password (Alertmanager's basic_auth). */
function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/**
 * Whether an Authorization header carries one of `tokens`, in constant time: every token is
 * compared (by digest, so lengths never leak) whatever matched before. An empty list means the
 * endpoint is open, which the config only allows on a loopback address.
 */
export function tokenCheck(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const expected = tokens.map(digest);
  return (authorization) => {
    if (expected.length === 0) return true;
    const token = presentedToken(authorization);
    const presented = digest(token ?? '');
    let matched = false;
    for (const candidate of expected) matched = timingSafeEqual(candidate, presented) || matched;
    return Boolean(token) && matched;
  };
}

export const unauthorized = (realm: string): ApiError => new ApiError(401, 'unauthorized', `missing or invalid ${realm} credentials`);

/** Express middleware over `tokenCheck`: 401 unless the request carries one of `tokens`. */
export function requireToken(tokens: readonly string[], realm: string, onRefused?: () => void): RequestHandler {
  const allowed = tokenCheck(tokens);
  return (req, _res, next) => {
    if (allowed(req.headers.authorization)) return next();
    onRefused?.();
    next(unauthorized(realm));
  };
}
