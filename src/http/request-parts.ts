/**
 * HTTP request → the named parts a handler sees (spec §4.3): multipart and urlencoded form
 * fields become parts named after the field; any other body becomes one part named `body`.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors.js';
import type { RequestPart } from '../runtime/types.js';

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
    parts.push({ name, data: Buffer.from(value, 'utf8') });
  }
  return parts;
}

/** @fastify/multipart JSON-parses fields sent as application/json: give the handler the text back. */
function fieldText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export async function requestParts(req: FastifyRequest, maxRequestSize: number): Promise<RequestPart[]> {
  if (req.isMultipart()) {
    const parts: RequestPart[] = [];
    let total = 0;
    const tooLarge = () => Object.assign(new Error('too large'), { statusCode: 413 });
    for await (const part of req.parts()) {
      // busboy cuts an over-long field short and only flags it: refuse rather than feed a truncated input.
      if (part.type === 'field' && (part.valueTruncated || part.fieldnameTruncated)) throw tooLarge();
      const data = part.type === 'file' ? await part.toBuffer() : Buffer.from(fieldText(part.value), 'utf8');
      total += data.length;
      if (total > maxRequestSize) throw tooLarge();
      parts.push({ name: part.fieldname, contentType: part.type === 'file' ? mimeOf(part.mimetype) : undefined, data });
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
