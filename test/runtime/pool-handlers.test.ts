/**
 * Custom handler modules in real worker threads: streaming through the pool, cancellation from
 * the caller, handlers that never return (ended by responseTimeout, thread terminated), direct
 * `context.session.run` calls (counted), and initialize failures.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/runtime/pool.js';
import { Cancellation } from '../../src/runtime/cancellation.js';
import type { InferenceReply } from '../../src/runtime/types.js';
import { mlp, slow } from '../fixtures/models.js';
import { eventually, memoryLogger, poolOptions, rejection, startPool, tempDir, within } from './helpers.js';
import { WorkerPool as Pool } from '../../src/runtime/pool.js';

const HANDLER = `
export async function initialize(ctx) {
  ctx.greeting = 'hello from initialize';
  if (ctx.modelYamlConfig.failInit) throw new Error('initialize refused');
}
export async function handle(batch, ctx) {
  const cmd = new TextDecoder().decode(batch[0].parts[0].data);
  if (cmd === 'stream') {
    for (let i = 0; i < 3; i++) await ctx.sendIntermediate('part ' + i + '\\n');
    return ['done\\n'];
  }
  if (cmd === 'endless') {
    let n = 0;
    while (n < 2000 && (await ctx.sendIntermediate('tick ' + n + '\\n'))) {
      n++;
      await new Promise((r) => setTimeout(r, 5));
    }
    return [{ produced: n, cancelled: ctx.isCancelled() }];
  }
  if (cmd === 'hang') return new Promise(() => {});
  if (cmd === 'spin') for (;;) {}
  if (cmd === 'run') {
    const x = new ctx.ort.Tensor('float32', new Float32Array(8), [2, 4]);
    const out = await ctx.session.run({ x });
    const again = await ctx.run({ x });
    return [{ dims: out.y.dims, same: again.y.dims, greeting: ctx.greeting }];
  }
  return batch.map(() => 'echo');
}
`;

let dir: string;
let cleanup: () => Promise<void>;
let modelFile: string;
const pools: WorkerPool[] = [];

const say = (p: WorkerPool, text: string, opts: Parameters<WorkerPool['submit']>[1] = {}) =>
  p.submit({ parts: [{ name: 'body', data: new TextEncoder().encode(text) }], headers: {} }, opts);
const bodyText = (r: InferenceReply) => new TextDecoder().decode(r.body);

async function pool(overrides = {}): Promise<WorkerPool> {
  const p = await startPool(modelFile, { modelDir: dir, handler: 'handler.mjs', ...overrides });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  modelFile = (await mlp(dir)).path;
  await writeFile(path.join(dir, 'handler.mjs'), HANDLER);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

describe('custom handlers in worker threads', () => {
  it('streams intermediate replies in order before the final one', async () => {
    const p = await pool();
    const parts: InferenceReply[] = [];
    const final = await say(p, 'stream', { onIntermediate: (r) => void parts.push(r) });
    expect(parts.map(bodyText)).toEqual(['part 0\n', 'part 1\n', 'part 2\n']);
    expect(parts[0]).toMatchObject({ status: 200, contentType: 'text/plain; charset=utf-8' });
    expect(bodyText(final)).toBe('done\n');
  });

  it('tells the handler when the caller gives up: sendIntermediate turns false, isCancelled true', async () => {
    const p = await pool();
    const abort = new AbortController();
    let seen = 0;
    const final = await within(
      say(p, 'endless', {
        signal: abort.signal,
        onIntermediate: () => {
          if (++seen === 3) abort.abort();
        },
      }),
      5000,
      'cancelled stream',
    );
    const result = JSON.parse(bodyText(final)) as { produced: number; cancelled: boolean };
    expect(result.cancelled).toBe(true);
    expect(result.produced).toBeGreaterThanOrEqual(2);
    expect(result.produced).toBeLessThan(10);
    // onIntermediate returning false cancels too.
    const stopped = JSON.parse(bodyText(await say(p, 'endless', { onIntermediate: () => false }))) as { produced: number };
    expect(stopped.produced).toBeLessThan(5);
  });

  it('drops a queued job whose caller gave up, without running it', async () => {
    const p = await pool({ responseTimeoutSec: 5 });
    const busy = say(p, 'stream');
    const abort = new AbortController();
    const queued = say(p, 'echo', { signal: abort.signal });
    abort.abort();
    const err = await rejection(queued);
    expect(err.status).toBe(503);
    expect(bodyText(await busy)).toBe('done\n');
    expect(p.stats().jobs).toBe(1);
  });

  it('drops a queued job cancelled through a Cancellation (the HTTP path) too', async () => {
    const p = await pool({ responseTimeoutSec: 5 });
    const busy = say(p, 'stream');
    const cancel = new Cancellation();
    const queued = say(p, 'echo', { signal: cancel });
    cancel.abort();
    const err = await rejection(queued);
    expect(err.status).toBe(503);
    expect(bodyText(await busy)).toBe('done\n');
    expect(p.stats().jobs).toBe(1);
  });

  it('counts session.run called directly on the context session, and keeps initialize state', async () => {
    const p = await pool();
    const reply = await say(p, 'run');
    expect(JSON.parse(bodyText(reply))).toEqual({ dims: [2, 3], same: [2, 3], greeting: 'hello from initialize' });
    expect(p.stats().runs).toBe(2);
  });

  for (const cmd of ['hang', 'spin']) {
    it(`ends a handler that never returns (${cmd}) at responseTimeout, terminates its thread, and serves again`, async () => {
      const p = await pool({ responseTimeoutSec: 0.5 });
      const err = await within(rejection(say(p, cmd)), 5000, `${cmd} job`);
      expect([err.status, err.message]).toEqual([500, 'Worker died.']);
      expect(bodyText(await within(say(p, 'echo'), 10_000, 'job after timeout'))).toBe('echo');
      await eventually(() => p.liveThreads() === 1, 5000, 'stuck thread terminated');
      expect(p.stats().workerDeaths).toBe(1);
    });
  }

  it('never terminates a stuck worker inside ONNX Runtime, also in a session the handler created itself', async () => {
    // ~0.8 s of native work in a second session, past a 0.3 s responseTimeout: terminating the
    // thread then would abort this whole process.
    const slowFile = await slow(dir, { file: 'slow-own.onnx' });
    await writeFile(
      path.join(dir, 'own-session.mjs'),
      `let own;
       export async function initialize(ctx) { own = await ctx.ort.InferenceSession.create(ctx.modelFile); }
       export async function handle(batch, ctx) {
         const n = Number(new TextDecoder().decode(batch[0].parts[0].data));
         const out = await own.run({ x: new ctx.ort.Tensor('float32', new Float32Array(4), [1, 4]), n: new ctx.ort.Tensor('int64', BigInt64Array.from([BigInt(n)]), []) });
         return [Array.from(out.y.dims)];
       }`,
    );
    const p = await startPool(slowFile, { modelDir: dir, handler: 'own-session.mjs', responseTimeoutSec: 0.3 });
    pools.push(p);
    const err = await within(rejection(say(p, '2500')), 5000, 'timed-out job');
    expect([err.status, err.message]).toEqual([500, 'Worker died.']);
    expect(JSON.parse(bodyText(await within(say(p, '1'), 10_000, 'next job')))).toEqual([1, 4]);
    await eventually(() => p.liveThreads() === 1, 5000, 'old thread gone');
    expect(p.stats().runs).toBeGreaterThanOrEqual(1);
  });

  it('fails the worker load when initialize throws, with the reason in the log', async () => {
    const log = memoryLogger();
    const p = new Pool(poolOptions(modelFile, { modelDir: dir, handler: 'handler.mjs', modelYamlConfig: { failInit: true } }), log);
    pools.push(p);
    const res = await within(p.scale(1, 1), 20_000, 'scale');
    expect(res.failure?.message).toBe('Failed to start workers for model m version: 1.0');
    expect(log.lines.some((l) => l.includes('handler "handler.mjs" failed to initialize') && l.includes('initialize refused'))).toBe(true);
  });
});

describe('stray handler errors', () => {
  it('logs a rejection the handler forgot to await, and keeps the worker', async () => {
    const { dir: d, cleanup: rm } = await tempDir();
    try {
      const file = (await mlp(d)).path;
      await writeFile(
        path.join(d, 'sloppy.mjs'),
        `export function handle(batch, ctx) {
           ctx.sendIntermediate('x', 99); // rejects: index out of range, never awaited
           return batch.map(() => 'still here');
         }`,
      );
      const log = memoryLogger();
      const p = new Pool(poolOptions(file, { modelDir: d, handler: 'sloppy.mjs' }), log);
      pools.push(p);
      expect((await p.scale(1, 1)).failure).toBeUndefined();
      expect(bodyText(await say(p, 'a'))).toBe('still here');
      expect(bodyText(await say(p, 'b'))).toBe('still here');
      await eventually(() => log.lines.some((l) => l.includes('unhandled rejection in the handler: RangeError')), 5000, 'logged');
      expect(p.stats().workerDeaths).toBe(0);
    } finally {
      await rm();
    }
  });
});
