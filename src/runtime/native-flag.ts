/**
 * The native-call flag shared by a pool and its worker thread (one Int32 on a SharedArrayBuffer).
 * Worker.terminate() while the thread is inside an ONNX Runtime call aborts the whole process, so:
 * the worker counts its ORT calls in flight (≥ 0); the pool may end a stuck thread only by
 * swapping 0 for LOCKED, after which the worker refuses to enter ORT again. Either the pool sees a
 * call in flight and waits, or the worker sees the lock and throws: never both in native code.
 */
export const LOCKED = -1;

export function createNativeFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

export class WorkerStoppingError extends Error {
  constructor() {
    super('the worker is being stopped');
    this.name = 'WorkerStoppingError';
  }
}

/** Worker side: marks one native call as started; throws once the pool has locked the flag. */
export function enterNative(flag: Int32Array): void {
  for (;;) {
    const n = Atomics.load(flag, 0);
    if (n < 0) throw new WorkerStoppingError();
    if (Atomics.compareExchange(flag, 0, n, n + 1) === n) return;
  }
}

export function leaveNative(flag: Int32Array): void {
  Atomics.sub(flag, 0, 1);
}

/** Worker side: runs `call` (a native ORT call) with the flag raised until its promise settles. */
export async function tracked<T>(flag: Int32Array, call: () => Promise<T>): Promise<T> {
  enterNative(flag);
  try {
    return await call();
  } finally {
    leaveNative(flag);
  }
}

/** Pool side: true when no native call is in flight and none can start any more (terminate is safe). */
export function lockNative(flag: Int32Array): boolean {
  const n = Atomics.compareExchange(flag, 0, 0, LOCKED);
  return n === 0 || n === LOCKED;
}
