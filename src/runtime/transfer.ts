/**
 * Which ArrayBuffers can be moved (not copied) across the thread boundary.
 *
 * Tensor-native requests: every WireTensor typed array crosses as a transferred buffer, both ways.
 * One that covers its whole ArrayBuffer is transferred as it is (zero copies; the sender's array is
 * detached afterwards). One that is a view into part of a larger buffer (a slice of the HTTP body,
 * a row range of a batched output, a pooled small Buffer) is copied exactly once into an array of
 * its own, which is transferred: transferring the larger buffer would detach memory the caller
 * still uses (the rest of the body, other tensors), and leaving it to structured clone would copy
 * the *whole* larger buffer. BYTES tensors (string arrays) are structured-cloned.
 */
import { ownedArray } from '../handlers/wire-tensors.js';
import type { InferenceReply, InferenceRequest, WireTensor } from './types.js';

/**
 * Buffers that the views own completely. A view into a larger buffer (e.g. Node's pooled small
 * Buffers) is left out: transferring it would detach unrelated memory, so structured clone copies it.
 */
export function transferList(views: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views) {
    const buf = v.buffer;
    if (buf instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === buf.byteLength && buf.byteLength > 0) {
      out.add(buf);
    }
  }
  return [...out];
}

/** The typed arrays of some tensors (BYTES tensors have none). */
export function tensorViews(tensors: readonly WireTensor[] | undefined): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  for (const t of tensors ?? []) if (!Array.isArray(t.data)) out.push(t.data);
  return out;
}

/** Tensors whose typed arrays all own their buffers: the same objects, or copies of the partial views (once). */
export function ownedTensors(tensors: readonly WireTensor[]): WireTensor[] {
  return tensors.map((t) => {
    if (Array.isArray(t.data)) return t;
    const data = ownedArray(t.data);
    return data === t.data ? t : { ...t, data };
  });
}

/**
 * The request as it is posted to a worker (tensor views copied where needed, see above) and the
 * buffers to transfer with it. The caller's parts and owned tensor arrays are detached by the post.
 */
export function requestForTransfer(request: InferenceRequest): { request: InferenceRequest; views: ArrayBufferView[] } {
  const views: ArrayBufferView[] = request.parts.map((p) => p.data);
  if (request.tensors === undefined) return { request, views };
  const tensors = ownedTensors(request.tensors);
  views.push(...tensorViews(tensors));
  return { request: { ...request, tensors }, views };
}

/** The buffers of a reply to transfer: its body and its tensors (which the default handler makes owned). */
export function replyViews(reply: InferenceReply): ArrayBufferView[] {
  return [reply.body, ...tensorViews(reply.tensors)];
}
