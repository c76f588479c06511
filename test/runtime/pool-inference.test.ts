/**
 * Real ONNX files, real worker threads: replies must equal a direct in-process session.run.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/runtime/pool.js';
import { fixedBatch, mlp, multiInput, sileroPath, type MlpModel, type MultiInputModel } from '../fixtures/models.js';
import {
  expectClose,
  inferJson,
  jsonRequest,
  multipartRequest,
  rejection,
  replyJson,
  startPool,
  tempDir,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let mlpModel: MlpModel;
let multi: MultiInputModel;
const pools: WorkerPool[] = [];

async function pool(file: string, overrides = {}): Promise<WorkerPool> {
  const p = await startPool(file, overrides);
  pools.push(p);
  return p;
}

/** Reference: the same model run on this thread. */
async function direct(file: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, unknown>> {
  const session = await ort.InferenceSession.create(file);
  try {
    const out = await session.run(feeds);
    const nested: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(out)) nested[name] = reshape(Array.from(t.data as ArrayLike<number>), [...t.dims]);
    return nested;
  } finally {
    await session.release();
  }
}

function reshape(flat: unknown[], dims: number[]): unknown {
  if (dims.length === 0) return flat[0];
  const [n, ...rest] = dims;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n ?? 0 }, (_, i) => reshape(flat.slice(i * size, (i + 1) * size), rest));
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  mlpModel = await mlp(dir);
  multi = await multiInput(dir);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

describe('default handler through a worker pool', () => {
  it('answers like an in-process session.run, with and without the batch dim', async () => {
    const p = await pool(mlpModel.path);
    const rows = [
      [0.5, -1, 2, 0.25],
      [1, 2, 3, 4],
    ];
    const want = await direct(mlpModel.path, { x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [2, 4]) });
    const got = await inferJson(p, { x: rows });
    expectClose(got, want['y']);
    expectClose(got, mlpModel.expected(rows));
    // A single row without the batch dim: the handler adds it, and removes it from the reply.
    expectClose(await inferJson(p, rows[1]), (want['y'] as number[][])[1]);
    expect(p.signature()).toEqual({
      inputs: [{ name: 'x', type: 'float32', shape: ['N', 4] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['N', 3] }],
    });
  });

  it('pretty-prints the reply JSON with two spaces, like json.dumps(indent=2)', async () => {
    const p = await pool(mlpModel.path);
    const reply = await p.submit(jsonRequest([[0, 0, 0, 0]]));
    const text = new TextDecoder().decode(reply.body);
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2));
    expect(text.startsWith('[\n  [\n    ')).toBe(true);
  });

  it('feeds several inputs of different dtypes and replies every output by name', async () => {
    const p = await pool(multi.path);
    const body = {
      a: [
        [1.5, -2],
        [0.25, 3],
      ],
      b: [
        [1, 2],
        [-10, 4],
      ],
      flag: [[true], [false]],
    };
    const got = (await inferJson(p, body)) as Record<string, unknown>;
    expect(Object.keys(got)).toEqual(['sum', 'count', 'positive']);
    const want = await direct(multi.path, {
      a: new ort.Tensor('float32', Float32Array.from(body.a.flat()), [2, 2]),
      b: new ort.Tensor('int64', BigInt64Array.from(body.b.flat().map(BigInt)), [2, 2]),
      flag: new ort.Tensor('bool', Uint8Array.from([1, 0]), [2, 1]),
    });
    expect(got['sum']).toEqual(want['sum']);
    expect(got['count']).toEqual((want['count'] as Array<Array<bigint>>).map((r) => r.map(Number)));
    expect(got['positive']).toEqual((want['positive'] as number[][]).map((r) => r.map(Boolean)));
    expect(got).toEqual({
      sum: [multi.expected({ a: [1.5, -2], b: [1, 2], flag: [true] }).sum, [0, 0]],
      count: [[4], [-6]],
      positive: [
        [true, false],
        [false, false],
      ],
    });
  });

  it('takes multipart fields per input, and one row per input without batch dims', async () => {
    const p = await pool(multi.path);
    const got = replyJson(await p.submit(multipartRequest({ a: [1, 1], b: [2, 3], flag: [1] })));
    expect(got).toEqual({ sum: [3, 4], count: [6], positive: [true, true] });
  });

  it('runs the real silero VAD model', async () => {
    const file = sileroPath();
    const p = await pool(file);
    const audio = Array.from({ length: 512 }, (_, i) => Math.fround(Math.sin(i / 8) * 0.3));
    const zeros = Array.from({ length: 2 }, () => [new Array<number>(64).fill(0)]);
    const got = (await inferJson(p, { input: audio, sr: 16000, h: zeros, c: zeros })) as Record<string, unknown>;
    const state = () => new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
    const want = await direct(file, {
      input: new ort.Tensor('float32', Float32Array.from(audio), [1, 512]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      h: state(),
      c: state(),
    });
    expect(Object.keys(got)).toEqual(['output', 'hn', 'cn']);
    // `output` is [batch, 1]: the batch dim we added is removed again; hn/cn keep their leading 2.
    expectClose(got['output'], (want['output'] as number[][])[0]);
    expectClose(got['hn'], want['hn']);
    expectClose(got['cn'], want['cn']);
  });

  it('rejects bad inputs with a 400 naming the input', async () => {
    const p = await pool(multi.path);
    const cases: Array<[unknown, RegExp]> = [
      [{ a: [1, 2, 3], b: [1, 2], flag: [true] }, /^Input "a": expected shape \[N,2\] \(float32\), received \[3\]$/],
      [{ a: [1, 2], b: [1.5, 2], flag: [true] }, /^Input "b": expected int64 values \(integers\), received 1\.5 at \[0\]$/],
      [{ a: [1, 2], b: [1, 2] }, /^Missing input "flag" \[N,1\] \(bool\)/],
      [{ a: [1, 2], b: [1, 2], flag: [true], extra: 1 }, /^Unknown input "extra"/],
      [{ a: [[1, 2], [3]], b: [[1, 2]], flag: [[true]] }, /^Input "a": ragged nested array/],
    ];
    for (const [body, message] of cases) {
      const err = await rejection(p.submit(jsonRequest(body)));
      expect(err.status).toBe(400);
      expect(err.type).toBe('BadRequestException');
      expect(err.message).toMatch(message);
    }
    // Inputs that pass the checks but do not fit together (2 rows of a, 3 of b): ORT's reason, still 400.
    const err = await rejection(
      p.submit(jsonRequest({ a: [[1, 2], [3, 4]], b: [[1, 2], [1, 2], [1, 2]], flag: [[true], [true]] })),
    );
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^The model rejected the inputs: /);
  });

  it('maps class scores to index_to_name.json labels, best first', async () => {
    const { dir: labelled, cleanup: rmLabelled } = await tempDir();
    try {
      const model = await mlp(labelled);
      await writeFile(path.join(labelled, 'index_to_name.json'), JSON.stringify({ 0: 'setosa', 1: 'versicolor', 2: 'virginica' }));
      const p = await pool(model.path);
      const row = [5.1, 3.5, 1.4, 0.2];
      const scores = model.expected([row])[0]!;
      const got = (await inferJson(p, row)) as Record<string, number>;
      const names = ['setosa', 'versicolor', 'virginica'];
      const order = [0, 1, 2].sort((i, j) => scores[j]! - scores[i]!).map((i) => names[i]);
      expect(Object.keys(got)).toEqual(order);
      names.forEach((n, i) => expect(got[n]).toBeCloseTo(scores[i]!, 5));
      const two = (await inferJson(p, [row, row])) as Array<Record<string, number>>;
      expect(two).toHaveLength(2);
      expect(Object.keys(two[1]!)).toEqual(order);
    } finally {
      await rmLabelled();
    }
  });

  it('serves a fixed-batch model one request per run', async () => {
    const fixed = await fixedBatch(dir);
    const p = await pool(fixed.path, { batchSize: 4, maxBatchDelayMs: 30 });
    const rows = [
      [1, 2, 3],
      [4, 5, 6],
      [-1, 0, 1],
    ];
    const got = await Promise.all(rows.map((r) => inferJson(p, r)));
    got.forEach((g, i) => expectClose(g, fixed.expected(rows[i]!)));
    expect(p.stats().runs).toBe(3);
    const err = await rejection(p.submit(jsonRequest([[1, 2, 3, 4]])));
    expect(err.message).toBe('Input "x": expected shape [1,3] (float32), received [1,4]');
  });
});

describe('batching', () => {
  it('concatenates concurrent requests into fewer runs and splits results back', async () => {
    const p = await pool(mlpModel.path, { batchSize: 4, maxBatchDelayMs: 50 });
    const inputs: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      // Mix single rows (batch dim added), 2-row matrices and one bad request.
      if (i === 7) inputs.push([1, 2, 3]);
      else if (i % 3 === 0) inputs.push([[i, 1, 0, -i], [0.5, i, 2, 1]]);
      else inputs.push([i, -1, 0.5 * i, 2]);
    }
    const settled = await Promise.allSettled(inputs.map((v) => p.submit(jsonRequest(v))));
    settled.forEach((s, i) => {
      const v = inputs[i] as number[] | number[][];
      if (i === 7) {
        expect(s.status).toBe('rejected');
        return;
      }
      expect(s.status, `request ${i}`).toBe('fulfilled');
      const got = replyJson((s as PromiseFulfilledResult<Awaited<ReturnType<WorkerPool['submit']>>>).value);
      const want = Array.isArray(v[0]) ? mlpModel.expected(v as number[][]) : mlpModel.expected([v as number[]])[0];
      expectClose(got, want);
    });
    const stats = p.stats();
    expect(stats.jobs).toBe(10);
    expect(stats.batches).toBeLessThan(10);
    // One run per batch: every good request in a batch shares a single concatenated session.run.
    expect(stats.runs).toBe(stats.batches);
  });

  it('batches multi-input requests with mixed dtypes', async () => {
    const p = await pool(multi.path, { batchSize: 4, maxBatchDelayMs: 50 });
    const rows = Array.from({ length: 6 }, (_, i) => ({
      a: [i * 0.5, -i] as [number, number],
      b: [i, 2 * i] as [number, number],
      flag: [i % 2 === 0] as [boolean],
    }));
    const got = await Promise.all(rows.map((r) => inferJson(p, r)));
    got.forEach((g, i) => {
      const want = multi.expected(rows[i]!);
      expect(g).toEqual({ sum: want.sum, count: want.count, positive: want.positive });
    });
    expect(p.stats().runs).toBeLessThan(6);
  });
});
