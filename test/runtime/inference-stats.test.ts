/**
 * Dynamic batches mixing tensor and JSON requests, and the pool's Triton-compatible statistics:
 * exact counts, positive durations, and the relation between end-to-end, queue and compute times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/runtime/pool.js';
import type { InferenceReply, InferenceStatistics, WireTensor } from '../../src/runtime/types.js';
import { fixedBatch, mlp, type MlpModel } from '../fixtures/models.js';
import { expectClose, jsonRequest, rejection, replyJson, startPool, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let model: MlpModel;
let fixedFile: string;
const pools: WorkerPool[] = [];

async function pool(file: string, overrides = {}): Promise<WorkerPool> {
  const p = await startPool(file, overrides);
  pools.push(p);
  return p;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await mlp(dir);
  fixedFile = (await fixedBatch(dir)).path;
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

const xTensor = (rows: number[][]): WireTensor => ({ name: 'x', datatype: 'FP32', shape: [rows.length, 4], data: Float32Array.from(rows.flat()) });

/** The rows of a [N,3] FP32 reply tensor. */
function tensorRows(reply: InferenceReply): number[][] {
  expect(reply.body.byteLength).toBe(0);
  const [y] = reply.tensors ?? [];
  expect(y).toMatchObject({ name: 'y', datatype: 'FP32' });
  const data = Array.from(y!.data as Float32Array);
  const n = y!.shape[0] ?? 0;
  return Array.from({ length: n }, (_, i) => data.slice(i * 3, i * 3 + 3));
}

function expectDurations(stats: InferenceStatistics, count: number): void {
  const s = stats.inference_stats;
  for (const key of ['success', 'queue', 'compute_input', 'compute_infer', 'compute_output'] as const) {
    expect(s[key].count, key).toBe(count);
    expect(s[key].ns, key).toBeGreaterThan(0);
    expect(Number.isInteger(s[key].ns), key).toBe(true);
  }
  // Each request's end-to-end time covers its queue time and its batch's whole worker time.
  expect(s.success.ns).toBeGreaterThanOrEqual(s.queue.ns + s.compute_input.ns + s.compute_infer.ns + s.compute_output.ns);
  expect(s.cache_hit).toEqual({ count: 0, ns: 0 });
  expect(s.cache_miss).toEqual({ count: 0, ns: 0 });
}

describe('tensor and JSON requests in the same dynamic batches', () => {
  it('runs concurrent tensor and JSON requests together and answers each in its own kind, with exact statistics', async () => {
    const p = await pool(model.path, { batchSize: 4, maxBatchDelayMs: 50 });
    expect(p.inferenceStats()).toMatchObject({ last_inference: 0, inference_count: 0, execution_count: 0 });
    const before = Date.now();
    const t1 = [
      [0.5, -1, 2, 0.25],
      [1, 2, 3, 4],
    ];
    const j1 = [0, 1, 0, 1];
    const t2 = [[-1, -2, 0.5, 3]];
    const j2 = [
      [2, 2, 2, 2],
      [0, 0, 0, 0],
      [1, -1, 1, -1],
    ];
    const [r1, r2, r3, r4] = await Promise.all([
      p.submit({ parts: [], headers: {}, tensors: [xTensor(t1)] }),
      p.submit(jsonRequest(j1)),
      p.submit({ parts: [], headers: {}, tensors: [xTensor(t2)], outputNames: ['y'] }),
      p.submit(jsonRequest({ x: j2 })),
    ]);
    expect(p.stats()).toMatchObject({ batches: 1, jobs: 4, runs: 1 });
    expectClose(tensorRows(r1!), model.expected(t1));
    expectClose(replyJson(r2!), model.expected([j1])[0]);
    expectClose(tensorRows(r3!), model.expected(t2));
    expectClose(replyJson(r4!), model.expected(j2));

    const stats = p.inferenceStats();
    // Items: 2 tensor rows + 1 (JSON row without batch dim) + 1 tensor row + 3 JSON rows; one ORT run.
    expect(stats.inference_count).toBe(7);
    expect(stats.execution_count).toBe(1);
    expect(stats.inference_stats.fail).toEqual({ count: 0, ns: 0 });
    expectDurations(stats, 4);
    expect(stats.last_inference).toBeGreaterThanOrEqual(before);
    expect(stats.last_inference).toBeLessThanOrEqual(Date.now());

    // A failed request counts as a failure only: no items, no execution, no compute time.
    const e = await rejection(p.submit({ parts: [], headers: {}, tensors: [{ ...xTensor(t2), datatype: 'FP64', data: new Float64Array(4) }] }));
    expect(e.message).toBe('input "x": expected datatype FP32, got FP64');
    const after = p.inferenceStats();
    expect(after.inference_count).toBe(7);
    expect(after.execution_count).toBe(1);
    expect(after.inference_stats.fail.count).toBe(1);
    expect(after.inference_stats.fail.ns).toBeGreaterThan(0);
    expect(after.inference_stats.success).toEqual(stats.inference_stats.success);
    expect(after.inference_stats.compute_infer).toEqual(stats.inference_stats.compute_infer);
    expect(after.last_inference).toBeGreaterThanOrEqual(stats.last_inference);
    // The snapshot is a copy.
    after.inference_stats.fail.count = 99;
    expect(p.inferenceStats().inference_stats.fail.count).toBe(1);
  });

  it('counts one item per request and one execution per run for a model that cannot batch', async () => {
    const p = await pool(fixedFile, { batchSize: 4, maxBatchDelayMs: 20 });
    const x = (v: number): WireTensor => ({ name: 'x', datatype: 'FP32', shape: [1, 3], data: Float32Array.of(v, v, v) });
    const replies = await Promise.all([
      p.submit({ parts: [], headers: {}, tensors: [x(1)] }),
      p.submit(jsonRequest([[2, 2, 2]])),
      p.submit({ parts: [], headers: {}, tensors: [x(3)] }),
    ]);
    expect(Array.from(replies[0]!.tensors![0]!.data as Float32Array)).toEqual([3, 3, 3]);
    expect(replyJson(replies[1]!)).toEqual([[5, 5, 5]]);
    expect(Array.from(replies[2]!.tensors![0]!.data as Float32Array)).toEqual([7, 7, 7]);
    const stats = p.inferenceStats();
    expect(stats.inference_count).toBe(3);
    expect(stats.execution_count).toBe(3);
    expect(p.stats().runs).toBe(3);
    expectDurations(stats, 3);
  });

  it('counts requests refused at submit (queue full, no worker) as failures', async () => {
    const p = await pool(model.path, { jobQueueSize: 1, batchSize: 2, maxBatchDelayMs: 30 });
    const first = p.submit({ parts: [], headers: {}, tensors: [xTensor([[1, 1, 1, 1]])] });
    const full = await rejection(p.submit(jsonRequest([1, 1, 1, 1])));
    expect(full.status).toBe(503);
    await first;
    await p.shutdown();
    await rejection(p.submit(jsonRequest([1, 1, 1, 1])));
    const stats = p.inferenceStats();
    expect(stats.inference_stats.success.count).toBe(1);
    expect(stats.inference_stats.fail.count).toBe(2);
    expect(stats.inference_count).toBe(1);
    expect(stats.execution_count).toBe(1);
  });
});
