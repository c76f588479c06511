/**
 * Busy-polling between the main thread and a worker (runtime/lane.ts): the lane's primitives, and a
 * real pool on a real model that picks results and batches up awake while the server is otherwise
 * idle — and never otherwise. Replies must be the same whichever way they travel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLane, drain, pollFor, post, TO_POOL, TO_WORKER } from '../../src/runtime/lane.js';
import type { WorkerPool } from '../../src/runtime/pool.js';
import type { ArrivalHint } from '../../src/runtime/types.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { expectClose, inferJson, startPool, tempDir } from './helpers.js';

describe('lane', () => {
  it('a posted message is seen by polling and handed over synchronously, in order', () => {
    const { pool, worker } = createLane();
    const far = { port: worker.port, bell: new Int32Array(worker.bell) };
    try {
      expect(pollFor(pool.bell, TO_POOL, 0, 1000)).toBe(false);
      post(far, TO_POOL, { n: 1 });
      post(far, TO_POOL, { n: 2 });
      expect(pollFor(pool.bell, TO_POOL, 0, 0)).toBe(true);
      const got: unknown[] = [];
      expect(drain(pool.port, (m) => got.push(m))).toBe(2);
      expect(got).toEqual([{ n: 1 }, { n: 2 }]);
      // Two consumed: nothing more is waiting, and the other direction is untouched.
      expect(pollFor(pool.bell, TO_POOL, 2, 0)).toBe(false);
      expect(Atomics.load(pool.bell, TO_WORKER)).toBe(0);
    } finally {
      pool.port.close();
      worker.port.close();
    }
  });

  it('gives up after its budget', () => {
    const { pool, worker } = createLane();
    const t0 = performance.now();
    expect(pollFor(pool.bell, TO_POOL, 0, 2000)).toBe(false);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(2);
    expect(ms).toBeLessThan(1000);
    pool.port.close();
    worker.port.close();
  });
});

describe('pool busy-polling', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let model: MlpModel;
  const pools: WorkerPool[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    model = await mlp(dir);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.shutdown()));
    await cleanup();
  });

  const hint = (alone: boolean): ArrivalHint => ({ couldArrive: () => false, onQuiet: () => () => {}, alone: () => alone });
  const row = (i: number) => [i / 10, 1 - i / 20, 0.5, 2];

  async function sequential(alone: boolean, busyPollUs: number) {
    // A generous budget: CI machines are slow and shared; the test is about the path, not the speed.
    const pool = await startPool(model.path, { arrivals: hint(alone), busyPollUs });
    pools.push(pool);
    for (let i = 0; i < 40; i++) {
      const out = await inferJson(pool, [row(i)]);
      expectClose(out, model.expected([row(i)]));
    }
    return pool.stats();
  }

  it('picks results and next batches up awake when the request is alone, with the same replies', async () => {
    const s = await sequential(true, 20_000);
    expect(s.jobs).toBe(40);
    expect(s.polledResults).toBeGreaterThan(0);
    expect(s.polledBatches).toBeGreaterThan(0);
  });

  it('never polls when other requests are in flight, or when turned off', async () => {
    for (const [alone, us] of [
      [false, 20_000],
      [true, 0],
    ] as const) {
      const s = await sequential(alone, us);
      expect(s.jobs).toBe(40);
      expect(s.polledResults).toBe(0);
      expect(s.polledBatches).toBe(0);
    }
  });
});
