/**
 * Open Inference Protocol v2 end to end through the real CLI, driven by the spec-written test
 * client (test/fixtures/oip-client.ts): server and model metadata, health, every datatype round
 * trip in JSON and binary, several inputs, requested outputs, the raw binary request, malformed
 * bodies (400 `{"error"}`, server still answering), 404/503, statistics, dynamic batching shared
 * with `/predictions`, and the model repository extension on the management port.
 */
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_DATATYPES, identity, identityInput, identityOutput, type IdentityDatatype } from '../fixtures/identity.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, multiInput, type MlpModel, type MultiInputModel } from '../fixtures/models.js';
import { OipClient, type ClientTensor, type Value } from '../fixtures/oip-client.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from './harness.js';

let sb: Sandbox;
let server: ForegroundServer;
let api: string;
let mgmt: string;
let client: OipClient;
let mlpModel: MlpModel;
let multi: MultiInputModel;

const PKG_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const yaml = (settings: Record<string, number>) => Object.entries(settings).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';

async function pack(name: string, onnxFile: string, settings: Record<string, number>, version = '1.0') {
  await writeMar(path.join(sb.store, `${name}.mar`), {
    modelName: name,
    modelVersion: version,
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(onnxFile), 'model-config.yaml': yaml(settings) },
  });
}

const STARTUP = ['identity', 'mlp', 'multi', 'counted', 'batched', 'idle'];

beforeAll(async () => {
  sb = makeSandbox();
  mlpModel = await mlp(sb.dir);
  multi = await multiInput(sb.dir);
  const identityFile = await identity(sb.dir);
  await pack('identity', identityFile, { minWorkers: 1, maxWorkers: 1 });
  await pack('mlp', mlpModel.path, { minWorkers: 1, maxWorkers: 1 });
  await pack('multi', multi.path, { minWorkers: 1, maxWorkers: 1 });
  await pack('counted', mlpModel.path, { minWorkers: 1, maxWorkers: 1 });
  await pack('batched', mlpModel.path, { minWorkers: 1, maxWorkers: 1, batchSize: 16, maxBatchDelay: 300 });
  await pack('idle', mlpModel.path, { minWorkers: 1, maxWorkers: 1 });
  // In the store but not loaded at start-up: for the repository extension.
  await pack('spare', mlpModel.path, { minWorkers: 1, maxWorkers: 1 });
  const cfg = sb.writeConfig({
    model_store: sb.store,
    load_models: STARTUP.map((n) => `${n}.mar`).join(','),
    enable_model_api: true,
    max_request_size: 200_000,
  });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  api = server.endpoints.inference;
  mgmt = server.endpoints.management;
  client = new OipClient(api, mgmt);
  await eventually(async () => {
    const res = await client.ready();
    if (res.status !== 200) throw new Error(`not ready: ${JSON.stringify(res.json)}`);
  }, 30_000);
  // A model without workers: scaled to 0 once loaded (its signature stays known).
  const scaled = await http(`${mgmt}/models/idle?min_worker=0&max_worker=0&synchronous=true`, { method: 'PUT' });
  if (scaled.status !== 200) throw new Error(`scale idle: ${scaled.text}`);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

/** Two rows of three values per datatype, with each type's extremes. */
function sample(d: IdentityDatatype): Value[] {
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
      return [0n, 2n ** 53n, 1n, 2n, 42n, 7n];
    case 'INT8':
      return [-128, 127, 0, -1, 1, 42];
    case 'INT16':
      return [-32768, 32767, 0, -1, 1, 42];
    case 'INT32':
      return [-2147483648, 2147483647, 0, -1, 1, 42];
    case 'INT64':
      return [-(2n ** 53n), 2n ** 53n, 0n, -1n, 1n, 42n];
    case 'FP16':
      return [0, -2, 0.5, 65504, -0.25, 1.5];
    case 'FP32':
      return [0, -1.5, Math.fround(0.1), 3.4028234663852886e38, -1e-30, 42];
    case 'FP64':
      return [0, -1.5, 0.1, Number.MAX_VALUE, -5e-324, Math.PI];
    case 'BYTES':
      return ['', 'a', 'héllo wörld', '{"json": true}', 'x'.repeat(300), '日本'];
  }
}

const identityInputs = (): ClientTensor[] => IDENTITY_DATATYPES.map((d) => ({ name: identityInput(d), datatype: d, shape: [2, 3], data: sample(d) }));

describe('server and model metadata, health', () => {
  it('GET /v2 names the server, its version and exactly the implemented extensions', async () => {
    const res = await client.serverMetadata();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: 'onnxserve', version: PKG_VERSION, extensions: ['binary_tensor_data', 'statistics', 'model_repository'] });
  });

  it("every listed extension's endpoint answers", async () => {
    const { extensions } = (await client.serverMetadata()).json as { extensions: string[] };
    for (const ext of extensions) {
      if (ext === 'binary_tensor_data') {
        const r = await client.infer('mlp', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }], { binaryInputs: true, binaryOutputs: true });
        expect(r.status).toBe(200);
        expect(r.binaryOutputs).toEqual(['y']);
      } else if (ext === 'statistics') {
        expect((await client.stats()).status).toBe(200);
      } else if (ext === 'model_repository') {
        expect((await client.repositoryIndex()).status).toBe(200);
      } else {
        throw new Error(`extension ${ext} is listed but not tested`);
      }
    }
  });

  it('answers live and ready (every model has its minWorkers ready)', async () => {
    expect(await client.live()).toMatchObject({ status: 200, json: { live: true } });
    expect(await client.ready()).toMatchObject({ status: 200, json: { ready: true } });
  });

  it('describes a model from its ONNX signature (-1 for dynamic dims), default and explicit version', async () => {
    const expected = {
      name: 'multi',
      versions: ['1.0'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 2] },
        { name: 'b', datatype: 'INT64', shape: [-1, 2] },
        { name: 'flag', datatype: 'BOOL', shape: [-1, 1] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: [-1, 2] },
        { name: 'count', datatype: 'INT64', shape: [-1, 1] },
        { name: 'positive', datatype: 'BOOL', shape: [-1, 2] },
      ],
    };
    expect(await client.modelMetadata('multi')).toMatchObject({ status: 200, json: expected });
    expect(await client.modelMetadata('multi', '1.0')).toMatchObject({ status: 200, json: expected });
    const id = (await client.modelMetadata('identity')).json as { inputs: Array<{ datatype: string }> };
    expect(id.inputs.map((i) => i.datatype)).toEqual(IDENTITY_DATATYPES);
  });

  it('model readiness: 200 ready, 503 without workers, 404 unknown model or version', async () => {
    expect(await client.modelReady('mlp')).toMatchObject({ status: 200, json: { name: 'mlp', ready: true } });
    expect(await client.modelReady('mlp', '1.0')).toMatchObject({ status: 200, json: { name: 'mlp', ready: true } });
    expect(await client.modelReady('idle')).toMatchObject({ status: 503, json: { name: 'idle', ready: false } });
    expect(await client.modelReady('nope')).toMatchObject({ status: 404, json: { error: 'Model not found: nope' } });
    expect(await client.modelReady('mlp', '9')).toMatchObject({ status: 404, json: { error: 'Model version: 9 does not exist for model: mlp' } });
  });
});

describe('inference', () => {
  it('round-trips every datatype through an identity model as JSON', async () => {
    const inputs = identityInputs();
    const r = await client.infer('identity', inputs, { id: 'all-types' });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.response).toMatchObject({ model_name: 'identity', model_version: '1.0', id: 'all-types' });
    for (const d of IDENTITY_DATATYPES) {
      const out = r.response!.outputs.find((o) => o.name === identityOutput(d));
      const want = sample(d).map((v) => (typeof v === 'bigint' ? v : d === 'FP32' ? Math.fround(v as number) : v));
      expect(out, d).toEqual({ name: identityOutput(d), datatype: d, shape: [2, 3], data: want });
    }
  });

  it('round-trips every datatype as binary (inputs and outputs), equal to the JSON answer', async () => {
    const inputs = identityInputs();
    const json = await client.infer('identity', inputs);
    const bin = await client.infer('identity', inputs, { binaryInputs: true, binaryOutputs: true });
    expect(bin.status).toBe(200);
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(bin.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
    expect(bin.binaryOutputs).toEqual(IDENTITY_DATATYPES.map(identityOutput));
    expect(bin.response!.outputs).toEqual(json.response!.outputs);
  });

  it('sends binary inputs with JSON outputs, and mixes per-output binary_data', async () => {
    const inputs = identityInputs();
    const jsonOut = await client.infer('identity', inputs, { binaryInputs: ['in_fp32', 'in_bytes'] });
    expect(jsonOut.headers.get('content-type')).toBe('application/json');
    expect(jsonOut.binaryOutputs).toEqual([]);
    const mixed = await client.infer('identity', inputs, { outputs: ['out_int64', 'out_fp16'], binaryOutputs: ['out_fp16'] });
    expect(mixed.binaryOutputs).toEqual(['out_fp16']);
    expect(mixed.response!.outputs.map((o) => o.name)).toEqual(['out_int64', 'out_fp16']);
    expect(mixed.response!.outputs[1]!.data).toEqual(sample('FP16'));
  });

  it('answers a multi-input model, all outputs or a requested subset in the requested order', async () => {
    const inputs: ClientTensor[] = [
      { name: 'a', datatype: 'FP32', shape: [2, 2], data: [0.5, -1, 2, 3] },
      { name: 'b', datatype: 'INT64', shape: [2, 2], data: [1, 2, 3, 4] },
      { name: 'flag', datatype: 'BOOL', shape: [2, 1], data: [true, false] },
    ];
    const all = await client.infer('multi', inputs);
    expect(all.status).toBe(200);
    const e0 = multi.expected({ a: [0.5, -1], b: [1, 2], flag: [true] });
    const e1 = multi.expected({ a: [2, 3], b: [3, 4], flag: [false] });
    expect(all.response!.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [2, 2], data: [...e0.sum, ...e1.sum] },
      { name: 'count', datatype: 'INT64', shape: [2, 1], data: [...e0.count, ...e1.count].map(BigInt) },
      { name: 'positive', datatype: 'BOOL', shape: [2, 2], data: [...e0.positive, ...e1.positive] },
    ]);
    const subset = await client.infer('multi', inputs, { outputs: ['positive', 'count'] });
    expect(subset.response!.outputs.map((o) => o.name)).toEqual(['positive', 'count']);
    // Nested data is accepted as well as flat.
    const nested = await client.send('multi', {
      body: new TextEncoder().encode(JSON.stringify({ inputs: inputs.map((t) => ({ ...t, data: [t.data.slice(0, t.data.length / 2), t.data.slice(t.data.length / 2)] })) })),
      headers: { 'content-type': 'application/json' },
    });
    expect(nested.response!.outputs).toEqual(all.response!.outputs);
  });

  it('gives identical outputs for JSON and binary requests of the same tensor', async () => {
    const rows = Array.from({ length: 64 }, (_, i) => Array.from({ length: 4 }, (_, j) => Math.fround(Math.sin(i * 4 + j) * 3)));
    const input: ClientTensor = { name: 'x', datatype: 'FP32', shape: [64, 4], data: rows.flat() };
    const json = await client.infer('mlp', [input]);
    const bin = await client.infer('mlp', [input], { binaryInputs: true, binaryOutputs: true });
    expect(bin.response!.outputs).toEqual(json.response!.outputs);
    const y = json.response!.outputs[0]!.data as number[];
    const want = mlpModel.expected(rows).flat();
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    expect(bin.requestBytes).toBeLessThan(json.requestBytes);
  });

  it('takes the raw binary request (header 0, the single input as batch 1) and answers binary', async () => {
    const row = [0.5, -1.25, 2, 3.75];
    const r = await client.inferRaw('mlp', new Uint8Array(new Float32Array(row).buffer));
    expect(r.status).toBe(200);
    expect(r.binaryOutputs).toEqual(['y']);
    expect(r.response!.outputs[0]!.shape).toEqual([1, 3]);
    const want = mlpModel.expected([row])[0]!;
    (r.response!.outputs[0]!.data as number[]).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    const multiRaw = await client.inferRaw('multi', new Uint8Array(8));
    expect(multiRaw).toMatchObject({ status: 400, error: expect.stringMatching(/single-input model; this one has 3 inputs/) });
  });

  it('serves an explicit version and answers its model_version', async () => {
    const r = await client.infer('mlp', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }], { version: '1.0' });
    expect(r.response).toMatchObject({ model_name: 'mlp', model_version: '1.0' });
  });
});

describe('errors are {"error"} with the right status, and never crash the server', () => {
  const x = (over: Record<string, unknown> = {}) => ({ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4], ...over });
  const send = async (model: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await http(`${api}/v2/models/${model}/infer`, { method: 'POST', body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body), headers });
    return res;
  };

  it.each([
    ['invalid JSON', '{"inputs": [', /not valid JSON/],
    ['missing inputs', { id: 'a' }, /no "inputs"/],
    ['an unknown datatype', { inputs: [x({ datatype: 'FLOAT32' })] }, /Input "x": unknown datatype "FLOAT32"/],
    ['a wrong shape product', { inputs: [x({ shape: [1, 5] })] }, /Input "x": shape \[1,5\] needs 5 elements, "data" has 4/],
    ['a huge shape product', { inputs: [x({ shape: [4294967296, 4294967296] })] }, /Input "x": shape \[4294967296,4294967296\] has 18446744073709551616 elements/],
    ['a negative dimension', { inputs: [x({ shape: [-1, 4] })] }, /non-negative integers/],
    ['nested data not matching the shape', { inputs: [x({ data: [[1, 2], [3, 4]] })] }, /nested "data" does not match shape \[1,4\]/],
    ['a string in FP32', { inputs: [x({ data: [1, 'two', 3, 4] })] }, /element \[1\] is "two"/],
    ['duplicate inputs', { inputs: [x(), x()] }, /Input "x" appears twice/],
    ['an unknown input (the runtime)', { inputs: [x(), x({ name: 'z' })] }, /[Uu]nknown input "z"/],
    ['a missing input (the runtime)', { inputs: [] }, /[Mm]issing input "x"/],
    ['a datatype the model does not take (the runtime)', { inputs: [x({ datatype: 'FP64' })] }, /expected datatype FP32, got FP64/],
    ['a shape the model does not take (the runtime)', { inputs: [x({ shape: [2, 2] })] }, /expected shape \[N,4\]/],
    ['an unknown output (the runtime)', { inputs: [x()], outputs: [{ name: 'nope' }] }, /[Uu]nknown output "nope"/],
  ])('%s → 400', async (_what, body, message) => {
    const res = await send('mlp', body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(res.json as object)).toEqual(['error']);
    expect((res.json as { error: string }).error).toMatch(message);
    expect((await client.live()).status).toBe(200);
  });

  it('binary bodies: bad header value, sizes that do not add up → 400', async () => {
    const header = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] });
    const body = new Uint8Array([...Buffer.from(header), ...new Uint8Array(12)]);
    const short = await send('mlp', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    expect(short.status).toBe(400);
    expect((short.json as { error: string }).error).toMatch(/runs past the end of the body/);
    const bad = await send('mlp', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': 'x' });
    expect(bad.json).toEqual({ error: 'Inference-Header-Content-Length must be a non-negative integer, got "x"' });
    const past = await send('mlp', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': '100000' });
    expect(past.status).toBe(400);
  });

  it('unknown model or version → 404, no worker → 503, wrong method → 405, unknown path → 404', async () => {
    const body = { inputs: [x()] };
    expect(await send('nope', body)).toMatchObject({ status: 404, json: { error: 'Model not found: nope' } });
    const v = await http(`${api}/v2/models/mlp/versions/7/infer`, { method: 'POST', body: JSON.stringify(body) });
    expect(v).toMatchObject({ status: 404, json: { error: 'Model version: 7 does not exist for model: mlp' } });
    const idle = await send('idle', body);
    expect(idle.status).toBe(503);
    expect((idle.json as { error: string }).error).toMatch(/^Model "idle" has no worker to serve inference request/);
    expect((await client.modelMetadata('idle')).status).toBe(200);
    expect((await http(`${api}/v2/models/mlp/infer`)).status).toBe(405);
    expect(await http(`${api}/v2/nothing/here`)).toMatchObject({ status: 404, json: { error: expect.stringMatching(/not found/) } });
    // The TorchServe routes keep their envelope.
    expect((await http(`${api}/predictions/nope`, { method: 'POST', body: '[1]' })).json).toMatchObject({ code: 404, type: 'ModelNotFoundException' });
  });

  it('a body over max_request_size → 413 {"error"}', async () => {
    // node:http, not fetch: the server answers before the upload ends, which fetch reports as EPIPE.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = nodeHttp.request(`${api}/v2/models/mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' } }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', (e) => setTimeout(() => reject(e), 2000)); // EPIPE after the answer is fine
      req.end(Buffer.alloc(250_000));
    });
    expect(res.status).toBe(413);
    expect((JSON.parse(res.body) as { error: string }).error).toMatch(/max_request_size/);
  });
});

describe('statistics', () => {
  it('counts successes, failures, executions and durations per model (Triton shape)', async () => {
    const row: ClientTensor = { name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] };
    expect((await client.infer('counted', [row])).status).toBe(200);
    expect((await client.infer('counted', [row], { binaryInputs: true })).status).toBe(200);
    expect((await http(`${api}/predictions/counted`, { method: 'POST', body: '[1, 2, 3, 4]' })).status).toBe(200);
    expect((await client.infer('counted', [{ ...row, datatype: 'FP64' }])).status).toBe(400);
    const res = await client.stats('counted');
    expect(res.status).toBe(200);
    const { model_stats } = res.json as { model_stats: Array<Record<string, unknown>> };
    expect(model_stats).toHaveLength(1);
    const s = model_stats[0] as {
      name: string;
      version: string;
      last_inference: number;
      inference_count: number;
      execution_count: number;
      inference_stats: Record<string, { count: number; ns: number }>;
    };
    expect(s.name).toBe('counted');
    expect(s.version).toBe('1.0');
    expect(s.inference_count).toBe(5); // 2 + 2 rows + 1 row
    expect(s.execution_count).toBe(3);
    expect(s.last_inference).toBeGreaterThan(Date.now() - 60_000);
    const st = s.inference_stats;
    expect(Object.keys(st)).toEqual(expect.arrayContaining(['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output']));
    expect(st.success!.count).toBe(3);
    expect(st.fail!.count).toBe(1);
    for (const k of ['success', 'queue', 'compute_input', 'compute_infer', 'compute_output']) {
      expect(st[k]!.count, k).toBe(3);
      expect(st[k]!.ns, k).toBeGreaterThan(0);
    }
    // Versioned and server-wide forms.
    expect(((await client.stats('counted', '1.0')).json as { model_stats: unknown[] }).model_stats).toHaveLength(1);
    const all = (await client.stats()).json as { model_stats: Array<{ name: string }> };
    expect(all.model_stats.map((m) => m.name)).toEqual(expect.arrayContaining(STARTUP));
    expect((await client.stats('nope')).status).toBe(404);
  });

  it('v2 and /predictions requests of one model join the same dynamic batches', async () => {
    const before = ((await client.stats('batched')).json as { model_stats: Array<{ execution_count: number; inference_count: number }> }).model_stats[0]!;
    const v2 = Array.from({ length: 4 }, (_, i) => client.infer('batched', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [i, 1, 2, 3] }]));
    const ts = Array.from({ length: 4 }, (_, i) => http(`${api}/predictions/batched`, { method: 'POST', body: JSON.stringify([i, 1, 2, 3]) }));
    const results = await Promise.all([...v2, ...ts]);
    for (const r of results) expect(r.status).toBe(200);
    const after = ((await client.stats('batched')).json as { model_stats: Array<{ execution_count: number; inference_count: number }> }).model_stats[0]!;
    expect(after.inference_count - before.inference_count).toBe(8);
    // Eight requests within maxBatchDelay (300 ms) of a batchSize-16 model: far fewer than eight runs.
    expect(after.execution_count - before.execution_count).toBeLessThanOrEqual(2);
  });

  it('answers a lone request without waiting out maxBatchDelay (300 ms) when no other request is on its way', async () => {
    type Stats = { model_stats: Array<{ execution_count: number }> };
    const before = ((await client.stats('batched')).json as Stats).model_stats[0]!;
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const res = await http(`${api}/predictions/batched`, { method: 'POST', body: JSON.stringify([i, 1, 2, 3]) });
      times.push(performance.now() - t0);
      expect(res.status).toBe(200);
    }
    times.sort((a, b) => a - b);
    // Holding each for a batch that cannot fill would take ≥ 300 ms every time.
    expect(times[1]).toBeLessThan(150);
    const after = ((await client.stats('batched')).json as Stats).model_stats[0]!;
    expect(after.execution_count - before.execution_count).toBe(3);
  });
});

describe('model repository (management port)', () => {
  type Entry = { name: string; version?: string; state: string; reason?: string };
  const index = async (body?: { ready?: boolean }) => (await client.repositoryIndex(body)).json as Entry[];

  it('lists registered versions and unloaded store archives', async () => {
    const entries = await index();
    expect(entries).toContainEqual({ name: 'mlp', version: '1.0', state: 'READY' });
    expect(entries).toContainEqual({ name: 'idle', version: '1.0', state: 'UNAVAILABLE', reason: 'no worker is ready' });
    expect(entries).toContainEqual({ name: 'spare', state: 'UNAVAILABLE', reason: 'unloaded' });
    const ready = await index({ ready: true });
    expect(ready.every((e) => e.state === 'READY')).toBe(true);
    expect(ready.map((e) => e.name)).not.toContain('spare');
    // Not on the inference port.
    expect((await http(`${api}/v2/repository/index`, { method: 'POST' })).status).toBe(404);
  });

  it('loads a store archive (synchronously, one worker), serves it, unloads it', async () => {
    const loaded = await client.load('spare');
    expect(loaded.status).toBe(200);
    expect(await index()).toContainEqual({ name: 'spare', version: '1.0', state: 'READY' });
    const r = await client.infer('spare', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }]);
    expect(r.status).toBe(200);
    expect((await client.load('spare')).status).toBe(200); // already loaded
    expect((await client.unload('spare')).status).toBe(200);
    expect((await client.infer('spare', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }])).status).toBe(404);
    expect(await index()).toContainEqual({ name: 'spare', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect(await client.unload('spare')).toMatchObject({ status: 404, json: { error: 'Model not found: spare' } });
  });

  it('refuses unknown or unsafe names and unsupported load parameters', async () => {
    expect(await client.load('missing')).toMatchObject({ status: 404, json: { error: expect.stringMatching(/^Model not found in the model store: missing/) } });
    expect((await client.load('../etc')).status).toBe(400);
    const res = await http(`${mgmt}/v2/repository/models/spare/load`, { method: 'POST', body: JSON.stringify({ parameters: { config: '{}' } }), headers: { 'content-type': 'application/json' } });
    expect(res).toMatchObject({ status: 400, json: { error: expect.stringMatching(/"config" is not supported/) } });
    expect((await http(`${mgmt}/v2/repository/index`)).status).toBe(405);
  });
});
