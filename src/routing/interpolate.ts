import { RoutingSyntaxError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${VAR} and ${VAR:-default} (default also when VAR is empty, as in the shell). */
export function interpolate(text: string, env: Env): string {
  return text.replace(REFERENCE, (_reference, name: string, fallback: string | undefined) => {
    const value = env[name];
    if (fallback !== undefined && (value === undefined || value === '')) return fallback;
    if (value === undefined) {
      throw new RoutingSyntaxError(`environment variable ${name} is not set and has no default (write \${${name}:-default})`);
    }
    return value;
  });
}

export interface PathIssue {
  path: PropertyKey[];
  message: string;
}

/** Interpolates every string of a parsed YAML tree; keys are left alone. Unset variables become issues. */
export function interpolateTree(value: unknown, env: Env, issues: PathIssue[], path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    try {
      return interpolate(value, env);
    } catch (error) {
      if (!(error instanceof RoutingSyntaxError)) throw error;
      issues.push({ path, message: error.message });
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateTree(item, env, issues, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateTree(item, env, issues, [...path, key])]));
  }
  return value;
}
