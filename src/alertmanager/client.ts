import type { SilenceRef } from '../incidents/types.js';
import { type Matcher, matcherText } from './matchers.js';

/** One Alertmanager of ALERTMANAGER_URLS: where it is, and how to authenticate. */
export interface AlertmanagerTarget {
  /** The URL without credentials: what logs, errors and silence refs name it by. */
  url: string;
  /** `Bearer <token>` or `Basic <base64>`; undefined for none. */
  authorization: string | undefined;
  /** The credentials, for the logger to scrub. */
  secrets: string[];
}

/**
 * An entry of ALERTMANAGER_URLS: `https://am.example:9093`, with basic auth as the URL's user
 * info (`https://user:password@am.example:9093`), or a bearer token as the password of the user
 * `bearer` (`https://bearer:TOKEN@am.example:9093`). Throws on anything but an http(s) URL.
 */
export function parseAlertmanagerTarget(text: string): AlertmanagerTarget {
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http or https URL, got ${url.protocol}//...`);
  const user = decodeURIComponent(url.username);
  const rawPassword = url.password;
  const password = decodeURIComponent(rawPassword);
  url.username = '';
  url.password = '';
  const authorization =
    user === '' && password === ''
      ? undefined
      : user.toLowerCase() === 'bearer'
        ? `Bearer ${password}`
        : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return { url: url.href.replace(/\/+$/, ''), authorization, secrets: [password, rawPassword].filter(Boolean) };
}

/** Why a call to an Alertmanager failed. */
export type AlertmanagerFailure = 'unreachable' | 'timeout' | 'refused' | 'invalid_response';

export class AlertmanagerError extends Error {
  constructor(
    readonly reason: AlertmanagerFailure,
    readonly alertmanager: string,
    message: string,
  ) {
    super(`${alertmanager}: ${message}`);
    this.name = 'AlertmanagerError';
  }
}

/** A silence as `POST /api/v2/silences` takes it. */
export interface PostableSilence {
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** An alert as `GET /api/v2/alerts` lists it (only the fields read here). */
export interface ListedAlert {
  fingerprint: string;
  labels: Record<string, string>;
  status: { state: string; silencedBy?: string[] };
}

/** Alertmanager's API v2, one instance. */
export class AlertmanagerClient {
  constructor(
    readonly target: AlertmanagerTarget,
    private readonly timeoutMs: number,
  ) {}

  /** Creates the silence; its id. */
  async createSilence(silence: PostableSilence): Promise<string> {
    const body = await this.call('POST', '/api/v2/silences', silence);
    const id = (body as { silenceID?: unknown } | null)?.silenceID;
    if (typeof id !== 'string' || id === '')
      throw new AlertmanagerError('invalid_response', this.target.url, 'POST /api/v2/silences answered without a silenceID');
    return id;
  }

  /** Expires the silence; one it no longer knows (404), or that expired already (its 500 says so), is as good as expired. */
  async expireSilence(id: string): Promise<void> {
    try {
      await this.call('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`, undefined, [404]);
    } catch (error) {
      if (error instanceof AlertmanagerError && error.reason === 'refused' && /already expired/i.test(error.message)) return;
      throw error;
    }
  }

  /** The alerts it holds that match every filter (`name="value"`), silenced and inhibited ones included; resolved ones are not listed. */
  async alerts(filters: readonly string[]): Promise<ListedAlert[]> {
    const query = new URLSearchParams([...filters.map((filter) => ['filter', filter]), ['silenced', 'true'], ['inhibited', 'true'], ['active', 'true']]);
    const body = await this.call('GET', `/api/v2/alerts?${query}`);
    if (!Array.isArray(body)) throw new AlertmanagerError('invalid_response', this.target.url, 'GET /api/v2/alerts answered no list');
    return body as ListedAlert[];
  }

  private async call(method: string, path: string, json?: unknown, acceptable: number[] = []): Promise<unknown> {
    const { url, authorization } = this.target;
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
          ...(authorization === undefined ? {} : { authorization }),
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new AlertmanagerError('timeout', url, `no answer within ${this.timeoutMs} ms`);
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AlertmanagerError('unreachable', url, `cannot reach it (${cause?.code ?? cause?.message ?? (error as Error).message})`);
    }
    const text = await response.text().catch(() => '');
    if (!response.ok && !acceptable.includes(response.status)) {
      throw new AlertmanagerError('refused', url, `${method} ${path.split('?')[0]} answered HTTP ${response.status}: ${text.slice(0, 200).trim()}`);
    }
    if (!response.ok || text === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new AlertmanagerError('invalid_response', url, `${method} ${path.split('?')[0]} answered something other than JSON`);
    }
  }
}

/**
 * No Alertmanager could do what was asked: a silence that not every one took (those that were made
 * are expired again), or alerts none would list.
 */
export class AlertmanagersUnavailableError extends Error {
  constructor(readonly failures: AlertmanagerError[]) {
    super(failures.length === 0 ? 'no Alertmanager is configured (ALERTMANAGER_URLS is empty)' : failures.map((failure) => failure.message).join('; '));
    this.name = 'AlertmanagersUnavailableError';
  }
}

/**
 * Every Alertmanager of ALERTMANAGER_URLS. An unclustered HA pair shares no silences, so a silence
 * is made on each; all or nothing: when one cannot take it, those already made are expired again.
 */
export class Alertmanagers {
  private readonly clients: AlertmanagerClient[];

  constructor(targets: readonly AlertmanagerTarget[], timeoutMs: number) {
    this.clients = targets.map((target) => new AlertmanagerClient(target, timeoutMs));
  }

  get configured(): boolean {
    return this.clients.length > 0;
  }

  /** One silence per Alertmanager; throws AlertmanagersUnavailableError, leaving none behind, unless every one took it. */
  async silence(silence: PostableSilence): Promise<SilenceRef[]> {
    if (this.clients.length === 0) throw new AlertmanagersUnavailableError([]);
    const results = await Promise.allSettled(this.clients.map((client) => client.createSilence(silence)));
    const made = results.flatMap((result, i) => (result.status === 'fulfilled' ? [{ alertmanager: this.clients[i]!.target.url, id: result.value }] : []));
    const failures = results.flatMap((result, i) => (result.status === 'rejected' ? [asAlertmanagerError(result.reason, this.clients[i]!.target.url)] : []));
    if (failures.length === 0) return made;
    // Nothing half-done: a silence on one of two Alertmanagers still lets the other one page.
    const undone = await this.expire(made);
    throw new AlertmanagersUnavailableError([...failures, ...undone]);
  }

  /** Expires each silence on its Alertmanager; the failures (an Alertmanager no longer configured is one). */
  async expire(silences: readonly SilenceRef[]): Promise<AlertmanagerError[]> {
    const results = await Promise.allSettled(
      silences.map(async (ref) => {
        const client = this.clients.find((candidate) => candidate.target.url === ref.alertmanager);
        if (!client) throw new AlertmanagerError('refused', ref.alertmanager, `not in ALERTMANAGER_URLS any more; silence ${ref.id} left to expire on its own`);
        await client.expireSilence(ref.id);
      }),
    );
    return results.flatMap((result, i) => (result.status === 'rejected' ? [asAlertmanagerError(result.reason, silences[i]!.alertmanager)] : []));
  }

  /**
   * The fingerprints of the alerts that match the filters on any Alertmanager that answered (an
   * alert fires while any lists it); throws when none answered.
   */
  async firing(filters: readonly string[]): Promise<{ fingerprints: Set<string>; answered: number; failures: AlertmanagerError[] }> {
    const results = await Promise.allSettled(this.clients.map((client) => client.alerts(filters)));
    const fingerprints = new Set<string>();
    const failures: AlertmanagerError[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') for (const alert of result.value) fingerprints.add(alert.fingerprint);
      else failures.push(asAlertmanagerError(result.reason, this.clients[i]!.target.url));
    });
    const answered = results.length - failures.length;
    if (answered === 0) throw new AlertmanagersUnavailableError(failures);
    return { fingerprints, answered, failures };
  }
}

/** The matchers as the filters of `GET /api/v2/alerts`. */
export const filtersOf = (matchers: readonly Matcher[]) => matchers.map(matcherText);

function asAlertmanagerError(error: unknown, alertmanager: string): AlertmanagerError {
  return error instanceof AlertmanagerError
    ? error
    : new AlertmanagerError('unreachable', alertmanager, error instanceof Error ? error.message : String(error));
}
