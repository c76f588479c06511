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

export async function requestParts(req: FastifyRequest, maxRequestSize: number): Promise<RequestPart[]> {
  if (req.isMultipart()) {
    const parts: RequestPart[] = [];
    let total = 0;
    for await (const part of req.parts()) {
      const data = part.type === 'file' ? await part.toBuffer() : Buffer.from(String(part.value ?? ''), 'utf8');
      total += data.length;
      if (total > maxRequestSize) {
        throw Object.assign(new Error('too large'), { statusCode: 413 });
      }
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
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { ...out, ...extra };
}
