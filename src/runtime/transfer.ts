/** Which ArrayBuffers can be moved (not copied) across the thread boundary. */

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
