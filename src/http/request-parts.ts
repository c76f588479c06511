/**
 * HTTP request → the named parts a handler sees (spec §4.3): multipart and urlencoded form
 * fields become parts named after the field; any other body becomes one part named `body`.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ServeError, badRequest } from '../errors.js';
import type { RequestPart } from '../runtime/types.js';

/**
 * The most parts (fields and files) a form may have: @fastify/multipart's `parts` default, which
 * the listener's `files`/`fields` limits match; urlencoded forms get the same cap here.
 */
export const MAX_FORM_PARTS = 1000;

const tooManyParts = () =>
  new ServeError(413, 'RequestEntityTooLargeException', `The form has more than ${MAX_FORM_PARTS} parts (fields and files)`);

/** @fastify/multipart's count limits; busboy's own parse errors carry no status at all. */
const PART_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);

/** A failure while reading a form → the client's error: a count limit, or a malformed body. */
function formError(err: unknown): unknown {
  if (err instanceof ServeError) return err;
  const { code, statusCode, message } = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof code === 'string' && PART_LIMIT_CODES.has(code)) return tooManyParts();
  // Fastify's errors (413 file too large, 406 invalid JSON field, …) keep their status.
  if (typeof statusCode === 'number') return err;
  return badRequest(`Malformed multipart/form-data body: ${typeof message === 'string' ? message : String(err)}`);
}

function mimeOf(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

function looksLikeJson(buf: Buffer): boolean {
  const first = buf.toString('utf8', 0, Math.min(buf.length, 64)).trimStart()[0];
  return first === '[' || first === '{' || first === '"' || (first !== undefined && /[-0-9]/.test(first));
}

/**
 * `curl --data-binary` labels any body application/x-www-form-urlencoded. TorchServe would
 * decode it as form fields; a JSON-looking body is kept whole so such curls work (a deviation).
 */
function urlencodedParts(buf: Buffer): RequestPart[] {
  if (looksLikeJson(buf)) return [{ name: 'body', contentType: 'application/json', data: buf }];
  const parts: RequestPart[] = [];
  for (const [name, value] of new URLSearchParams(buf.toString('utf8'))) {
    if (parts.length === MAX_FORM_PARTS) throw tooManyParts();
    parts.push({ name, data: Buffer.from(value, 'utf8') });
  }
  return parts;
}

/**
 * Reads and drops what is left of a refused form (at most `limit` more bytes), so a client still
 * sending gets the error reply instead of a reset connection.
 */
function discardRest(raw: IncomingMessage, limit: number): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      raw.off('data', onData).off('end', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) done();
    };
    // The form parser may still be piped in and stalled on a part nobody reads: cut it off first.
    raw.unpipe();
    raw.on('data', onData).once('end', done).once('close', done);
    raw.resume();
  });
}

/** @fastify/multipart JSON-parses fields sent as application/json: give the handler the text back. */
function fieldText(name: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    // JSON.stringify recurses: a nesting bomb overflows the stack (JSON.parse did not).
    throw badRequest(`Field "${name}": its JSON is nested too deeply`);
  }
}

export async function requestParts(req: FastifyRequest, maxRequestSize: number): Promise<RequestPart[]> {
  if (req.isMultipart()) {
    const parts: RequestPart[] = [];
    let total = 0;
    const tooLarge = () => Object.assign(new Error('too large'), { statusCode: 413 });
    try {
      for await (const part of req.parts()) {
        // busboy cuts an over-long field short and only flags it: refuse rather than feed a truncated input.
        if (part.type === 'field' && (part.valueTruncated || part.fieldnameTruncated)) throw tooLarge();
        const data = part.type === 'file' ? await part.toBuffer() : Buffer.from(fieldText(part.fieldname, part.value), 'utf8');
        total += data.length;
        if (total > maxRequestSize) throw tooLarge();
        parts.push({ name: part.fieldname, contentType: part.type === 'file' ? mimeOf(part.mimetype) : undefined, data });
      }
    } catch (err) {
      await discardRest(req.raw, maxRequestSize);
      throw formError(err);
    }
    if (parts.length === 0) throw badRequest('Multipart request has no fields.');
    return parts;
  }
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const mime = mimeOf(req.headers['content-type']);
  if (mime === 'application/x-www-form-urlencoded') return urlencodedParts(body);
  return [{ name: 'body', contentType: mime, data: body }];
}

/** Request headers for the handler, single-valued. */
export function handlerHeaders(req: FastifyRequest, extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = req.headers;
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  for (const k of Object.keys(extra)) out[k] = extra[k]!;
  return out;
}
