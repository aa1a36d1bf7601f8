import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../observability/metrics.js';
import { ApiError } from './errors.js';

/**
 * Reads and parses a JSON body within `limit` bytes: the text as received and its value.
 * Hand-rolled rather than express.json() to keep the webhook's hot path short, and to answer each
 * failure with its own status.
 */
export async function readJsonBody(
  req: IncomingMessage,
  limit: number,
  /** Where the answer goes: express sets `req.res`; a handler without express passes it. */
  res: ServerResponse | undefined = (req as { res?: ServerResponse }).res,
): Promise<{ text: string; value: unknown }> {
  const type = req.headers['content-type'];
  if (!type || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', `expected Content-Type application/json, got ${type ? JSON.stringify(type) : 'none'}`);
  }
  const text = (await readRawBody(req, limit, res)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `body is not valid JSON: ${(error as Error).message}`);
  }
  // JSON.parse takes any depth; no alert nests this deep, and refusing it keeps every later step that
  // walks or serializes the payload far from the stack's limit (a few thousand levels).
  if (exceedsDepth(text, MAX_JSON_DEPTH)) {
    throw new ApiError(400, 'json_too_deep', `body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return { text, value };
}

/**
 * The body as received, within `limit` bytes (413 beyond it, before reading when Content-Length
 * says so): what a signature is computed over.
 */
export async function readRawBody(
  req: IncomingMessage,
  limit: number,
  res: ServerResponse | undefined = (req as { res?: ServerResponse }).res,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      // Leaving this loop destroys the request and its socket: the answer must not promise keep-alive.
      res?.setHeader('Connection', 'close');
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Alertmanager and Grafana payloads nest 4 levels deep; unknown fields get ample room beyond that. */
export const MAX_JSON_DEPTH = 64;

/** Whether valid JSON `text` nests deeper than `limit`; brackets inside strings do not count. */
function exceedsDepth(text: string, limit: number): boolean {
  // No more brackets than the limit, wherever they are, cannot nest deeper: the usual webhook is
  // settled at the cost of a few native indexOf calls instead of a walk over every character.
  if (!hasMoreOpeningBrackets(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b /* [ */ || char === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (char === 0x5d /* ] */ || char === 0x7d /* } */) depth--;
  }
  return false;
}

/** Whether `text` holds more than `limit` opening brackets, inside strings or not. */
function hasMoreOpeningBrackets(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++count > limit) return true;
    }
  }
  return false;
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes (MAX_BODY_BYTES)`);
}

/** Refusals of a signed request (Slack's, PagerDuty's): each counted in alertcenter_webhook_rejections_total{reason}. */
export class SignedRequestRefusals {
  constructor(private readonly metrics: Metrics) {}

  refuse(status: number, code: string, message: string): ApiError {
    this.metrics.webhookRejections.inc({ reason: code });
    return new ApiError(status, code, message);
  }

  /** The raw body (a signature covers the bytes as sent); one too large or broken is refused, and counted. */
  async readBody(req: IncomingMessage, maxBytes: number, res: ServerResponse): Promise<Buffer> {
    try {
      return await readRawBody(req, maxBytes, res);
    } catch (error) {
      if (error instanceof ApiError) this.metrics.webhookRejections.inc({ reason: error.code });
      throw error;
    }
  }
}
