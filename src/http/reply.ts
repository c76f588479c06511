/**
 * TorchServe's response conventions (spec §0): Gson-style pretty JSON plus a trailing newline,
 * `Content-Type: application/json` without charset, the no-cache headers, a request id, and
 * `connection: close` on errors. The one place errors become {"code","type","message"}.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { ServeError } from '../errors.js';

/** What a route returns; `send` writes it with the common headers. */
export interface HttpResult {
  status: number;
  /** A JSON value, rendered TorchServe-style. */
  json?: unknown;
  /** Raw bytes (handler output, Prometheus text), or a stream sent with chunked transfer encoding. */
  body?: Uint8Array | string | Readable;
  contentType?: string;
  /** Extra response headers (a handler's `context.setResponseHeader`), set after the common ones. */
  headers?: Record<string, string>;
  /** Reason phrase for the status line (a handler's `context.setResponseStatus(code, phrase)`). */
  statusMessage?: string;
}

/** Headers a handler may not set: the framing is the server's. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);

export const JSON_TYPE = 'application/json';

/** Gson pretty printing: 2-space indent, `"k": v`, null members omitted; then `\n`. */
export function torchServeJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (v === null ? undefined : v), 2)}\n`;
}

export function statusResult(status: number, message: string): HttpResult {
  return { status, json: { status: message } };
}

export function errorResult(err: ServeError): HttpResult {
  return { status: err.status, json: { code: err.status, type: err.type, message: err.message } };
}

export interface CorsSettings {
  origin?: string;
  methods?: string;
  headers?: string;
}

export function send(reply: FastifyReply, result: HttpResult, cors: CorsSettings): FastifyReply {
  reply.code(result.status);
  reply.header('x-request-id', reply.request.id);
  reply.header('Pragma', 'no-cache');
  reply.header('Cache-Control', 'no-cache; no-store, must-revalidate, private');
  reply.header('Expires', 'Thu, 01 Jan 1970 00:00:00 UTC');
  if (cors.origin) reply.header('Access-Control-Allow-Origin', cors.origin);
  if (cors.methods) reply.header('Access-Control-Allow-Methods', cors.methods);
  if (cors.headers) reply.header('Access-Control-Allow-Headers', cors.headers);
  // TorchServe closes the connection after every error response.
  if (result.status >= 400) reply.header('Connection', 'close');
  if (result.json !== undefined) {
    reply.header('Content-Type', JSON_TYPE);
    // A Buffer, so Fastify does not append "; charset=utf-8" to the content type.
    return reply.send(Buffer.from(torchServeJson(result.json), 'utf8'));
  }
  if (result.contentType) reply.header('Content-Type', result.contentType);
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (!FRAMING_HEADERS.has(name.toLowerCase())) reply.header(name, value);
  }
  if (result.statusMessage) reply.raw.statusMessage = result.statusMessage;
  const body = result.body ?? '';
  if (typeof body === 'string') return reply.send(Buffer.from(body, 'utf8'));
  if (body instanceof Uint8Array) return reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  return reply.send(body);
}

/** Fastify's own errors carry `statusCode` and a `code` like FST_ERR_CTP_BODY_TOO_LARGE. */
interface FrameworkError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Any thrown value → a ServeError with TorchServe's class name for its status. */
export function toServeError(err: unknown, maxRequestSize: number): ServeError {
  if (err instanceof ServeError) return err;
  const fe = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  if (fe.statusCode === 413 || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.code === 'FST_REQ_FILE_TOO_LARGE') {
    return new ServeError(413, 'RequestEntityTooLargeException', `Request body exceeds max_request_size (${maxRequestSize} bytes)`);
  }
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ServeError(400, 'BadRequestException', fe.message ?? 'Invalid HTTP message.');
  }
  return new ServeError(500, 'InternalServerException', fe.message ?? String(err));
}
