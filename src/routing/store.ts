import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';
import type { ReceiverConfig } from '../domain/channels.js';
import { parseRoutingConfig, readRoutingFile } from './config.js';
import { RoutingConfigError } from './errors.js';
import type { Env } from './interpolate.js';
import { formatMatcher } from './matchers.js';
import type { RouteConfig, RoutingConfig, TimeIntervalConfig } from './types.js';

export type ReloadResult = { ok: true; config: RoutingConfig; hash: string; loadedAt: Date } | { ok: false; error: RoutingConfigError };

export interface RoutingStoreOptions {
  /** Called after every reload attempt (not the initial load, which throws instead). */
  onReload?: (result: ReloadResult) => void;
  /** Editors write a file in several steps; wait this long after the last change. */
  debounceMs?: number;
}

/** GET /api/v1/routing: the running config, JSON-friendly, with secrets masked. */
export interface MaskedRouting {
  file: string;
  /** sha256 of the file text, hex. */
  hash: string;
  loadedAt: string;
  receivers: ReceiverConfig[];
  routes: Array<Omit<RouteConfig, 'matchers'> & { matchers: string[] }>;
  defaultReceivers: string[];
  timeIntervals: TimeIntervalConfig[];
}

interface Loaded {
  config: RoutingConfig;
  hash: string;
  loadedAt: Date;
}

/**
 * The routing config in force. Swapped whole (one reference) on a good reload; a bad file is
 * refused and the running config stays. Installs no signal handler: the server calls reload() on SIGHUP.
 */
export class RoutingStore {
  #loaded: Loaded;
  /** Hash of the text last tried, so that watch events which change nothing cause no reload. */
  #lastTriedHash: string;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  readonly #onReload: (result: ReloadResult) => void;
  readonly #debounceMs: number;

  /** Loads the file at once; throws RoutingConfigError when it is unusable. */
  constructor(
    readonly file: string,
    private readonly env: Env,
    options: RoutingStoreOptions = {},
  ) {
    this.#onReload = options.onReload ?? (() => {});
    this.#debounceMs = options.debounceMs ?? 200;
    const text = readRoutingFile(file);
    this.#loaded = this.#parse(text);
    this.#lastTriedHash = this.#loaded.hash;
  }

  current(): RoutingConfig {
    return this.#loaded.config;
  }

  get hash(): string {
    return this.#loaded.hash;
  }

  get loadedAt(): Date {
    return this.#loaded.loadedAt;
  }

  /** Re-reads the file (what SIGHUP does). The result also goes to onReload. */
  reload(): ReloadResult {
    let text: string;
    try {
      text = readRoutingFile(this.file);
    } catch (error) {
      return this.#report({ ok: false, error: asRoutingError(error) });
    }
    return this.#attempt(text);
  }

  /**
   * Reloads when the file's content changes. Watches the directory, since editors and Kubernetes
   * ConfigMaps replace the file (rename, symlink swap) rather than write into it.
   */
  watch(): void {
    if (this.#watcher) return;
    this.#watcher = watch(dirname(this.file), { persistent: false }, () => {
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.#reloadIfChanged(), this.#debounceMs);
    });
    this.#watcher.on('error', (error) => {
      this.close();
      const reason = (error as NodeJS.ErrnoException).code ?? error.message;
      this.#report({ ok: false, error: new RoutingConfigError(`${this.file}: stopped watching for changes (${reason}); reload with SIGHUP`) });
    });
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  maskedConfig(): MaskedRouting {
    const { config, hash, loadedAt } = this.#loaded;
    return {
      file: this.file,
      hash,
      loadedAt: loadedAt.toISOString(),
      receivers: config.receivers.map(maskReceiver),
      routes: config.routes.map((route) => ({ ...route, matchers: route.matchers.map(formatMatcher) })),
      defaultReceivers: config.defaultReceivers,
      timeIntervals: config.timeIntervals,
    };
  }

  #reloadIfChanged(): void {
    let text: string;
    try {
      text = readRoutingFile(this.file);
    } catch (error) {
      // Mid-replace, or deleted: report it; the next change event tries again.
      this.#report({ ok: false, error: asRoutingError(error) });
      return;
    }
    if (sha256(text) !== this.#lastTriedHash) this.#attempt(text);
  }

  #attempt(text: string): ReloadResult {
    this.#lastTriedHash = sha256(text);
    let loaded: Loaded;
    try {
      loaded = this.#parse(text);
    } catch (error) {
      return this.#report({ ok: false, error: asRoutingError(error) });
    }
    this.#loaded = loaded;
    return this.#report({ ok: true, ...loaded });
  }

  #parse(text: string): Loaded {
    return { config: parseRoutingConfig(text, this.file, this.env), hash: sha256(text), loadedAt: new Date() };
  }

  #report(result: ReloadResult): ReloadResult {
    this.#onReload(result);
    return result;
  }
}

/** Config problems become results; anything else is a bug and is rethrown. */
function asRoutingError(error: unknown): RoutingConfigError {
  if (error instanceof RoutingConfigError) return error;
  throw error;
}

/** sha256 of the routing file's text, hex: the hash GET /api/v1/routing shows and `routing check` prints. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function maskReceiver(receiver: ReceiverConfig): ReceiverConfig {
  if (receiver.kind !== 'pagerduty' || receiver.pagerduty.routingKey === undefined) return receiver;
  return { ...receiver, pagerduty: { routingKey: maskSecret(receiver.pagerduty.routingKey) } };
}

/** "****" plus the last 4 characters, and those only when the secret is long enough to spare them. */
export function maskSecret(secret: string): string {
  return `****${secret.length >= 16 ? secret.slice(-4) : ''}`;
}
