/** Cancellation: the AbortSignal subset WorkerPool.submit uses, without an EventTarget per request. */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../src/runtime/cancellation.js';

describe('Cancellation', () => {
  it('calls each listener once, in order, on the first abort only', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.addEventListener('abort', () => calls.push('a'));
    c.addEventListener('abort', () => calls.push('b'));
    expect(c.aborted).toBe(false);
    c.abort();
    c.abort();
    expect(c.aborted).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('forgets removed listeners, and ignores listeners added after the abort', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const a = () => calls.push('a');
    c.addEventListener('abort', a);
    c.addEventListener('abort', () => calls.push('b'));
    c.removeEventListener('abort', a);
    c.removeEventListener('abort', () => undefined); // unknown: no effect
    c.abort();
    c.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual(['b']);
  });
});
