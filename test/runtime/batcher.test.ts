/**
 * The batching rule (pool.ts, dispatch): a lone request never waits out maxBatchDelay for a batch
 * that cannot fill; requests submitted together share runs; a partial batch is held only while the
 * arrival hint says another request is on its way, and never past maxBatchDelay.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/runtime/pool.js';
import type { ArrivalHint } from '../../src/runtime/types.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { expectClose, inferJson, startPool, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let model: MlpModel;
const pools: WorkerPool[] = [];

async function pool(overrides = {}): Promise<WorkerPool> {
  const p = await startPool(model.path, overrides);
  pools.push(p);
  return p;
}

/** An arrival hint the test drives: `coming` says whether a request is on its way. */
function fakeArrivals(): ArrivalHint & { coming: boolean; quiet(): void; asked: number } {
  const listeners = new Set<() => void>();
  const hint = {
    coming: true,
    asked: 0,
    couldArrive: () => {
      hint.asked++;
      return hint.coming;
    },
    onQuiet: (l: () => void) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    alone: () => false,
    quiet: () => {
      hint.coming = false;
      for (const l of [...listeners]) l();
    },
  };
  return hint;
}

const row = (i: number) => [i, -1, 0.5 * i, 2];
const timed = async <T>(p: Promise<T>): Promise<{ value: T; ms: number }> => {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await mlp(dir);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

describe('batching rule', () => {
  it('answers a lone request at once with batchSize 8 / maxBatchDelay 100 ms (no arrival hint)', async () => {
    const p = await pool({ batchSize: 8, maxBatchDelayMs: 100 });
    await inferJson(p, row(0)); // warm-up
    const times: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const { value, ms } = await timed(inferJson(p, row(i)));
      expectClose(value, model.expected([row(i)])[0]);
      times.push(ms);
    }
    // Waiting for the batch to fill would take ≥ 100 ms every time.
    expect(median(times)).toBeLessThan(50);
    expect(p.stats()).toMatchObject({ batches: 6, jobs: 6, runs: 6 });
  });

  it('still batches requests submitted together: fewer runs than requests', async () => {
    const p = await pool({ batchSize: 8, maxBatchDelayMs: 100 });
    const rows = Array.from({ length: 8 }, (_, i) => row(i));
    const got = await Promise.all(rows.map((r) => inferJson(p, r)));
    got.forEach((g, i) => expectClose(g, model.expected([rows[i]!])[0]));
    expect(p.stats()).toMatchObject({ batches: 1, jobs: 8, runs: 1 });
  });

  it('sends a full batch without waiting, even while more requests are on their way', async () => {
    const arrivals = fakeArrivals();
    const p = await pool({ batchSize: 4, maxBatchDelayMs: 5_000, arrivals });
    const { ms } = await timed(Promise.all(Array.from({ length: 4 }, (_, i) => inferJson(p, row(i)))));
    expect(ms).toBeLessThan(2_000);
    expect(p.stats()).toMatchObject({ batches: 1, jobs: 4, runs: 1 });
  });

  it('holds a partial batch while a request is on its way, and sends it once none is', async () => {
    const arrivals = fakeArrivals();
    const p = await pool({ batchSize: 8, maxBatchDelayMs: 5_000, arrivals });
    const first = timed(inferJson(p, row(1)));
    await new Promise((r) => setTimeout(r, 50));
    const second = inferJson(p, row(2)); // arrives while the first is held: joins it
    await new Promise((r) => setTimeout(r, 50));
    expect(p.queueStatus().pendingRequests).toBe(2);
    arrivals.quiet();
    const [a, b] = [await first, await second];
    expectClose(a.value, model.expected([row(1)])[0]);
    expectClose(b, model.expected([row(2)])[0]);
    expect(a.ms).toBeGreaterThanOrEqual(90);
    expect(a.ms).toBeLessThan(2_000); // not the 5 s deadline
    expect(p.stats()).toMatchObject({ batches: 1, jobs: 2, runs: 1 });
    expect(arrivals.asked).toBeGreaterThan(0);
  });

  it('never holds past maxBatchDelay, whatever the hint says', async () => {
    const arrivals = fakeArrivals();
    const p = await pool({ batchSize: 8, maxBatchDelayMs: 150, arrivals });
    const { value, ms } = await timed(inferJson(p, row(3)));
    expectClose(value, model.expected([row(3)])[0]);
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(2_000);
    expect(p.queueStatus().pendingRequests).toBe(0);
  });
});
