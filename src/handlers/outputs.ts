/**
 * Handler results → wire replies, as TorchServe's worker encodes them (spec §4.4): bytes as they
 * are, a string as UTF-8, anything else as JSON with indent 2; plus what the handler set through
 * `context.setResponse*` for that request. Errors a handler throws (or returns for one request)
 * become TorchServe's error envelopes.
 */
import { internalError, type PlainServeError } from '../errors.js';
import type { InferenceReply, JobOutcome, WireTensor } from '../runtime/types.js';

/**
 * The default ONNX handler's result for a tensor-native request: the reply carries these tensors
 * (`InferenceReply.tensors`) and an empty body. Never serialised: the protocol adapter encodes them.
 */
export class TensorReply {
  constructor(readonly tensors: WireTensor[]) {}
}

/** What `setResponseStatus/ContentType/Header` recorded for one request. */
export interface ResponseSettings {
  status?: number;
  phrase?: string;
  contentType?: string;
  headers: Record<string, string>;
}

export const newResponseSettings = (): ResponseSettings => ({ headers: {} });

const encoder = new TextEncoder();

export const OCTET_STREAM = 'application/octet-stream';
export const TEXT_PLAIN = 'text/plain; charset=utf-8';
export const APPLICATION_JSON = 'application/json';

/** Typed arrays as JSON arrays, bigint as number (ONNX int64 outputs). */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<unknown>);
  return value;
}

/**
 * True when `value` serialises the same without jsonReplacer: no bigint, no typed array and no
 * `toJSON` anywhere in it (too deep a value is answered false, and takes the replacer path).
 */
function isPlainJson(value: unknown, depth: number): boolean {
  if (typeof value === 'bigint') return false;
  if (typeof value !== 'object' || value === null) return true;
  if (depth > 64 || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const k of Object.keys(value)) if (!isPlainJson((value as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/** Valid HTTP status for a handler: an integer Node can write on the status line. */
export const isHttpStatus = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 999;

/**
 * An Error carrying a numeric HTTP `status` (and optionally a `type`): thrown, it fails the batch
 * with that status and message; returned as one request's output, it fails that request alone.
 */
export function statusErrorOf(value: unknown): PlainServeError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { status, type, message } = value as { status?: unknown; type?: unknown; message?: unknown };
  if (!isHttpStatus(status)) return undefined;
  return {
    status,
    type: typeof type === 'string' && type !== '' ? type : 'InternalServerException',
    message: typeof message === 'string' && message !== '' ? message : 'Prediction failed',
  };
}

/** The body bytes and default content type of one result; throws for values JSON cannot carry. */
function encodeBody(value: unknown): { body: Uint8Array; contentType: string } {
  // A copy: the reply buffer is transferred to the main thread, which would detach the handler's own.
  if (value instanceof Uint8Array) return { body: new Uint8Array(value), contentType: OCTET_STREAM };
  if (typeof value === 'string') return { body: encoder.encode(value), contentType: TEXT_PLAIN };
  const v = value === undefined ? null : value;
  // The replacer costs a call per value (2x the time on a large nested array): only when needed.
  const text = (isPlainJson(v, 0) ? JSON.stringify(v, null, 2) : JSON.stringify(v, jsonReplacer, 2)) as string | undefined;
  if (text === undefined) throw new TypeError(`a ${typeof value} cannot be sent as JSON`);
  return { body: encoder.encode(text), contentType: APPLICATION_JSON };
}

/** Encodes one successful result with the request's response settings (throws when unserialisable). */
export function encodeReply(value: unknown, settings: ResponseSettings = newResponseSettings()): InferenceReply {
  let reply: InferenceReply;
  if (value instanceof TensorReply) {
    reply = { status: settings.status ?? 200, body: new Uint8Array(0), tensors: value.tensors };
    if (settings.contentType) reply.contentType = settings.contentType;
  } else {
    const { body, contentType } = encodeBody(value);
    reply = { status: settings.status ?? 200, contentType: settings.contentType ?? contentType, body };
  }
  if (settings.phrase) reply.statusText = settings.phrase;
  if (Object.keys(settings.headers).length > 0) reply.headers = { ...settings.headers };
  return reply;
}

/** One request's outcome: a returned status error fails it; an unserialisable value is TorchServe's 503. */
export function encodeOutcome(value: unknown, settings?: ResponseSettings, onError?: (why: string) => void): JobOutcome {
  const failed = value instanceof Error ? statusErrorOf(value) : undefined;
  if (failed) return { ok: false, error: failed };
  try {
    return { ok: true, reply: encodeReply(value, settings) };
  } catch (e) {
    onError?.(`could not serialise the handler output: ${e instanceof Error ? e.message : String(e)}`);
    return { ok: false, error: internalError('Unsupported model output data type.', 503).toPlain() };
  }
}

/** A thrown value → the batch's error: its own status when it has one, else 503 `Prediction failed`. */
export function thrownError(e: unknown): PlainServeError {
  return statusErrorOf(e) ?? internalError('Prediction failed', 503).toPlain();
}
