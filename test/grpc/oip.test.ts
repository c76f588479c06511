/**
 * The Open Inference Protocol gRPC service (KServe v2 / Triton GRPCInferenceService) over real
 * sockets: a real server (startServer, real models, gRPC port 0), clients generated from the same
 * proto files under both service names. Every RPC, typed and raw tensors for every datatype,
 * requested outputs, id echo, versions, each bad request (the right code and message, the server
 * living on), max_request_size, token metadata, the model config, dynamic batches shared with REST,
 * deadlines and cancellation dropping queued requests.
 */
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oipServices, OIP_SERVICE, OIP_TORCHSERVE_PROTO, OIP_TORCHSERVE_SERVICE } from '../../src/grpc/oip-service.js';
import { encodeGrpcOutputs } from '../../src/grpc/oip-tensors.js';
import { PROTO_FILES } from '../../src/grpc/protos.js';
import { startGrpcListener, type GrpcHandle } from '../../src/grpc/server.js';
import { UNSET_BATCH_SIZE, UNSET_MAX_BATCH_DELAY, UNSET_TIMEOUT } from '../../src/registry/settings.js';
import type { ModelConfig } from '../../src/wallaroo/catalog.js';
import { IDENTITY_DATATYPES, identity, identityInput, identityOutput, type IdentityDatatype } from '../fixtures/identity.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, multiInput, slow, type MlpModel, type MultiInputModel } from '../fixtures/models.js';
import { bearer, failure, makeClient, startGrpcTestServer, unary, type AnyClient, type GrpcTestServer } from './helpers.js';

const PKG_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const MAX_REQUEST = 200_000;

interface Contents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}
interface OutputTensor {
  name: string;
  datatype: string;
  shape: string[];
  contents: Contents | null;
}
interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: OutputTensor[];
  raw_output_contents: Buffer[];
}
interface Stats {
  inference_count: number;
  execution_count: number;
}

let ts: GrpcTestServer;
let tokenServer: GrpcTestServer | undefined;
let oip: AnyClient;
let torchserve: AnyClient;
let mlpModel: MlpModel;
let multi: MultiInputModel;
let restPort: number;

const TYPED = IDENTITY_DATATYPES.filter((d) => d !== 'FP16');

const yaml = (settings: Record<string, number>) => Object.entries(settings).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
async function pack(store: string, name: string, onnxFile: string, settings: Record<string, number>) {
  await writeMar(path.join(store, `${name}.mar`), {
    modelName: name,
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(onnxFile), 'model-config.yaml': yaml(settings) },
  });
}

const one = { minWorkers: 1, maxWorkers: 1 };

beforeAll(async () => {
  ts = await startGrpcTestServer(
    async (dir, store) => {
      mlpModel = await mlp(dir);
      multi = await multiInput(dir);
      await pack(store, 'mlp', mlpModel.path, one);
      await pack(store, 'multi', multi.path, one);
      await pack(store, 'identity', await identity(dir), one);
      await pack(store, 'typed', await identity(dir, { datatypes: TYPED, file: 'typed.onnx' }), one);
      await pack(store, 'batched', mlpModel.path, { ...one, batchSize: 16, maxBatchDelay: 2000 });
      await pack(store, 'slow', await slow(dir), one);
      await writeMar(path.join(store, 'cold.mar'), { modelName: 'cold', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync(mlpModel.path) } });
    },
    { load_models: 'mlp.mar,multi.mar,identity.mar,typed.mar,batched.mar,slow.mar', max_request_size: MAX_REQUEST },
  );
  // A model no worker has loaded: its signature is not known.
  await ts.server.registry.register({
    url: 'cold.mar',
    batchSize: UNSET_BATCH_SIZE,
    maxBatchDelay: UNSET_MAX_BATCH_DELAY,
    initialWorkers: 0,
    synchronous: true,
    responseTimeout: UNSET_TIMEOUT,
    startupTimeout: UNSET_TIMEOUT,
  });
  oip = makeClient(PROTO_FILES.openInference, OIP_SERVICE, ts.inferencePort);
  torchserve = makeClient(OIP_TORCHSERVE_PROTO, OIP_TORCHSERVE_SERVICE, ts.inferencePort);
  restPort = ts.server.listeners.find((l) => l.kind === 'inference')!.port;
  // Start-up workers load in the background: wait until every model has its workers.
  for (const deadline = Date.now() + 45_000; !(await unary<{ ready: boolean }>(oip, 'ServerReady', {})).ready; ) {
    if (Date.now() > deadline) throw new Error('the models did not load');
    await sleep(50);
  }
}, 60_000);

afterAll(async () => {
  oip?.close();
  torchserve?.close();
  await ts?.close();
  await tokenServer?.close();
});

const infer = (req: object, client = oip, md?: grpc.Metadata, options?: grpc.CallOptions) => unary<InferResponse>(client, 'ModelInfer', req, md, options);
const stats = (model: string): Stats => ts.server.registry.resolve(model).pool.inferenceStats();

/** Two rows of three values per datatype, with each type's extremes (as test/e2e/oip.test.ts). */
function sample(d: IdentityDatatype): Array<number | boolean | string | bigint> {
  switch (d) {
    case 'BOOL':
      return [true, false, true, true, false, false];
    case 'UINT8':
      return [0, 255, 1, 2, 128, 127];
    case 'UINT16':
      return [0, 65535, 1, 2, 32768, 12345];
    case 'UINT32':
      return [0, 4294967295, 1, 2, 2147483648, 123456789];
    case 'UINT64':
      return [0n, 2n ** 64n - 1n, 1n, 2n, 2n ** 53n + 1n, 7n];
    case 'INT8':
      return [-128, 127, 0, -1, 1, 42];
    case 'INT16':
      return [-32768, 32767, 0, -1, 1, 42];
    case 'INT32':
      return [-2147483648, 2147483647, 0, -1, 1, 42];
    case 'INT64':
      return [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, 42n];
    case 'FP16':
      return [0, -2, 0.5, 65504, -0.25, 1.5];
    case 'FP32':
      return [0, -1.5, Math.fround(0.1), 3.4028234663852886e38, -1e-30, 42].map(Math.fround);
    case 'FP64':
      return [0, -1.5, 0.1, Number.MAX_VALUE, -5e-324, Math.PI];
    case 'BYTES':
      return ['', 'a', 'héllo wörld', '{"json": true}', 'x'.repeat(300), '日本'];
  }
}

const FIELD: Record<IdentityDatatype, keyof Contents | undefined> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** The values as their contents field carries them after decoding (int64 as strings, bytes as Buffers). */
function contentsValues(d: IdentityDatatype): unknown[] {
  return sample(d).map((v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
}

function rawBytes(d: IdentityDatatype): Buffer {
  const v = sample(d);
  switch (d) {
    case 'BOOL':
      return Buffer.from(v.map((b) => (b ? 1 : 0)));
    case 'BYTES':
      return Buffer.concat(
        v.map((s) => {
          const bytes = Buffer.from(s as string, 'utf8');
          const len = Buffer.alloc(4);
          len.writeUInt32LE(bytes.length);
          return Buffer.concat([len, bytes]);
        }),
      );
    case 'FP16': {
      // The sample is exact in half precision: write the bits directly.
      const half = (x: number) => {
        if (x === 0) return 0;
        const sign = x < 0 ? 0x8000 : 0;
        const a = Math.abs(x);
        const e = Math.floor(Math.log2(a));
        return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
      };
      return Buffer.from(new Uint16Array(v.map((x) => half(x as number))).buffer);
    }
    default: {
      const Ctor = {
        UINT8: Uint8Array,
        UINT16: Uint16Array,
        UINT32: Uint32Array,
        INT8: Int8Array,
        INT16: Int16Array,
        INT32: Int32Array,
        FP32: Float32Array,
        FP64: Float64Array,
      }[d as 'UINT8'];
      if (d === 'INT64') return Buffer.from(BigInt64Array.from(v as bigint[]).buffer);
      if (d === 'UINT64') return Buffer.from(BigUint64Array.from(v as bigint[]).buffer);
      return Buffer.from(Ctor.from(v as number[]).buffer);
    }
  }
}

const mlpRow = [0.5, -1.25, 2, 3.75];
const fp32Input = (rows: number[][], name = 'x') => ({ name, datatype: 'FP32', shape: [rows.length, 4], contents: { fp32_contents: rows.flat() } });

function expectMlp(out: OutputTensor | undefined, rows: number[][]) {
  expect(out).toMatchObject({ name: 'y', datatype: 'FP32', shape: [String(rows.length), '3'] });
  const want = mlpModel.expected(rows).flat();
  expect(out!.contents!.fp32_contents).toHaveLength(want.length);
  out!.contents!.fp32_contents.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
}

describe('health and metadata', () => {
  it('ServerLive, ServerReady and ServerMetadata, under both service names', async () => {
    for (const c of [oip, torchserve]) {
      expect(await unary(c, 'ServerLive', {})).toEqual({ live: true });
      expect(await unary(c, 'ServerReady', {})).toEqual({ ready: true });
      expect(await unary(c, 'ServerMetadata', {})).toEqual({ name: 'onnxserve', version: PKG_VERSION, extensions: ['binary_tensor_data', 'statistics', 'model_repository'] });
    }
  });

  it('ModelReady: ready with a worker, not without one; NOT_FOUND for an unknown model or version', async () => {
    expect(await unary(oip, 'ModelReady', { name: 'mlp' })).toEqual({ ready: true });
    expect(await unary(torchserve, 'ModelReady', { name: 'mlp', version: '1.0' })).toEqual({ ready: true });
    expect(await unary(oip, 'ModelReady', { name: 'cold' })).toEqual({ ready: false });
    const unknown = await failure(unary(oip, 'ModelReady', { name: 'nope' }));
    expect(unknown).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'Model not found: nope' });
    const version = await failure(unary(oip, 'ModelReady', { name: 'mlp', version: '9' }));
    expect(version).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'Model version: 9 does not exist for model: mlp' });
    expect(await failure(unary(oip, 'ModelReady', {}))).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Parameter name is required.' });
  });

  it('ModelMetadata: versions, platform, inputs and outputs (-1 for dynamic dims)', async () => {
    const expected = {
      name: 'multi',
      versions: ['1.0'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: ['-1', '2'] },
        { name: 'b', datatype: 'INT64', shape: ['-1', '2'] },
        { name: 'flag', datatype: 'BOOL', shape: ['-1', '1'] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: ['-1', '2'] },
        { name: 'count', datatype: 'INT64', shape: ['-1', '1'] },
        { name: 'positive', datatype: 'BOOL', shape: ['-1', '2'] },
      ],
    };
    expect(await unary(oip, 'ModelMetadata', { name: 'multi' })).toEqual(expected);
    expect(await unary(torchserve, 'ModelMetadata', { name: 'multi', version: '1.0' })).toEqual(expected);
    const id = await unary<{ inputs: Array<{ datatype: string }> }>(oip, 'ModelMetadata', { name: 'identity' });
    expect(id.inputs.map((i) => i.datatype)).toEqual(IDENTITY_DATATYPES);
    expect(await failure(unary(oip, 'ModelMetadata', { name: 'nope' }))).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'Model not found: nope' });
    expect(await failure(unary(oip, 'ModelMetadata', { name: 'mlp', version: '2.0' }))).toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('ModelMetadata before a worker has loaded the model: UNAVAILABLE', async () => {
    const err = await failure(unary(oip, 'ModelMetadata', { name: 'cold' }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toBe('Model "cold" version 1.0 has not been loaded by a worker yet, so its inputs and outputs are not known');
  });
});

describe('ModelInfer', () => {
  it('runs typed contents, echoes the id and names the version served (both service names)', async () => {
    const rows = [mlpRow, [1, 2, 3, 4]];
    for (const c of [oip, torchserve]) {
      const res = await infer({ model_name: 'mlp', id: 'req-7', inputs: [fp32Input(rows)] }, c);
      expect(res).toMatchObject({ model_name: 'mlp', model_version: '1.0', id: 'req-7', raw_output_contents: [] });
      expect(res.outputs).toHaveLength(1);
      expectMlp(res.outputs[0], rows);
    }
    const explicit = await infer({ model_name: 'mlp', model_version: '1.0', inputs: [fp32Input([mlpRow])] });
    expect(explicit).toMatchObject({ model_version: '1.0', id: '' });
    expectMlp(explicit.outputs[0], [mlpRow]);
  });

  it('runs raw_input_contents and answers raw_output_contents, equal to the typed answer', async () => {
    const rows = [mlpRow, [0, 0, 1, -1]];
    const res = await infer({ model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)] });
    expect(res.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: ['2', '3'], parameters: {}, contents: null }]);
    expect(res.raw_output_contents).toHaveLength(1);
    const raw = res.raw_output_contents[0]!;
    const y = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const typed = await infer({ model_name: 'mlp', inputs: [fp32Input(rows)] });
    expect(Array.from(y)).toEqual(typed.outputs[0]!.contents!.fp32_contents);
    const want = mlpModel.expected(rows).flat();
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
  });

  it('round-trips every typed-contents datatype through an identity model', async () => {
    const inputs = TYPED.map((d) => ({ name: identityInput(d), datatype: d, shape: [2, 3], contents: { [FIELD[d]!]: contentsValues(d) } }));
    const res = await infer({ model_name: 'typed', inputs });
    expect(res.raw_output_contents).toEqual([]);
    expect(res.outputs.map((o) => o.name)).toEqual(TYPED.map(identityOutput));
    for (const d of TYPED) {
      const out = res.outputs.find((o) => o.name === identityOutput(d))!;
      expect(out.datatype, d).toBe(d);
      expect(out.shape, d).toEqual(['2', '3']);
      expect(out.contents![FIELD[d]!], d).toEqual(contentsValues(d));
    }
  });

  it('round-trips every datatype (FP16 included) as raw bytes', async () => {
    const inputs = IDENTITY_DATATYPES.map((d) => ({ name: identityInput(d), datatype: d, shape: [2, 3] }));
    const raws = IDENTITY_DATATYPES.map(rawBytes);
    const res = await infer({ model_name: 'identity', inputs, raw_input_contents: raws });
    expect(res.outputs.map((o) => [o.name, o.datatype, o.shape, o.contents])).toEqual(IDENTITY_DATATYPES.map((d) => [identityOutput(d), d, ['2', '3'], null]));
    res.raw_output_contents.forEach((b, i) => expect(b, IDENTITY_DATATYPES[i]).toEqual(raws[i]));
  });

  it('answers in raw bytes whenever an output has no contents field (FP16), never both kinds', () => {
    const enc = encodeGrpcOutputs(
      [
        { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
        { name: 'f', datatype: 'FP32', shape: [1], data: new Float32Array([2]) },
      ],
      false,
    );
    expect(enc.outputs.every((o) => o.contents === undefined)).toBe(true);
    expect(enc.raw_output_contents.map((b) => [...b])).toEqual([[0x00, 0x3c], [0, 0, 0, 64]]);
    const typed = encodeGrpcOutputs([{ name: 'f', datatype: 'FP32', shape: [1], data: new Float32Array([2]) }], false);
    expect(typed).toEqual({ outputs: [{ name: 'f', datatype: 'FP32', shape: [1], contents: { fp32_contents: [2] } }], raw_output_contents: [] });
  });

  it('returns the requested outputs, in the requested order', async () => {
    const inputs = [
      { name: 'a', datatype: 'FP32', shape: [2, 2], contents: { fp32_contents: [0.5, -1, 2, 3] } },
      { name: 'b', datatype: 'INT64', shape: [2, 2], contents: { int64_contents: ['1', '2', '3', '4'] } },
      { name: 'flag', datatype: 'BOOL', shape: [2, 1], contents: { bool_contents: [true, false] } },
    ];
    const e0 = multi.expected({ a: [0.5, -1], b: [1, 2], flag: [true] });
    const e1 = multi.expected({ a: [2, 3], b: [3, 4], flag: [false] });
    const all = await infer({ model_name: 'multi', inputs });
    expect(all.outputs.map((o) => o.name)).toEqual(['sum', 'count', 'positive']);
    expect(all.outputs[0]!.contents!.fp32_contents).toEqual([...e0.sum, ...e1.sum]);
    const subset = await infer({ model_name: 'multi', inputs, outputs: [{ name: 'positive' }, { name: 'count' }] });
    expect(subset.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['positive', 'BOOL', ['2', '2']],
      ['count', 'INT64', ['2', '1']],
    ]);
    expect(subset.outputs[0]!.contents!.bool_contents).toEqual([...e0.positive, ...e1.positive]);
    expect(subset.outputs[1]!.contents!.int64_contents).toEqual([...e0.count, ...e1.count].map(String));
  });
});

describe('ModelInfer errors', () => {
  const x = (over: object = {}) => ({ ...fp32Input([mlpRow]), ...over });
  const bad = async (req: object) => failure(infer(req));

  it('unknown model or version: NOT_FOUND with the REST message', async () => {
    expect(await bad({ model_name: 'nope', inputs: [x()] })).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'Model not found: nope' });
    expect(await bad({ model_name: 'mlp', model_version: '9', inputs: [x()] })).toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'Model version: 9 does not exist for model: mlp',
    });
    expect(await bad({ inputs: [x()] })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Parameter model_name is required.' });
  });

  it('each malformed request: INVALID_ARGUMENT naming the input, the server living on', async () => {
    const f32 = (n: number) => Buffer.alloc(n);
    const cases: Array<[object, RegExp | string]> = [
      [{ inputs: [] }, 'The request has no inputs'],
      [{ inputs: [x({ datatype: 'FP8' })] }, /^Input "x": unknown datatype "FP8"; expected one of BOOL, /],
      [{ inputs: [x({ datatype: 'BF16' })] }, /BF16 is not supported/],
      [{ inputs: [x({ datatype: '' })] }, 'Input "x" has no datatype'],
      [{ inputs: [x({ name: '' })] }, 'inputs[0] has no name'],
      [{ inputs: [x(), x()] }, 'Input "x" appears twice in "inputs"'],
      [{ inputs: [x({ shape: [1, 3] })] }, 'Input "x": shape [1,3] needs 3 elements, contents.fp32_contents has 4'],
      [{ inputs: [x({ shape: [1, -4] })] }, /^Input "x": "shape" must be a list of non-negative integers, got -4 at index 1/],
      [{ inputs: [x({ shape: [100000, 100000] })] }, /^Input "x": shape \[100000,100000\] has 10000000000 elements, more than a request can carry/],
      [{ inputs: [x({ shape: Array.from({ length: 65 }, () => 1) })] }, 'Input "x": shape has 65 dimensions, more than 64'],
      [{ inputs: [x({ contents: null })] }, 'Input "x" has no data: shape [1,4] needs 4 elements in contents.fp32_contents (or the request\'s raw_input_contents)'],
      [{ inputs: [x({ contents: { int_contents: [1, 2, 3, 4] } })] }, 'Input "x" is FP32, but has data in contents.int_contents: FP32 data goes in contents.fp32_contents'],
      [{ inputs: [x({ datatype: 'FP16', contents: { fp32_contents: [1, 2, 3, 4] } })] }, /^Input "x": FP16 data cannot be sent in contents .*raw_input_contents/],
      [{ inputs: [x({ datatype: 'INT8', contents: { int_contents: [1, 300, 3, 4] } })] }, 'Input "x": contents.int_contents[1] is 300, out of range for INT8 (-128..127)'],
      [{ inputs: [x({ datatype: 'UINT16', contents: { uint_contents: [1, 2, 70000, 4] } })] }, 'Input "x": contents.uint_contents[2] is 70000, out of range for UINT16 (0..65535)'],
      [{ inputs: [x({ contents: null })], raw_input_contents: [f32(12)] }, 'Input "x": raw_input_contents[0] has 12 bytes, but shape [1,4] of FP32 takes 16 (4 × 4)'],
      [{ inputs: [x()], raw_input_contents: [f32(16)] }, 'Input "x" has data in contents.fp32_contents, but the request also has raw_input_contents: send every input\'s data one way'],
      [{ inputs: [x({ contents: null })], raw_input_contents: [f32(16), f32(16)] }, /^raw_input_contents has 2 entries, but the request has 1 inputs/],
      [{ inputs: [x({ datatype: 'BOOL', contents: null })], raw_input_contents: [Buffer.from([0, 1, 2, 0])] }, 'Input "x": BOOL element [2] is byte 2, expected 0 or 1'],
      [{ inputs: [x()], outputs: [{ name: 'y' }, { name: 'y' }] }, 'Output "y" is requested twice'],
      [{ inputs: [x()], outputs: [{ name: 'nope' }] }, /nope/],
      [{ inputs: [x({ name: 'q' })] }, /^Unknown input "q"/],
    ];
    for (const [req, message] of cases) {
      const err = await bad({ model_name: 'mlp', ...req });
      expect(err.code, String(message)).toBe(grpc.status.INVALID_ARGUMENT);
      if (typeof message === 'string') expect(err.details).toBe(message);
      else expect(err.details).toMatch(message);
    }
    // A multi-input model missing one input: the runtime's model-level check.
    const missing = await bad({ model_name: 'multi', inputs: [{ name: 'a', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }, { name: 'b', datatype: 'INT64', shape: [1, 2], contents: { int64_contents: ['1', '2'] } }] });
    expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(missing.details).toMatch(/^Missing input .*flag/);
    // Still serving.
    expect(await unary(oip, 'ServerLive', {})).toEqual({ live: true });
    expectMlp((await infer({ model_name: 'mlp', inputs: [x()] })).outputs[0], [mlpRow]);
  });

  it('a message above max_request_size: RESOURCE_EXHAUSTED', async () => {
    const rows = Array.from({ length: MAX_REQUEST / 16 + 100 }, () => mlpRow);
    const err = await failure(infer({ model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4] }], raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)] }));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expectMlp((await infer({ model_name: 'mlp', inputs: [fp32Input([mlpRow])] })).outputs[0], [mlpRow]);
  });
});

describe('model configuration (tensor_fields, batch_config)', () => {
  let listener: GrpcHandle | undefined;
  afterAll(async () => listener?.close());

  it('renames tensors and enforces batch_config "single", as REST', async () => {
    const config = { id: 1, modelVersionId: 1, runtime: 'onnx', tensorFields: ['x', 'y', 'z'], batchConfig: 'single', filterThreshold: null, inputSchema: null, outputSchema: null } as unknown as ModelConfig;
    listener = await startGrpcListener(
      oipServices({ registry: ts.server.registry, maxRequestSize: MAX_REQUEST, maxResponseSize: MAX_REQUEST, modelConfig: (m) => (m === 'multi' ? config : undefined) }),
      { address: '127.0.0.1', port: 0, maxRequestSize: MAX_REQUEST, maxResponseSize: MAX_REQUEST },
    );
    const c = makeClient(PROTO_FILES.openInference, OIP_SERVICE, listener.port);
    try {
      const aliased = (rows: number) => [
        { name: 'x', datatype: 'FP32', shape: [rows, 2], contents: { fp32_contents: Array.from({ length: rows }, () => [1, 2]).flat() } },
        { name: 'y', datatype: 'INT64', shape: [rows, 2], contents: { int64_contents: Array.from({ length: rows }, () => ['3', '4']).flat() } },
        { name: 'z', datatype: 'BOOL', shape: [rows, 1], contents: { bool_contents: Array.from({ length: rows }, () => true) } },
      ];
      const res = await infer({ model_name: 'multi', inputs: aliased(1) }, c);
      expect(res.outputs.map((o) => o.name)).toEqual(['sum', 'count', 'positive']);
      expect(res.outputs[0]!.contents!.fp32_contents).toEqual([4, 6]);
      expect(res.outputs[1]!.contents!.int64_contents).toEqual(['8']);
      const two = await failure(infer({ model_name: 'multi', inputs: aliased(2) }, c));
      expect(two.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(two.details).toMatch(/batch_config "single"/);
    } finally {
      c.close();
    }
  });
});

/** A REST OIP infer whose body is sent only when `finish()` is called (the connection is "receiving" until then). */
function heldRestInfer(row: number[]): { finish(): void; done: Promise<{ status: number; body: string }> } {
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: row }] }));
  let finish = () => {};
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = nodeHttp.request(
      { host: '127.0.0.1', port: restPort, method: 'POST', path: '/v2/models/batched/infer', headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, 10));
    finish = () => req.end(body.subarray(10));
  });
  return { finish, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the worker pool', () => {
  it('gRPC and REST requests of one model join the same dynamic batch', async () => {
    const before = stats('batched');
    const rest = heldRestInfer([9, 8, 7, 6]);
    await sleep(100); // the REST request is on its way: partial batches are held for it
    const rows = Array.from({ length: 4 }, (_, i) => [i, 1, 2, 3]);
    const grpcCalls = rows.map((row) => infer({ model_name: 'batched', inputs: [fp32Input([row])] }));
    await sleep(200);
    rest.finish();
    const [restRes, ...grpcRes] = await Promise.all([rest.done, ...grpcCalls]);
    expect(restRes.status, restRes.body).toBe(200);
    grpcRes.forEach((r, i) => expectMlp(r.outputs[0], [rows[i]!]));
    const after = stats('batched');
    expect(after.inference_count - before.inference_count).toBe(5);
    // Five requests, two protocols, one ONNX Runtime run.
    expect(after.execution_count - before.execution_count).toBe(1);
  });

  const slowReq = (n: number) => ({
    model_name: 'slow',
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } },
      { name: 'n', datatype: 'INT64', shape: [], contents: { int64_contents: [String(n)] } },
    ],
  });
  const BUSY = 1200; // ≈ 0.4 s of one core

  it('a request whose deadline passes in the queue: DEADLINE_EXCEEDED, and it never runs', async () => {
    const before = stats('slow');
    const busy = infer(slowReq(BUSY));
    await sleep(50);
    const err = await failure(infer(slowReq(1), oip, undefined, { deadline: Date.now() + 100 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const res = await busy;
    expect(res.outputs[0]!.contents!.fp32_contents.map((v) => Math.round(v))).toEqual([1, 2, 3, 4]);
    await sleep(100);
    const after = stats('slow');
    expect(after.inference_count - before.inference_count).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(1);
  });

  it('a queued request the client cancels is dropped', async () => {
    const before = stats('slow');
    const busy = infer(slowReq(BUSY));
    await sleep(50);
    const cancelled = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (oip.ModelInfer as (...a: unknown[]) => grpc.ClientUnaryCall).call(oip, slowReq(1), new grpc.Metadata(), {}, (e: grpc.ServiceError | null) => resolve(e));
      setTimeout(() => call.cancel(), 100);
    });
    expect((await cancelled)?.code).toBe(grpc.status.CANCELLED);
    await busy;
    await sleep(100);
    const after = stats('slow');
    expect(after.inference_count - before.inference_count).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(1);
  });
});

describe('token authorization', () => {
  it('every RPC needs the inference key', async () => {
    tokenServer = await startGrpcTestServer(() => undefined, { disable_token_authorization: false });
    const keys = JSON.parse(fs.readFileSync(path.join(tokenServer.dir, 'key_file.json'), 'utf8')) as Record<string, { key: string }>;
    for (const [proto, service] of [
      [PROTO_FILES.openInference, OIP_SERVICE],
      [OIP_TORCHSERVE_PROTO, OIP_TORCHSERVE_SERVICE],
    ] as const) {
      const c = makeClient(proto, service, tokenServer.inferencePort);
      try {
        for (const method of ['ServerLive', 'ServerReady', 'ServerMetadata', 'ModelReady', 'ModelMetadata', 'ModelInfer']) {
          for (const md of [new grpc.Metadata(), bearer('wrong'), bearer(keys.management!.key)]) {
            const err = await failure(unary(c, method, { name: 'm', model_name: 'm' }, md));
            expect(err.code, method).toBe(grpc.status.PERMISSION_DENIED);
            expect(err.details).toBe('Token Authorization failed. Token either incorrect, expired, or not provided correctly');
          }
        }
        expect(await unary(c, 'ServerLive', {}, bearer(keys.inference!.key))).toEqual({ live: true });
        // Past the token check: the model is looked up.
        expect(await failure(unary(c, 'ModelInfer', { model_name: 'm' }, bearer(keys.inference!.key)))).toMatchObject({ code: grpc.status.NOT_FOUND });
      } finally {
        c.close();
      }
    }
  }, 30_000);
});
