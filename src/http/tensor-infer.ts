/**
 * Tensor-native inference for the protocol adapters (OIP v2, KServe v1, the service envelopes):
 * tensors in, tensors out, through the model's WorkerPool — so these requests join the same
 * dynamic batches as `/predictions` requests of the model. Also the per-instance path for models
 * whose handler does not take tensors (built-in and custom handlers), TorchServe's envelope semantics.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, internalError, noWorkerMessage, serviceUnavailable } from '../errors.js';
import type { ModelVersion } from '../registry/model-version.js';
import { Cancellation } from '../runtime/cancellation.js';
import type { CancelSignal, InferenceReply, InferenceRequest, ModelSignature, RequestPart, WireTensor } from '../runtime/types.js';
import { handlerHeaders } from './request-parts.js';
import type { RouteContext } from './route-context.js';

/** The raw request body (protocol adapters read JSON or binary bodies themselves; never multipart). */
export function bodyBuffer(req: FastifyRequest, what: string): Buffer {
  if (req.isMultipart()) throw badRequest(`${what} requests take a JSON (or binary) body, not multipart/form-data`);
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** The model's signature; before any worker has loaded the model it is not known (503, as for no worker). */
export function signatureOf(v: ModelVersion): ModelSignature {
  const sig = v.signature();
  if (!sig) throw serviceUnavailable(noWorkerMessage(v.name));
  return sig;
}

/** Runs `work` with a signal that aborts when the client's connection closes (one listener per HTTP request). */
async function whileConnected<T>(ctx: RouteContext, work: (signal: CancelSignal) => Promise<T>): Promise<T> {
  const abort = new Cancellation();
  const socket = ctx.req.raw.socket;
  const onClose = () => abort.abort();
  socket?.once('close', onClose);
  try {
    return await work(abort);
  } finally {
    socket?.removeListener('close', onClose);
  }
}

export interface TensorCall {
  tensors: WireTensor[];
  /** Outputs to return, in this order; all (model order) when undefined. */
  outputNames?: string[];
  explicitVersion: boolean;
  /** Headers for the handler besides the request's own (e.g. `explain`). */
  extraHeaders?: Record<string, string>;
}

/** Runs tensors through the model; the reply must carry tensors. */
export async function inferTensors(ctx: RouteContext, v: ModelVersion, call: TensorCall): Promise<WireTensor[]> {
  const request: InferenceRequest = {
    parts: [],
    headers: handlerHeaders(ctx.req, { url_path: '', explain: 'False', ...call.extraHeaders }),
    tensors: call.tensors,
  };
  if (call.outputNames !== undefined) request.outputNames = call.outputNames;
  const reply = await whileConnected(ctx, (signal) => v.pool.submit(request, { explicitVersion: call.explicitVersion, signal }));
  if (!reply.tensors) {
    throw internalError(`Model "${v.name}" answered without tensors: its handler does not return output tensors`);
  }
  return reply.tensors;
}

const utf8 = new TextDecoder('utf-8');

/** A handler reply's body as a JSON value: parsed JSON, else the text. */
export function replyValue(reply: InferenceReply): unknown {
  const text = utf8.decode(reply.body);
  const type = reply.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === undefined || type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * TorchServe's envelope semantics for handlers that do not take tensors: each instance is one
 * request of the handler's batch (all submitted at once, so they batch together), its result one
 * prediction. An instance `{"b64": s}` is the decoded bytes; any other object's keys become named
 * parameters (so `{"data": "<base64 image>"}` reaches a vision handler as TorchServe's would);
 * anything else is the JSON body.
 */
export async function inferInstances(ctx: RouteContext, v: ModelVersion, instances: readonly unknown[], explicitVersion: boolean, explain: boolean): Promise<unknown[]> {
  const headers = handlerHeaders(ctx.req, { url_path: '', explain: explain ? 'True' : 'False' });
  const replies = await whileConnected(ctx, (signal) =>
    Promise.all(instances.map((instance) => v.pool.submit({ parts: instanceParts(instance), headers: { ...headers } }, { explicitVersion, signal }))),
  );
  return replies.map(replyValue);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
function json(v: unknown): Uint8Array {
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch {
    // JSON.stringify recurses (JSON.parse does not): a nesting bomb overflows the stack.
    throw badRequest('An instance is nested too deeply to be passed to the handler');
  }
  return new TextEncoder().encode(text);
}

export function instanceParts(instance: unknown): RequestPart[] {
  if (isObject(instance)) {
    const keys = Object.keys(instance);
    if (keys.length === 1 && keys[0] === 'b64' && typeof instance.b64 === 'string') {
      return [{ name: 'body', data: new Uint8Array(Buffer.from(instance.b64, 'base64')) }];
    }
    if (keys.length > 0) return keys.map((k) => ({ name: k, contentType: 'application/json', data: json(instance[k]) }));
  }
  return [{ name: 'body', contentType: 'application/json', data: json(instance) }];
}
