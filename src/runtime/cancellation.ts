/**
 * A minimal, synchronous abort signal for the per-request hot path. An AbortController costs an
 * EventTarget, an Event object and its listener bookkeeping per request (about 3 % of the main
 * thread's time at full load in the Iris profile); this is a flag and a short array. It has the
 * subset of AbortSignal that WorkerPool.submit uses (`CancelSignal`): listeners run once, in order.
 */
import type { CancelSignal } from './types.js';

export class Cancellation implements CancelSignal {
  aborted = false;
  private listeners: Array<() => void> | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const l of listeners) l();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners!.splice(i, 1);
  }
}
