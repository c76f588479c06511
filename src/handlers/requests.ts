/**
 * InferenceRequest (raw parts from the HTTP layer) → the HandlerRequest a handler sees. `data` is
 * decoded as TorchServe's Python worker decodes input parameters (spec §4.3): JSON for
 * `application/json`, a UTF-8 string for `text/*`, bytes otherwise. Decoding is lazy (on first
 * read of `data`), so handlers that read `parts` (the default ONNX handler) never pay for it.
 */
import type { HandlerRequest } from './api.js';
import type { InferenceRequest, RequestPart, WireTensor } from '../runtime/types.js';

const decoder = new TextDecoder('utf-8');

/** One parameter's value: JSON (falling back to the bytes when it does not parse), text or bytes. */
export function decodePart(part: Pick<RequestPart, 'contentType' | 'data'>): unknown {
  const type = part.contentType?.toLowerCase();
  if (type === 'application/json') {
    try {
      return JSON.parse(decoder.decode(part.data)) as unknown;
    } catch {
      return part.data;
    }
  }
  if (type?.startsWith('text')) return decoder.decode(part.data);
  return part.data;
}

/** `{name: decoded value}`; duplicate names: the last wins, as in TorchServe's request dict. */
export function decodeParts(parts: ReadonlyArray<Pick<RequestPart, 'name' | 'contentType' | 'data'>>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const part of parts) {
    // defineProperty: a `__proto__` field must stay data.
    Object.defineProperty(data, part.name, { value: decodePart(part), enumerable: true, writable: true, configurable: true });
  }
  return data;
}

/** What a tensor-native request carries besides its (empty) parts. */
export interface TensorRequest {
  tensors: readonly WireTensor[];
  outputNames?: readonly string[];
}

/**
 * The tensors of a tensor-native request, by its HandlerRequest. Kept off the public HandlerRequest
 * (custom handlers do not take tensor requests): only the default ONNX handler's preprocess reads it.
 */
const tensorRequests = new WeakMap<HandlerRequest, TensorRequest>();

export function tensorRequestOf(request: HandlerRequest): TensorRequest | undefined {
  return tensorRequests.get(request);
}

export function toHandlerRequest(request: InferenceRequest): HandlerRequest {
  let data: Record<string, unknown> | undefined;
  const handlerRequest: HandlerRequest = {
    parts: request.parts,
    headers: request.headers,
    get data() {
      data ??= decodeParts(request.parts);
      return data;
    },
  };
  if (request.tensors !== undefined) {
    const tensors: TensorRequest = { tensors: request.tensors };
    if (request.outputNames !== undefined) tensors.outputNames = request.outputNames;
    tensorRequests.set(handlerRequest, tensors);
  }
  return handlerRequest;
}
