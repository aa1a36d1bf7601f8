import { readFileSync } from 'node:fs';
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../alerts/slo-catalog.js';
import { crossCheck, routingFileSchema } from './config-schema.js';
import { RoutingConfigError } from './errors.js';
import { type Env, interpolateTree, type PathIssue } from './interpolate.js';
import type { RoutingConfig } from './types.js';

export { RoutingConfigError };

/** Reads and validates the routing file. Throws RoutingConfigError with a one-line message. */
export function loadRoutingConfig(file: string, env: Env): RoutingConfig {
  return parseRoutingConfig(readRoutingFile(file), file, env);
}

/** The file's text; a read failure is a RoutingConfigError like any other. */
export function readRoutingFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RoutingConfigError(`${file}: cannot read the routing file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/**
 * YAML text -> RoutingConfig: ${VAR} interpolation from `env`, strict schema, then cross-checks.
 * Of all problems found at one stage, the one earliest in the file is reported.
 */
export function parseRoutingConfig(text: string, file: string, env: Env): RoutingConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const fail = (offset: number, path: string, message: string): never => {
    const { line, col } = lineCounter.linePos(offset);
    // Values quoted in messages may hold newlines; the message stays one line.
    throw new RoutingConfigError(`${file}:${line}:${col}: ${path}: ${message}`.replace(/\r?\n/g, '\\n'));
  };
  const failAtFirst = (issues: LocatedIssue[]): never => {
    const first = issues.map((issue) => ({ ...issue, offset: offsetOf(doc, issue) })).sort((a, b) => a.offset - b.offset)[0]!;
    return fail(first.offset, formatPath(first.path), first.message);
  };

  const syntaxError = doc.errors[0];
  if (syntaxError) fail(syntaxError.pos[0], '(yaml)', syntaxError.message.split('\n')[0]!);

  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    // The yaml package refuses alias bombs here ("Excessive alias count ...").
    fail(0, '(yaml)', (error as Error).message);
  }
  if (raw === null || raw === undefined) fail(0, '(root)', 'the routing file is empty');
  const unset: PathIssue[] = [];
  const interpolated = interpolateTree(raw, env, unset);
  if (unset.length > 0) failAtFirst(unset);

  const parsed = routingFileSchema.safeParse(interpolated);
  if (!parsed.success) failAtFirst(parsed.error.issues.flatMap((issue) => describeIssue(issue, interpolated)));
  const config = parsed.data!;

  const crossIssues = crossCheck(config);
  if (crossIssues.length > 0) failAtFirst(crossIssues);
  return config;
}

interface LocatedIssue extends PathIssue {
  /** Point at the key itself (unknown keys) rather than at its value. */
  atKey?: boolean;
}

/** zod's issue in the words ops read; unknown keys become one issue each, at the key. */
function describeIssue(issue: z.core.$ZodIssue, root: unknown): LocatedIssue[] {
  const path = issue.path as PropertyKey[];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"`, atKey: true }));
  }
  if (issue.code === 'invalid_type') {
    const actual = valueAt(root, path);
    const message = actual === undefined ? 'required key is missing' : `expected ${issue.expected}, got ${typeName(actual)}`;
    return [{ path, message }];
  }
  return [{ path, message: issue.message }];
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), root);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Offset of the YAML node at `path`; when the path leaves the document (a missing key), the
 * offset of the deepest node that exists, so the message points at the map that lacks the key.
 */
function offsetOf(doc: Document, issue: LocatedIssue): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const [i, segment] of issue.path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && (isScalar(item.key) ? item.key.value : item.key) === segment);
      if (!pair) break;
      if ((issue.atKey && i === issue.path.length - 1) || rangeStart(pair.value) === undefined) {
        return rangeStart(pair.key) ?? offset;
      }
      next = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    const start = rangeStart(next);
    if (start === undefined) break;
    node = next;
    offset = start;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
}
