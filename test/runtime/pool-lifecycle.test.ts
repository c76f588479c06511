/**
 * Queue limits, timeouts, crashes, scaling and shutdown, with real worker threads. The slow model
 * takes its loop count `n` as an input: ~0.3 ms per round on one core, so n=1000 ≈ 0.3 s.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noWorkerMessage } from '../../src/errors.js';
import { WorkerPool } from '../../src/runtime/pool.js';
import type { InferenceReply } from '../../src/runtime/types.js';
import { mlp, slow } from '../fixtures/models.js';
import {
  eventually,
  expectClose,
  jsonRequest,
  memoryLogger,
  poolOptions,
  rejection,
  replyJson,
  startPool,
  tempDir,
  within,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let slowPath: string;
let mlpPath: string;
const pools: WorkerPool[] = [];

async function pool(file: string, overrides = {}, workers = 1): Promise<WorkerPool> {
  const p = await startPool(file, { modelName: 'slow', ...overrides }, workers);
  pools.push(p);
  return p;
}

/** A slow-model request: x is a distinct row, so each reply can be matched to its request (y ≈ x). */
const slowJob = (p: WorkerPool, n: number, tag = 1) => p.submit(jsonRequest({ x: [tag, 0, 0, 0], n }));
const expectSlowReply = (reply: InferenceReply, tag: number) => expectClose(replyJson(reply), [tag, 0, 0, 0], 4);

const NO_WORKER = noWorkerMessage('slow');

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  slowPath = await slow(dir);
  mlpPath = (await mlp(dir)).path;
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

describe('admission', () => {
  it('rejects with 503 before any worker exists', async () => {
    const p = new WorkerPool(poolOptions(slowPath, { modelName: 'slow' }));
    const err = await rejection(p.submit(jsonRequest({ x: [1, 0, 0, 0], n: 1 })));
    expect([err.status, err.type, err.message]).toEqual([503, 'ServiceUnavailableException', NO_WORKER]);
    const versioned = await rejection(p.submit(jsonRequest({ x: [1, 0, 0, 0], n: 1 }), { explicitVersion: true }));
    expect(versioned.message).toBe(noWorkerMessage('slow', '1.0'));
  });

  it('rejects at once with 503 when jobQueueSize jobs are already waiting', async () => {
    const p = await pool(slowPath, { jobQueueSize: 2 });
    const running = slowJob(p, 1500, 1); // dispatched immediately: not in the queue
    const queued = [slowJob(p, 1, 2), slowJob(p, 1, 3)];
    expect(p.queueStatus()).toEqual({ remainingCapacity: 0, pendingRequests: 2 });
    const t0 = Date.now();
    const err = await rejection(slowJob(p, 1, 4));
    expect(Date.now() - t0).toBeLessThan(100);
    expect([err.status, err.message]).toEqual([503, NO_WORKER]);
    expectSlowReply(await running, 1);
    expectSlowReply(await queued[0]!, 2);
    expectSlowReply(await queued[1]!, 3);
    expect(p.queueStatus()).toEqual({ remainingCapacity: 2, pendingRequests: 0 });
  });
});

describe('failures', () => {
  it('fails a batch past responseTimeout with 500 "Worker died." and keeps serving with a new worker', async () => {
    const p = await pool(slowPath, { responseTimeoutSec: 0.3 });
    const firstId = p.workers()[0]!.id;
    const stuck = slowJob(p, 2500, 1); // ~0.8 s
    const waiting = slowJob(p, 1, 2); // queued behind it: served by the replacement
    const t0 = Date.now();
    const err = await within(rejection(stuck), 5000, 'timed-out job');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect([err.status, err.type, err.message]).toEqual([500, 'InternalServerException', 'Worker died.']);
    expectSlowReply(await within(waiting, 10_000, 'queued job'), 2);
    expectSlowReply(await slowJob(p, 1, 3), 3);
    expect(p.stats().workerDeaths).toBe(1);
    expect(p.workers()).toHaveLength(1);
    expect(p.workers()[0]!.id).not.toBe(firstId);
  });

  it('fails in-flight jobs of a crashed worker with "Worker died." and replaces it (custom handler)', async () => {
    const { dir: modelDir, cleanup: rmDir } = await tempDir();
    try {
      // A custom JS handler from the model folder: echoes, or exits the thread on "crash".
      await writeFile(
        path.join(modelDir, 'crashy.mjs'),
        `export function handle(batch) {
           return batch.map((r) => {
             const text = new TextDecoder().decode(r.parts[0].data);
             if (text === 'crash') process.exit(7);
             return 'echo ' + text;
           });
         }`,
      );
      const p = await startPool(mlpPath, { modelDir, handler: 'crashy.mjs' });
      pools.push(p);
      const say = (text: string) => p.submit({ parts: [{ name: 'body', data: new TextEncoder().encode(text) }], headers: {} });
      expect(new TextDecoder().decode((await say('hi')).body)).toBe('echo hi');
      const err = await within(rejection(say('crash')), 5000, 'crashed job');
      expect([err.status, err.message]).toEqual([500, 'Worker died.']);
      const after = await within(say('again'), 10_000, 'job after crash');
      expect(new TextDecoder().decode(after.body)).toBe('echo again');
      expect(p.stats().workerDeaths).toBe(1);
    } finally {
      await rmDir();
    }
  });

  it.each([
    ['runs out of its heap limit', `const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random()));`, { workerHeapLimitMb: 48 }],
    ['throws from a timer (an exception that escapes the handler)', `setTimeout(() => { throw new Error('escaped'); }, 0); return new Promise(() => {});`, {}],
  ] as const)('replaces a worker that %s; the in-flight job gets "Worker died."', async (_what, code, options) => {
    const { dir: modelDir, cleanup: rmDir } = await tempDir();
    try {
      await writeFile(
        path.join(modelDir, 'bad.mjs'),
        `export function handle(batch) {
           const text = new TextDecoder().decode(batch[0].parts[0].data);
           if (text === 'boom') { ${code} }
           return batch.map(() => 'ok ' + text);
         }`,
      );
      const p = await startPool(mlpPath, { modelDir, handler: 'bad.mjs', ...options });
      pools.push(p);
      const say = (text: string) => p.submit({ parts: [{ name: 'body', data: new TextEncoder().encode(text) }], headers: {} });
      expect(new TextDecoder().decode((await say('a')).body)).toBe('ok a');
      const err = await within(rejection(say('boom')), 20_000, 'job of the dying worker');
      expect([err.status, err.message]).toEqual([500, 'Worker died.']);
      const after = await within(say('b'), 20_000, 'job after the replacement');
      expect(new TextDecoder().decode(after.body)).toBe('ok b');
      expect(p.stats().workerDeaths).toBe(1);
      expect(p.readyWorkers()).toBe(1);
    } finally {
      await rmDir();
    }
  });

  it('reports a worker that cannot load as a start failure, and takes no jobs', async () => {
    const bad = path.join(dir, 'broken.onnx');
    await writeFile(bad, 'not an onnx model');
    const log = memoryLogger();
    const p = new WorkerPool(poolOptions(bad, { modelName: 'broken', modelVersion: '2.0' }), log);
    pools.push(p);
    const res = await within(p.scale(2, 2), 20_000, 'scale');
    expect(res.running).toBe(0);
    expect(res.failure).toEqual({
      status: 500,
      type: 'InternalServerException',
      message: 'Failed to start workers for model broken version: 2.0',
    });
    expect(log.lines.some((l) => l.includes('Failed to load model broken'))).toBe(true);
    await eventually(() => p.workers().length === 0, 10_000, 'failed workers removed');
    expect((await rejection(p.submit(jsonRequest([1])))).status).toBe(503);
  });

  it('fails the start when a worker exceeds startupTimeout', async () => {
    const p = new WorkerPool(poolOptions(slowPath, { modelName: 'slow', startupTimeoutSec: 0.001 }));
    pools.push(p);
    const res = await within(p.scale(1, 1), 5000, 'scale');
    expect(res.running).toBe(0);
    expect(res.failure?.message).toBe('Failed to start workers for model slow version: 1.0');
  });
});

describe('scaling', () => {
  it('scales up and down while requests are in flight, and every request settles correctly', async () => {
    const p = await pool(slowPath, { jobQueueSize: 500 });
    const jobs: Array<Promise<InferenceReply>> = [];
    const burst = (from: number) => {
      for (let i = from; i < from + 15; i++) jobs.push(slowJob(p, 60, i));
    };
    burst(0);
    const up = p.scale(3, 3);
    burst(15);
    expect((await within(up, 20_000, 'scale up')).running).toBe(3);
    burst(30);
    const down = await p.scale(1, 1);
    expect(down.running).toBeLessThanOrEqual(1);
    burst(45);
    const again = p.scale(2, 4);
    const replies = await within(Promise.all(jobs), 30_000, 'all jobs');
    replies.forEach((r, i) => expectSlowReply(r, i));
    expect((await again).running).toBe(2);
    expect(p.workerTarget()).toEqual({ minWorkers: 2, maxWorkers: 4 });
    await eventually(() => p.workers().length === 2, 5000, 'two workers');
    expect(p.workers().every((w) => w.status === 'READY' && w.pid === process.pid && !w.gpu)).toBe(true);
  });

  it('lets a busy worker finish its batch before it leaves (UNLOADING meanwhile)', async () => {
    const p = await pool(slowPath, {}, 2);
    const a = slowJob(p, 1000, 1);
    const b = slowJob(p, 1000, 2);
    await p.scale(1, 1);
    expect(p.workers().map((w) => w.status).sort()).toEqual(['READY', 'UNLOADING']);
    expect(p.readyWorkers()).toBe(1);
    expectSlowReply(await a, 1);
    expectSlowReply(await b, 2);
    await eventually(() => p.workers().length === 1, 5000, 'retired worker gone');
  });

  it('scaling to 0 fails queued jobs with 503, finishes the running one, and can scale back', async () => {
    const p = await pool(slowPath);
    const running = slowJob(p, 1000, 1);
    const queued = [slowJob(p, 1, 2), slowJob(p, 1, 3)];
    const res = await p.scale(0, 0);
    expect(res.running).toBe(0);
    for (const q of queued) {
      const err = await within(rejection(q), 1000, 'queued job');
      expect([err.status, err.message]).toEqual([503, NO_WORKER]);
    }
    expectSlowReply(await running, 1);
    expect((await rejection(slowJob(p, 1))).status).toBe(503);
    expect(p.readyWorkers()).toBe(0);
    expect((await p.scale(1, 1)).running).toBe(1);
    expectSlowReply(await slowJob(p, 1, 4), 4);
  });
});

describe('shutdown', () => {
  it('fails queued and in-flight jobs with 503 and terminates every worker', async () => {
    const p = await pool(slowPath, {}, 1);
    const failures = [rejection(slowJob(p, 1000, 1)), rejection(slowJob(p, 1, 2))]; // in flight, queued
    await within(p.shutdown(), 6000, 'shutdown');
    for (const err of await Promise.all(failures)) expect([err.status, err.message]).toEqual([503, NO_WORKER]);
    expect(p.workers()).toEqual([]);
    expect((await rejection(slowJob(p, 1))).message).toBe(NO_WORKER);
    expect((await p.scale(1, 1)).running).toBe(0);
  });
});
