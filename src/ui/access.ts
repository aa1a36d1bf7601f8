import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { tokenCheck, unauthorized } from '../api/auth.js';
import { ApiError } from '../api/errors.js';
import type { RedisClient } from '../queue/redis.js';

/**
 * Who may use the AlertCenter page and the admin API:
 * - `operator`: ADMIN_TOKEN (as a bearer token, or exchanged for a session at sign-in): reads and acts;
 * - `viewer`: a token of VIEWER_TOKENS: reads only; every action answers 403.
 * A session is a random id in an HttpOnly, SameSite=Strict cookie; RedisClient holds its role, its CSRF
 * token and its expiry (the key's TTL), so every api replica knows it and sign-out ends it everywhere.
 * A request authenticated by its cookie must carry the session's CSRF token to change anything.
 */
export type Role = 'operator' | 'viewer';

export interface Session {
  role: Role;
  /** Who signed in, as they named themselves: the actor of their acknowledgements. */
  name: string;
  csrf: string;
  createdAt: string;
  expiresAt: string;
}

export const SESSION_COOKIE = 'alertcenter_session';
export const CSRF_HEADER = 'x-csrf-token';
/** The form field that carries the CSRF token when a form is posted without JavaScript. */
export const CSRF_FIELD = '_csrf';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly ttlMs: number,
  ) {}

  /** RedisClient keeps only a digest of the id: a dump of RedisClient holds no usable session. */
  private key = (id: string) => `${this.prefix}:ui:session:${sha256(id)}`;

  async create(role: Role, name: string): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: Session = {
      role,
      name,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlMs).toISOString(),
    };
    await this.redis.set(this.key(id), JSON.stringify(session), 'PX', this.ttlMs);
    return { id, session };
  }

  async get(id: string): Promise<Session | null> {
    if (!/^[\w-]{20,100}$/.test(id)) return null;
    const json = await this.redis.get(this.key(id));
    if (json === null) return null;
    const session = JSON.parse(json) as Session;
    return Date.parse(session.expiresAt) > Date.now() ? session : null;
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in cookies)) cookies[name] = part.slice(eq + 1).trim();
  }
  return cookies;
}

/** Whether the request reached the router over TLS, itself or through a proxy that says so. */
export function overTls(req: IncomingMessage): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return Boolean((req.socket as { encrypted?: boolean }).encrypted) || proto === 'https';
}

export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`, ...(secure ? ['Secure'] : [])].join(
    '; ',
  );
}

export const clearedSessionCookie = (secure: boolean) => sessionCookie('', 0, secure);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length > 0;
}

/** What the access check found out, for the handlers after it. */
export interface Caller {
  role: Role;
  /** The actor to record on an incident's timeline. */
  actor: string;
  via: 'token' | 'session' | 'open';
  session?: Session;
  sessionId?: string;
}

export function callerOf(res: Response): Caller | undefined {
  return res.locals.caller as Caller | undefined;
}

export interface AccessOptions {
  adminToken: string | undefined;
  viewerTokens: readonly string[];
  sessions: SessionStore;
}

export interface Access {
  /** Who signs in with this token, or null. */
  roleOfToken(token: string): Role | null;
  /**
   * The admin API's check: a bearer token (ADMIN_TOKEN acts, VIEWER_TOKENS reads), or a session
   * cookie (with the CSRF token for anything but GET). 401 without credentials or with an expired
   * session; 403 for a viewer's action or a missing CSRF token.
   */
  api: RequestHandler;
  /** The page's check: a session, or a redirect to the sign-in page (401 for htmx requests). */
  page: RequestHandler;
  /** The page's own POSTs that change nothing a viewer may not (sign-out, the routing tester): a session and its CSRF token. */
  pageForm: RequestHandler;
}

export function createAccess({ adminToken, viewerTokens, sessions }: AccessOptions): Access {
  const isAdmin = tokenCheck(adminToken ? [adminToken] : []);
  const isViewer = viewerTokens.length > 0 ? tokenCheck(viewerTokens) : () => false;
  const bearer = (token: string) => `Bearer ${token}`;
  const roleOfToken = (token: string): Role | null => {
    // Without ADMIN_TOKEN (loopback only) the admin API is open, and so is the operator's sign-in.
    if (!adminToken) return isViewer(bearer(token)) ? 'viewer' : 'operator';
    if (token && isAdmin(bearer(token))) return 'operator';
    if (token && isViewer(bearer(token))) return 'viewer';
    return null;
  };

  const sessionOf = async (req: Request): Promise<{ id: string; session: Session } | 'expired' | null> => {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!id) return null;
    const session = await sessions.get(id);
    return session ? { id, session } : 'expired';
  };

  const csrfOf = (req: Request): string => {
    const header = req.headers[CSRF_HEADER];
    if (typeof header === 'string') return header;
    const body = req.body as Record<string, unknown> | undefined;
    return typeof body?.[CSRF_FIELD] === 'string' ? body[CSRF_FIELD] : '';
  };

  const api: RequestHandler = async (req, res, next) => {
    const authorization = req.headers.authorization;
    // A bearer token, or no session cookie either: the token check, which compares every token in
    // constant time whatever was presented (nothing at all included).
    if (authorization || !parseCookies(req.headers.cookie)[SESSION_COOKIE]) {
      const viewer = viewerTokens.length > 0 && Boolean(authorization) && isViewer(authorization);
      if (!viewer && isAdmin(authorization)) return allow(res, next, { role: 'operator', actor: 'api', via: adminToken ? 'token' : 'open' });
      if (viewer) {
        if (!SAFE_METHODS.has(req.method)) return next(new ApiError(403, 'forbidden', 'viewer tokens are read only'));
        return allow(res, next, { role: 'viewer', actor: 'viewer', via: 'token' });
      }
      return next(unauthorized('admin'));
    }
    const found = await sessionOf(req);
    if (found === 'expired' || found === null) return next(new ApiError(401, 'session_expired', 'the session has expired or was signed out: sign in again'));
    const { id, session } = found;
    if (!SAFE_METHODS.has(req.method)) {
      if (!sameSecret(csrfOf(req), session.csrf)) return next(new ApiError(403, 'csrf', 'missing or invalid CSRF token'));
      if (session.role !== 'operator') return next(new ApiError(403, 'forbidden', 'viewers cannot act: sign in with the operator token'));
    }
    allow(res, next, { role: session.role, actor: session.name, via: 'session', session, sessionId: id });
  };

  const page: RequestHandler = async (req, res, next) => {
    const found = await sessionOf(req);
    if (found === null || found === 'expired') {
      if (req.headers['hx-request']) {
        // htmx follows no redirect for a fragment: tell the page to go to the sign-in page.
        res.setHeader('HX-Redirect', '/login');
        res.status(401).end();
        return;
      }
      const back = req.method === 'GET' && req.originalUrl !== '/' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
      res.redirect(303, `/login${back}${found === 'expired' ? `${back ? '&' : '?'}expired=1` : ''}`);
      return;
    }
    allow(res, next, { role: found.session.role, actor: found.session.name, via: 'session', session: found.session, sessionId: found.id });
  };

  const pageForm: RequestHandler = (req, res, next) => {
    const caller = callerOf(res);
    if (!caller?.session || !sameSecret(csrfOf(req), caller.session.csrf)) {
      return next(new ApiError(403, 'csrf', 'missing or invalid CSRF token'));
    }
    next();
  };

  return { roleOfToken, api, page, pageForm };
}

function allow(res: Response, next: NextFunction, caller: Caller): void {
  res.locals.caller = caller;
  // The actor that the incident actions (ack, silence) record.
  res.locals.actor = caller.actor;
  next();
}
