/** Shared bits of the runtime tests: pools with test defaults, JSON requests, timeouts. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { ServeError } from '../../src/errors.js';
import { WorkerPool, type PoolLogger } from '../../src/runtime/pool.js';
import type { InferenceReply, InferenceRequest, WorkerPoolOptions } from '../../src/runtime/types.js';

export async function tempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onnxserve-rt-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Collects pool logs so tests can print them on failure without flooding the output. */
export function memoryLogger(): PoolLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

export function poolOptions(modelFile: string, overrides: Partial<WorkerPoolOptions> = {}): WorkerPoolOptions {
  return {
    modelName: 'm',
    modelVersion: '1.0',
    modelFile,
    modelDir: path.dirname(modelFile),
    batchSize: 1,
    maxBatchDelayMs: 0,
    responseTimeoutSec: 30,
    startupTimeoutSec: 30,
    jobQueueSize: 100,
    intraOpThreads: 1,
    ...overrides,
  };
}

/** A started pool (min = max = workers); throws when the workers fail to start. */
export async function startPool(
  modelFile: string,
  overrides: Partial<WorkerPoolOptions> = {},
  workers = 1,
): Promise<WorkerPool> {
  const pool = new WorkerPool(poolOptions(modelFile, overrides), memoryLogger());
  const res = await pool.scale(workers, workers);
  if (res.failure) throw new Error(`pool did not start: ${res.failure.message}`);
  expect(res.running).toBe(workers);
  return pool;
}

const encoder = new TextEncoder();

/** A request whose whole body is `value` as JSON (the `body` part, no content type, like curl -T). */
export function jsonRequest(value: unknown, name = 'body'): InferenceRequest {
  return { parts: [{ name, data: encoder.encode(JSON.stringify(value)) }], headers: {} };
}

export function multipartRequest(fields: Record<string, unknown>): InferenceRequest {
  return {
    parts: Object.entries(fields).map(([name, v]) => ({ name, data: encoder.encode(JSON.stringify(v)) })),
    headers: {},
  };
}

export function replyJson(reply: InferenceReply): unknown {
  expect(reply.status).toBe(200);
  expect(reply.contentType).toBe('application/json');
  return JSON.parse(new TextDecoder().decode(reply.body)) as unknown;
}

export async function inferJson(pool: WorkerPool, value: unknown): Promise<unknown> {
  return replyJson(await pool.submit(jsonRequest(value)));
}

/** The ServeError a promise rejects with (fails the test if it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<ServeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ServeError);
    return e as ServeError;
  }
  throw new Error('expected a rejection');
}

/** Guards against hangs: rejects if `p` has not settled within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** Deep numeric comparison of nested arrays/objects with float tolerance. */
export function expectClose(actual: unknown, expected: unknown, digits = 5, where = '$'): void {
  if (typeof expected === 'number') {
    expect(typeof actual, where).toBe('number');
    expect(actual as number, where).toBeCloseTo(expected, digits);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), where).toBe(true);
    expect((actual as unknown[]).length, where).toBe(expected.length);
    expected.forEach((e, i) => expectClose((actual as unknown[])[i], e, digits, `${where}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    expect(Object.keys(actual as object).sort(), where).toEqual(Object.keys(expected).sort());
    for (const [k, e] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], e, digits, `${where}.${k}`);
  } else {
    expect(actual, where).toEqual(expected);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until true or `ms` passes. */
export async function eventually(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(20);
  }
}
