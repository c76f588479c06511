/** The native-call flag: the pool may lock it only while no ORT call is in flight, and a locked flag stops new calls. */
import { describe, expect, it } from 'vitest';
import { createNativeFlag, enterNative, leaveNative, lockNative, tracked, WorkerStoppingError } from '../../src/runtime/native-flag.js';

describe('native-call flag', () => {
  it('counts calls in flight, and cannot be locked while one is', async () => {
    const flag = createNativeFlag();
    enterNative(flag);
    enterNative(flag);
    expect(flag[0]).toBe(2);
    expect(lockNative(flag)).toBe(false);
    leaveNative(flag);
    leaveNative(flag);
    let seen = -2;
    await tracked(flag, async () => {
      seen = flag[0]!;
    });
    expect(seen).toBe(1);
    expect(flag[0]).toBe(0);
  });

  it('once locked, refuses new calls (and stays locked)', async () => {
    const flag = createNativeFlag();
    expect(lockNative(flag)).toBe(true);
    expect(lockNative(flag)).toBe(true);
    expect(() => enterNative(flag)).toThrow(WorkerStoppingError);
    await expect(tracked(flag, () => Promise.resolve(1))).rejects.toThrow('the worker is being stopped');
  });

  it('lowers the flag when the call fails', async () => {
    const flag = createNativeFlag();
    await expect(tracked(flag, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(flag[0]).toBe(0);
  });
});
