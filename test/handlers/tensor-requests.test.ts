/**
 * Tensor-native requests (InferenceRequest.tensors) through the handler composition, with a real
 * context around a fake session: validation messages, zero-copy feeds, no JSON on the way, mixed
 * JSON + tensor batches, output selection and datatype mapping, and which handlers take them.
 */
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HandlerModule } from '../../src/handlers/api.js';
import { BUILTIN_HANDLERS } from '../../src/handlers/builtin/index.js';
import { acceptsTensorRequests, handleBatch } from '../../src/handlers/compose.js';
import { DEFAULT_ONNX_HANDLER } from '../../src/handlers/default-onnx.js';
import type { InferenceRequest, JobOutcome, ModelSignature, WireTensor } from '../../src/runtime/types.js';
import { fakeContext, json, request, runBatch, type Feeds } from './helpers.js';

const signature: ModelSignature = {
  inputs: [
    { name: 'x', type: 'float32', shape: ['N', 2] },
    { name: 'flag', type: 'bool', shape: ['N', 1] },
  ],
  outputs: [
    { name: 'y', type: 'float32', shape: ['N', 2] },
    { name: 'z', type: 'bool', shape: ['N', 1] },
  ],
};

/** y = 10·x, z = flag; records every run's feeds. */
function tenTimes() {
  const runs: Feeds[] = [];
  const ctx = fakeContext({
    signature,
    run(feeds: Feeds): Promise<Feeds> {
      runs.push(feeds);
      const x = feeds['x']!;
      const flag = feeds['flag']!;
      return Promise.resolve({
        y: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array, (v) => v * 10), x.dims),
        z: new ort.Tensor('bool', Uint8Array.from(flag.data as Uint8Array), flag.dims),
      });
    },
  });
  return { ctx, runs };
}

const tensorRequest = (tensors: WireTensor[], outputNames?: string[]): InferenceRequest => ({
  parts: [],
  headers: {},
  tensors,
  ...(outputNames ? { outputNames } : {}),
});

const x = (rows: number[][]): WireTensor => ({ name: 'x', datatype: 'FP32', shape: [rows.length, 2], data: Float32Array.from(rows.flat()) });
const flag = (values: number[]): WireTensor => ({ name: 'flag', datatype: 'BOOL', shape: [values.length, 1], data: Uint8Array.from(values) });

function tensors(o: JobOutcome | undefined): WireTensor[] {
  if (!o?.ok) throw new Error(`unexpected failure: ${o ? `${o.error.status} ${o.error.message}` : 'no outcome'}`);
  expect(o.reply.body.byteLength).toBe(0);
  return o.reply.tensors ?? [];
}

function failure(o: JobOutcome | undefined): { status: number; type: string; message: string } {
  if (!o || o.ok) throw new Error('expected a failure');
  return o.error;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tensor requests through the default ONNX handler', () => {
  it('feeds the wire arrays to ONNX Runtime as they are, and answers with tensors in model order', async () => {
    const { ctx, runs } = tenTimes();
    const req = tensorRequest([flag([1, 0]), x([[1, 2], [3, 4]])]);
    const { outcomes } = await runBatch(DEFAULT_ONNX_HANDLER, [req], ctx);
    expect(runs).toHaveLength(1);
    // Zero-copy: the ort.Tensor wraps the very typed arrays of the request.
    expect(runs[0]!['x']!.data).toBe(req.tensors![1]!.data);
    expect(runs[0]!['flag']!.data).toBe(req.tensors![0]!.data);
    expect(runs[0]!['x']!.dims).toEqual([2, 2]);
    const out = tensors(outcomes[0]);
    expect(out.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ['y', 'FP32', [2, 2]],
      ['z', 'BOOL', [2, 1]],
    ]);
    expect(Array.from(out[0]!.data as Float32Array)).toEqual([10, 20, 30, 40]);
    expect(out[1]!.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(out[1]!.data as Uint8Array)).toEqual([1, 0]);
    expect(outcomes[0]).toMatchObject({ ok: true, items: 2, reply: { status: 200 } });
    expect(outcomes[0]!.ok && outcomes[0]!.reply.contentType).toBeUndefined();
  });

  it('never goes through JSON', async () => {
    const { ctx } = tenTimes();
    const stringify = vi.spyOn(JSON, 'stringify');
    const parse = vi.spyOn(JSON, 'parse');
    const { outcomes } = await runBatch(DEFAULT_ONNX_HANDLER, [tensorRequest([x([[1, 2]]), flag([1])])], ctx);
    expect(tensors(outcomes[0])).toHaveLength(2);
    expect(stringify).not.toHaveBeenCalled();
    expect(parse).not.toHaveBeenCalled();
  });

  it('returns only the requested outputs, in the requested order', async () => {
    const { ctx } = tenTimes();
    const { outcomes } = await runBatch(
      DEFAULT_ONNX_HANDLER,
      [tensorRequest([x([[1, 2]]), flag([0])], ['z', 'y']), tensorRequest([x([[1, 2]]), flag([0])], ['z'])],
      ctx,
    );
    expect(tensors(outcomes[0]).map((t) => t.name)).toEqual(['z', 'y']);
    expect(tensors(outcomes[1]).map((t) => t.name)).toEqual(['z']);
  });

  it('shares one run between JSON and tensor requests, each answered in its own kind', async () => {
    const { ctx, runs } = tenTimes();
    const { outcomes } = await runBatch(
      DEFAULT_ONNX_HANDLER,
      [
        request({ x: [1, 2], flag: [true] }),
        tensorRequest([x([[3, 4], [5, 6]]), flag([0, 1])], ['y']),
        request({ x: [[7, 8]], flag: [[false]] }),
        tensorRequest([x([[9, 10]]), flag([1])]),
      ],
      ctx,
    );
    expect(runs.map((f) => f['x']!.dims[0])).toEqual([5]);
    expect(json(outcomes[0]!)).toEqual({ y: [10, 20], z: [true] });
    const second = tensors(outcomes[1]);
    expect(second.map((t) => [t.name, t.shape])).toEqual([['y', [2, 2]]]);
    expect(Array.from(second[0]!.data as Float32Array)).toEqual([30, 40, 50, 60]);
    expect(json(outcomes[2]!)).toEqual({ y: [[70, 80]], z: [[false]] });
    const fourth = tensors(outcomes[3]);
    expect(Array.from(fourth[0]!.data as Float32Array)).toEqual([90, 100]);
    expect(Array.from(fourth[1]!.data as Uint8Array)).toEqual([1]);
    // Rows of the batched output are copied once into arrays that own their buffers (transferable).
    for (const t of [...second, ...fourth]) {
      const data = t.data as Float32Array | Uint8Array;
      expect(data.byteOffset).toBe(0);
      expect(data.byteLength).toBe(data.buffer.byteLength);
    }
    expect(outcomes.map((o) => o.ok && o.items)).toEqual([1, 2, 1, 1]);
  });

  it('fails a malformed tensor request alone, with a 400 naming the input or output', async () => {
    const cases: Array<[WireTensor[], string[] | undefined, string]> = [
      [[x([[1, 2]]), flag([1]), { name: 'w', datatype: 'FP32', shape: [1], data: new Float32Array(1) }], undefined, 'Unknown input "w"; model inputs: "x" [N,2] (float32), "flag" [N,1] (bool)'],
      [[x([[1, 2]])], undefined, 'Missing input "flag" [N,1] (bool); model inputs: "x" [N,2] (float32), "flag" [N,1] (bool)'],
      [[{ name: 'x', datatype: 'INT64', shape: [1, 2], data: new BigInt64Array(2) }, flag([1])], undefined, 'input "x": expected datatype FP32, got INT64'],
      [[{ name: 'x', datatype: 'FP8' as 'FP32', shape: [1, 2], data: new Float32Array(2) }, flag([1])], undefined, 'input "x": expected datatype FP32, got unknown datatype "FP8"'],
      [[{ name: 'x', datatype: 'FP32', shape: [2], data: new Float32Array(2) }, flag([1])], undefined, 'input "x": expected shape [N,2], got [2]'],
      [[{ name: 'x', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }, flag([1])], undefined, 'input "x": expected shape [N,2], got [1,3]'],
      [[{ name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array(3) }, flag([1])], undefined, 'input "x": shape [2,2] has 4 elements, the data has 3'],
      [[{ name: 'x', datatype: 'FP32', shape: [2 ** 40, 2], data: new Float32Array(2) }, flag([1])], undefined, 'input "x": shape [1099511627776,2] has 2199023255552 elements, the data has 2'],
      [[{ name: 'x', datatype: 'FP32', shape: [-1, 2], data: new Float32Array(2) }, flag([1])], undefined, 'input "x": the shape must be a list of non-negative integers, got [-1,2]'],
      [[{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float64Array(2) }, flag([1])], undefined, 'input "x": FP32 data must be Float32Array, got Float64Array'],
      [[x([[1, 2]]), { name: 'flag', datatype: 'BOOL', shape: [1, 1], data: Uint8Array.of(2) }], undefined, 'input "flag": BOOL values must be 0 or 1, got 2 at index 0'],
      [[x([[1, 2]]), x([[1, 2]]), flag([1])], undefined, 'input "x" is given more than once'],
      [[x([[1, 2]]), flag([1])], ['y', 'nope'], 'Unknown output "nope"; model outputs: "y" [N,2] (float32), "z" [N,1] (bool)'],
      [[x([[1, 2]]), flag([1])], ['y', 'y'], 'output "y" is requested more than once'],
    ];
    const { ctx, runs } = tenTimes();
    const good = tensorRequest([x([[1, 2]]), flag([1])]);
    const { outcomes } = await runBatch(DEFAULT_ONNX_HANDLER, [...cases.map(([t, names]) => tensorRequest(t, names)), good], ctx);
    cases.forEach(([, , message], i) => {
      expect(failure(outcomes[i]), message).toEqual({ status: 400, type: 'BadRequestException', message });
    });
    expect(tensors(outcomes[cases.length])).toHaveLength(2);
    expect(runs).toHaveLength(1);
  });

  it('maps float16, string, bool and 64-bit outputs to FP16 bits, BYTES, BOOL and INT64/UINT64', async () => {
    const sig: ModelSignature = {
      inputs: [
        { name: 'h', type: 'float16', shape: [-1] },
        { name: 's', type: 'string', shape: [-1] },
        { name: 'u', type: 'uint64', shape: [-1] },
      ],
      outputs: [
        { name: 'h2', type: 'float16', shape: [-1] },
        { name: 's2', type: 'string', shape: [-1] },
        { name: 'u2', type: 'uint64', shape: [-1] },
      ],
    };
    let fed: Feeds = {};
    const ctx = fakeContext({
      signature: sig,
      run: (feeds) => {
        fed = feeds;
        return Promise.resolve({ h2: feeds['h']!, s2: feeds['s']!, u2: feeds['u']! });
      },
    });
    const h = Uint16Array.of(0x3c00, 0x7e00, 0x8000, 0x0001);
    const s = ['', 'é', '😀 中文'];
    const u = BigUint64Array.of(0n, 2n ** 64n - 1n);
    const { outcomes } = await runBatch(
      DEFAULT_ONNX_HANDLER,
      [
        tensorRequest([
          { name: 'h', datatype: 'FP16', shape: [4], data: h },
          { name: 's', datatype: 'BYTES', shape: [3], data: s },
          { name: 'u', datatype: 'UINT64', shape: [2], data: u },
        ]),
      ],
      ctx,
    );
    expect(fed['h']!.type).toBe('float16');
    expect(fed['h']!.data).toBe(h);
    expect(fed['s']!.type).toBe('string');
    const out = tensors(outcomes[0]);
    expect(out.map((t) => t.datatype)).toEqual(['FP16', 'BYTES', 'UINT64']);
    expect(out[0]!.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(out[0]!.data as Uint16Array)).toEqual([0x3c00, 0x7e00, 0x8000, 0x0001]);
    expect(out[1]!.data).toEqual(s);
    expect(Array.from(out[2]!.data as BigUint64Array)).toEqual([0n, 2n ** 64n - 1n]);
    // The inputs disagree on their first dim: not a batch of rows, so the request counts 1 item.
    expect(outcomes[0]).toMatchObject({ ok: true, items: 1 });
  });

  it('adds no batch dimension to tensor requests', async () => {
    const { ctx, runs } = tenTimes();
    const { outcomes } = await runBatch(
      DEFAULT_ONNX_HANDLER,
      [tensorRequest([{ name: 'x', datatype: 'FP32', shape: [2], data: Float32Array.of(1, 2) }, { name: 'flag', datatype: 'BOOL', shape: [1], data: Uint8Array.of(1) }])],
      ctx,
    );
    expect(failure(outcomes[0]).message).toBe('input "x": expected shape [N,2], got [2]');
    expect(runs).toHaveLength(0);
  });
});

describe('which handlers take tensor requests', () => {
  async function outcomeWith(module: HandlerModule, handler: string | undefined): Promise<JobOutcome[]> {
    const { ctx } = tenTimes();
    return handleBatch(
      {
        module,
        context: ctx,
        log: ctx.log,
        hooks: { sendIntermediate: () => {}, isCancelled: () => false },
        ...(handler === undefined ? {} : { handler }),
      },
      [tensorRequest([x([[1, 2]]), flag([1])]), request({ x: [1, 2], flag: [true] })],
    );
  }

  it('refuses them, alone in their batch, for modules with their own handle, preprocess or postprocess', async () => {
    const modules: Array<[string, HandlerModule]> = [
      ['handler.mjs', { handle: (batch) => batch.map(() => 'handled') }],
      ['pre.mjs', { preprocess: (batch) => batch.map(() => 'pre'), inference: (v) => v, postprocess: (v) => v as unknown[] }],
      ['post.mjs:fn', { postprocess: (out) => (out as unknown[]).map(() => 'post') }],
      ['image_classifier', BUILTIN_HANDLERS['image_classifier']!],
    ];
    for (const [name, module] of modules) {
      expect(acceptsTensorRequests(module)).toBe(false);
      const outcomes = await outcomeWith(module, name);
      expect(failure(outcomes[0])).toEqual({
        status: 400,
        type: 'BadRequestException',
        message: `Model "fake" uses handler "${name}", which does not accept tensor (Open Inference Protocol) requests`,
      });
      if (name !== 'image_classifier') expect(outcomes[1]!.ok).toBe(true);
    }
  });

  it('takes them for the default handler and for modules overriding only initialize/inference', async () => {
    expect(acceptsTensorRequests(DEFAULT_ONNX_HANDLER)).toBe(true);
    let calls = 0;
    const inferenceOnly: HandlerModule = {
      initialize: () => {},
      inference: async (list, ctx) => {
        calls++;
        return Promise.all((list as Feeds[]).map((feeds) => (feeds instanceof Error ? feeds : ctx.run(feeds))));
      },
    };
    expect(acceptsTensorRequests(inferenceOnly)).toBe(true);
    const outcomes = await outcomeWith(inferenceOnly, 'handler.mjs');
    expect(calls).toBe(1);
    expect(tensors(outcomes[0]).map((t) => t.name)).toEqual(['y', 'z']);
    // The module's own inference returns fresh outputs objects: the JSON request keeps the batch dim.
    expect(json(outcomes[1]!)).toEqual({ y: [[10, 20]], z: [[true]] });
  });
});
