/**
 * Tensor-native requests through real worker threads: every datatype round-trips bit-exactly
 * through an identity model built from code, a multi-input model answers tensors and JSON alike,
 * requested outputs, 400s for malformed requests, buffers transferred (or copied once), and
 * handlers that refuse tensor requests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/runtime/pool.js';
import type { InferenceReply, InferenceRequest, WireTensor } from '../../src/runtime/types.js';
import { IDENTITY_DATATYPES, identity, identityInput, identityOutput, type IdentityDatatype } from '../fixtures/identity.js';
import { multiInput, type MultiInputModel } from '../fixtures/models.js';
import { inferJson, rejection, startPool, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let identityFile: string;
let multi: MultiInputModel;
const pools: WorkerPool[] = [];

async function pool(file: string, overrides = {}): Promise<WorkerPool> {
  const p = await startPool(file, overrides);
  pools.push(p);
  return p;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  identityFile = await identity(dir);
  multi = await multiInput(dir);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.shutdown()));
  await cleanup();
});

const tensorRequest = (tensors: WireTensor[], outputNames?: string[]): InferenceRequest => ({
  parts: [],
  headers: {},
  tensors,
  ...(outputNames ? { outputNames } : {}),
});

/** Two rows of three values per datatype, including each type's extremes and odd values. */
function sample(d: IdentityDatatype): WireTensor['data'] {
  switch (d) {
    case 'BOOL':
      return Uint8Array.of(1, 0, 1, 1, 0, 0);
    case 'UINT8':
      return Uint8Array.of(0, 255, 1, 2, 128, 127);
    case 'UINT16':
      return Uint16Array.of(0, 65535, 1, 2, 32768, 12345);
    case 'UINT32':
      return Uint32Array.of(0, 4294967295, 1, 2, 2147483648, 123456789);
    case 'UINT64':
      return BigUint64Array.of(0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 1n, 2n ** 63n, 42n);
    case 'INT8':
      return Int8Array.of(-128, 127, 0, -1, 1, 42);
    case 'INT16':
      return Int16Array.of(-32768, 32767, 0, -1, 1, 42);
    case 'INT32':
      return Int32Array.of(-2147483648, 2147483647, 0, -1, 1, 42);
    case 'INT64':
      return BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n, -1n);
    case 'FP16':
      // 1, NaN, +inf, -inf, -0, the smallest subnormal: raw IEEE half bits.
      return Uint16Array.of(0x3c00, 0x7e00, 0x7c00, 0xfc00, 0x8000, 0x0001);
    case 'FP32':
      return Float32Array.of(NaN, -0, Infinity, -Infinity, 1.401298464324817e-45, 3.4028234663852886e38);
    case 'FP64':
      return Float64Array.of(NaN, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, Math.PI);
    case 'BYTES':
      return ['', 'é', '😀', '中文 text', 'a\tb\nc', 'x'.repeat(1000)];
  }
}

/** The bytes of a typed array (bit-exact comparison, NaN payloads and -0 included), or the strings. */
function content(data: WireTensor['data']): unknown {
  if (Array.isArray(data)) return [...data];
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function replyTensors(reply: InferenceReply): WireTensor[] {
  expect(reply.status).toBe(200);
  expect(reply.body.byteLength).toBe(0);
  expect(reply.tensors).toBeDefined();
  return reply.tensors!;
}

describe('tensor requests through a worker pool', () => {
  it('round-trips every datatype bit-exactly through an identity model, transferring the arrays', async () => {
    const p = await pool(identityFile);
    const tensors = IDENTITY_DATATYPES.map((d): WireTensor => ({ name: identityInput(d), datatype: d, shape: [2, 3], data: sample(d) }));
    const expected = tensors.map((t) => content(t.data));
    const reply = await p.submit(tensorRequest(tensors));
    // The request's arrays were moved to the worker, not copied.
    for (const t of tensors) if (!Array.isArray(t.data)) expect(t.data.byteLength, t.name).toBe(0);
    const out = replyTensors(reply);
    expect(out.map((t) => t.name)).toEqual(IDENTITY_DATATYPES.map(identityOutput));
    out.forEach((t, i) => {
      const d = IDENTITY_DATATYPES[i]!;
      expect(t.datatype, t.name).toBe(d);
      expect(t.shape, t.name).toEqual([2, 3]);
      expect(t.data.constructor, t.name).toBe(sample(d).constructor);
      expect(content(t.data), t.name).toEqual(expected[i]);
    });
    expect(p.stats().runs).toBe(1);
  });

  it('copies a tensor that is a view into a larger body once, leaving the body intact', async () => {
    const p = await pool(identityFile);
    const body = new ArrayBuffer(16 + 6 * 4);
    new Uint8Array(body).fill(0xab, 0, 16);
    const view = new Float32Array(body, 16, 6);
    view.set([1, 2, 3, 4, 5, 6]);
    const tensors = IDENTITY_DATATYPES.map(
      (d): WireTensor => ({ name: identityInput(d), datatype: d, shape: [2, 3], data: d === 'FP32' ? view : sample(d) }),
    );
    const out = replyTensors(await p.submit(tensorRequest(tensors, [identityOutput('FP32')])));
    expect(body.byteLength).toBe(40);
    expect(Array.from(new Uint8Array(body, 0, 16))).toEqual(new Array<number>(16).fill(0xab));
    expect(Array.from(view)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out).toHaveLength(1);
    expect(Array.from(out[0]!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('answers a multi-input model with the same values as a JSON request, and the requested outputs only', async () => {
    const p = await pool(multi.path);
    const rows = { a: [[1.5, -2], [0.25, 3]], b: [[1, 2], [-10, 4]], flag: [[true], [false]] };
    const fromJson = (await inferJson(p, rows)) as { sum: number[][]; count: number[][]; positive: boolean[][] };
    const request = () =>
      tensorRequest([
        { name: 'flag', datatype: 'BOOL', shape: [2, 1], data: Uint8Array.of(1, 0) },
        { name: 'a', datatype: 'FP32', shape: [2, 2], data: Float32Array.from(rows.a.flat()) },
        { name: 'b', datatype: 'INT64', shape: [2, 2], data: BigInt64Array.from(rows.b.flat().map(BigInt)) },
      ]);
    const all = replyTensors(await p.submit(request()));
    expect(all.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ['sum', 'FP32', [2, 2]],
      ['count', 'INT64', [2, 1]],
      ['positive', 'BOOL', [2, 2]],
    ]);
    expect(Array.from(all[0]!.data as Float32Array)).toEqual(fromJson.sum.flat());
    expect(Array.from(all[1]!.data as BigInt64Array)).toEqual(fromJson.count.flat().map(BigInt));
    expect(Array.from(all[2]!.data as Uint8Array)).toEqual(fromJson.positive.flat().map(Number));
    expect(fromJson.sum[0]).toEqual(multi.expected({ a: [1.5, -2], b: [1, 2], flag: [true] }).sum);

    // An empty output list means every output, as no list does.
    expect(replyTensors(await p.submit({ ...request(), outputNames: [] })).map((t) => t.name)).toEqual(['sum', 'count', 'positive']);
    const picked = replyTensors(await p.submit({ ...request(), outputNames: ['positive', 'sum'] }));
    expect(picked.map((t) => t.name)).toEqual(['positive', 'sum']);
    expect(content(picked[1]!.data)).toEqual(content(all[0]!.data));
  });

  it('rejects malformed tensor requests with a 400 naming the input, and keeps serving', async () => {
    const p = await pool(multi.path);
    const good = (): WireTensor[] => [
      { name: 'a', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1, 2) },
      { name: 'b', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.of(3n, 4n) },
      { name: 'flag', datatype: 'BOOL', shape: [1, 1], data: Uint8Array.of(1) },
    ];
    const cases: Array<[WireTensor[], string[] | undefined, string]> = [
      [[...good(), { name: 'c', datatype: 'FP32', shape: [1], data: Float32Array.of(0) }], undefined, 'Unknown input "c"'],
      [good().slice(0, 2), undefined, 'Missing input "flag" [N,1] (bool)'],
      [[{ ...good()[0]!, datatype: 'INT64', data: BigInt64Array.of(1n, 2n) }, ...good().slice(1)], undefined, 'input "a": expected datatype FP32, got INT64'],
      [[{ ...good()[0]!, shape: [2] }, ...good().slice(1)], undefined, 'input "a": expected shape [N,2], got [2]'],
      [[{ ...good()[0]!, shape: [2, 1] }, ...good().slice(1)], undefined, 'input "a": expected shape [N,2], got [2,1]'],
      [[{ ...good()[0]!, shape: [2, 2] }, ...good().slice(1)], undefined, 'input "a": shape [2,2] has 4 elements, the data has 2'],
      [[{ ...good()[0]!, shape: [2 ** 52, 2] }, ...good().slice(1)], undefined, 'input "a": shape [4503599627370496,2] has 9007199254740992 elements, the data has 2'],
      [good(), ['sum', 'nope'], 'Unknown output "nope"'],
    ];
    for (const [tensors, names, message] of cases) {
      const e = await rejection(p.submit(tensorRequest(tensors, names)));
      expect({ status: e.status, type: e.type }).toEqual({ status: 400, type: 'BadRequestException' });
      expect(e.message.startsWith(message), `${e.message} should start with ${message}`).toBe(true);
    }
    const ok = replyTensors(await p.submit(tensorRequest(good(), ['count'])));
    expect(Array.from(ok[0]!.data as BigInt64Array)).toEqual([8n]);
    expect(p.stats().workerDeaths).toBe(0);
  });

  it('refuses tensor requests for a model whose handler has its own steps', async () => {
    const handlerDir = path.join(dir, 'custom');
    await mkdir(handlerDir, { recursive: true });
    await writeFile(path.join(handlerDir, 'handler.mjs'), 'export function handle(batch) { return batch.map(() => "echo"); }\n');
    const p = await pool(multi.path, { modelDir: handlerDir, handler: 'handler.mjs', modelName: 'custom' });
    const e = await rejection(p.submit(tensorRequest([{ name: 'a', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1, 2) }])));
    expect(e.status).toBe(400);
    expect(e.type).toBe('BadRequestException');
    expect(e.message).toBe('Model "custom" uses handler "handler.mjs", which does not accept tensor (Open Inference Protocol) requests');
    const echo = await p.submit({ parts: [{ name: 'body', data: new TextEncoder().encode('hi') }], headers: {} });
    expect(new TextDecoder().decode(echo.body)).toBe('echo');
    const stats = p.inferenceStats();
    expect(stats.inference_count).toBe(1);
    expect(stats.execution_count).toBe(0);
    expect(stats.inference_stats.success.count).toBe(1);
    expect(stats.inference_stats.fail.count).toBe(1);
    // No session.run in the batch: the handler's whole time counts as compute_infer.
    expect(stats.inference_stats.compute_infer.ns).toBeGreaterThan(0);
    expect(stats.inference_stats.compute_input.ns).toBe(0);
    expect(stats.inference_stats.compute_output.ns).toBe(0);
  });
});
