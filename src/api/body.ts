import type { Request } from 'express';
import { ApiError } from './errors.js';

/**
 * Reads and parses a JSON body within `limit` bytes. Hand-rolled rather than express.json() to keep
 * the webhook's hot path short, and to answer each failure with its own status.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (!type || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', `expected Content-Type application/json, got ${type ? JSON.stringify(type) : 'none'}`);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'payload_too_large', `body exceeds the limit of ${limit} bytes (MAX_BODY_BYTES)`);
}
