import { RoutingSyntaxError } from './errors.js';
import type { Matcher, MatchType } from './types.js';

// Alertmanager's classic matcher grammar: label name, operator, value (quoted or not).
const MATCHER = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!=|!~|=)\s*(.*?)\s*$/s;

/** Parses `severity="critical"`, `slo=~"api-.*"`, `team!=ops`. Throws RoutingSyntaxError with a plain reason. */
export function parseMatcher(text: string): Matcher {
  const parts = MATCHER.exec(text);
  if (!parts) {
    throw new RoutingSyntaxError(`cannot parse matcher '${text}' (expected <label><op><value> such as severity="critical")`);
  }
  const [, name, type, rawValue] = parts as unknown as [string, string, MatchType, string];
  // Alertmanager would read severity==critical as the value "=critical": almost surely a typo.
  if (/^[=~]/.test(rawValue)) {
    throw new RoutingSyntaxError(`cannot parse matcher '${text}' (doubled operator; quote the value if it really starts with ${rawValue[0]})`);
  }
  const value = unescapeValue(rawValue, text);
  if (type === '=' || type === '!=') return { name, type, value };
  return { name, type, value, regex: anchoredRegex(value) };
}

/** Alertmanager's unescaping: \" \\ \n are escapes, any other backslash stays literal (so regexes like a\.b work). */
function unescapeValue(raw: string, text: string): string {
  const quoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"');
  const body = quoted ? raw.slice(1, -1) : raw;
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    const next = body[i + 1];
    if (char === '\\' && next !== undefined) {
      value += next === 'n' ? '\n' : next === '"' || next === '\\' ? next : `\\${next}`;
      i++;
    } else if (char === '"') {
      throw new RoutingSyntaxError(`unescaped double quote in the value of matcher '${text}'`);
    } else {
      value += char;
    }
  }
  return value;
}

function anchoredRegex(value: string): RegExp {
  try {
    return new RegExp(`^(?:${value})$`);
  } catch (error) {
    // V8 says "Invalid regular expression: /^(?:a(b)$/: Unterminated group"; keep the reason only.
    const reason = (error as Error).message.split(': ').at(-1);
    throw new RoutingSyntaxError(`invalid regular expression "${value}" (${reason})`);
  }
}

/** A missing label matches as the empty string, as in Alertmanager. */
export function matchesLabels(matcher: Matcher, labels: Readonly<Record<string, string>>): boolean {
  const actual = labelValue(labels, matcher.name) ?? '';
  switch (matcher.type) {
    case '=':
      return actual === matcher.value;
    case '!=':
      return actual !== matcher.value;
    case '=~':
      return matcher.regex!.test(actual);
    case '!~':
      return !matcher.regex!.test(actual);
  }
}

/** The matcher as ops write it, value quoted and escaped: severity="critical". */
export function formatMatcher(matcher: Matcher): string {
  const escaped = matcher.value.replace(/[\\"]/g, (char) => `\\${char}`).replace(/\n/g, '\\n');
  return `${matcher.name}${matcher.type}"${escaped}"`;
}

/** Own labels only: a label named "constructor" must not find Object.prototype's. */
export function labelValue(labels: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.hasOwn(labels, name) ? labels[name] : undefined;
}
