/**
 * The one place where errors become Open Inference Protocol error bodies: `{"error": "<message>"}`
 * with the status the failure calls for. Every `/v2/...` route on every listener answers its errors
 * through `oipErrorResult` (the listener picks it by path); TorchServe routes keep
 * `{"code","type","message"}` (reply.ts).
 */
import type { ServeError } from '../../errors.js';
import type { HttpResult } from '../reply.js';

export const OIP_JSON = 'application/json';

/** A compact JSON body (OIP answers are machine-read; tensors make pretty-printing costly). */
export function oipJson(value: unknown, status = 200): HttpResult {
  return { status, body: Buffer.from(JSON.stringify(value), 'utf8'), contentType: OIP_JSON };
}

/**
 * ServeError → OIP status: 400 bad request (any 4xx the request itself caused keeps its code:
 * 404 unknown model or version, 405 model API disabled, 413 too large), 503 no worker / queue
 * full, 500 internal; anything outside 400..599 (e.g. a handler's custom 599-style code above) is 500.
 */
export function oipStatus(err: ServeError): number {
  const s = err.status;
  if (s === 403 || s === 409) return 400; // TorchServe's IllegalArgument / conflict: the request was wrong
  if (s >= 400 && s <= 599) return s;
  return 500;
}

export function oipErrorResult(err: ServeError): HttpResult {
  return oipJson({ error: err.message }, oipStatus(err));
}
