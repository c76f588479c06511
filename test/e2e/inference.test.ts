/**
 * Inference API end to end through the real CLI: numeric answers equal to a direct onnxruntime
 * run, raw and multipart bodies, several inputs and dtypes, the real silero VAD model, bad
 * inputs, batching, queue-full 503, response timeout, scaling under load, and TorchServe's routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp, multiInput, sileroPath, slow } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from './harness.js';

let sb: Sandbox;
let server: ForegroundServer;
let api: string;
let mgmt: string;
let mlpFile: string;

const yaml = (settings: Record<string, number>) => Object.entries(settings).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';

async function pack(name: string, onnxFile: string, settings: Record<string, number>, extra: Record<string, string> = {}) {
  await writeMar(path.join(sb.store, `${name}.mar`), {
    modelName: name,
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(onnxFile), 'model-config.yaml': yaml(settings), ...extra },
  });
}

async function direct(file: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(file);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

const post = (model: string, body: string | FormData, headers: Record<string, string> = {}) =>
  http(`${api}/predictions/${model}`, { method: 'POST', body, headers });

beforeAll(async () => {
  sb = makeSandbox();
  mlpFile = (await mlp(sb.dir)).path;
  const multi = await multiInput(sb.dir);
  const slowFile = await slow(sb.dir);
  await pack('mlp', mlpFile, { minWorkers: 1, maxWorkers: 1, batchSize: 4, maxBatchDelay: 20 });
  await pack('multi', multi.path, { minWorkers: 1, maxWorkers: 1 });
  await pack('silero', sileroPath(), { minWorkers: 1, maxWorkers: 1 });
  await pack('slow_queue', slowFile, { minWorkers: 1, maxWorkers: 1, jobQueueSize: 1 });
  await pack('slow_timeout', slowFile, { minWorkers: 1, maxWorkers: 1, responseTimeout: 1 });
  await pack('scaled', mlpFile, { minWorkers: 1, maxWorkers: 1 });
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all', max_request_size: 200000 });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  api = server.endpoints.inference;
  mgmt = server.endpoints.management;
  // Start-up does not wait for workers: wait until every model answers /ping as healthy and has a READY worker.
  await eventually(async () => {
    const res = await http(`${mgmt}/models?limit=100`);
    const names = (res.json as { models: Array<{ modelName: string }> }).models.map((m) => m.modelName);
    if (names.length !== 6) throw new Error(`models: ${names.join(',')}`);
    for (const n of names) {
      const d = (await http(`${mgmt}/models/${n}`)).json as Array<{ workers: Array<{ status: string }> }>;
      if (d[0]?.workers[0]?.status !== 'READY') throw new Error(`${n} not ready`);
    }
  }, 30_000);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

describe('predictions', () => {
  it('answers a single row (batch dimension added and removed) equal to a direct onnxruntime run', async () => {
    const row = [0.5, -1.25, 2, 3.75];
    const res = await post('mlp', JSON.stringify(row));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const out = await direct(mlpFile, { x: new ort.Tensor('float32', Float32Array.from(row), [1, 4]) });
    expect(res.json).toEqual(Array.from(out.y!.data as Float32Array));
  });

  it('answers a batch of rows sent as {"x": [...]}', async () => {
    const rows = [
      [1, 2, 3, 4],
      [-1, 0, 1, 0.5],
      [9, 8, 7, 6],
    ];
    const res = await post('mlp', JSON.stringify({ x: rows }));
    const out = await direct(mlpFile, { x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [3, 4]) });
    const flat = Array.from(out.y!.data as Float32Array);
    expect(res.json).toEqual([flat.slice(0, 3), flat.slice(3, 6), flat.slice(6, 9)]);
  });

  it('batches concurrent requests and returns each its own answer', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => [i, i / 2, -i, 1]);
    const replies = await Promise.all(rows.map((r) => post('mlp', JSON.stringify(r))));
    const out = await direct(mlpFile, { x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]) });
    const flat = Array.from(out.y!.data as Float32Array);
    replies.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.json).toEqual(flat.slice(i * 3, i * 3 + 3));
    });
  });

  it('accepts a multipart file field (curl -F data=@file) and the legacy/version routes', async () => {
    const form = new FormData();
    form.append('data', new Blob(['[1, 1, 1, 1]']), 'input.json');
    const res = await http(`${api}/predictions/mlp`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const plain = await post('mlp', '[1, 1, 1, 1]');
    expect(res.json).toEqual(plain.json);
    expect((await http(`${api}/predictions/mlp/1.0`, { method: 'POST', body: '[1,1,1,1]' })).json).toEqual(plain.json);
    expect((await http(`${api}/mlp/predict`, { method: 'POST', body: '[1,1,1,1]' })).json).toEqual(plain.json);
    // `curl -T file URL` sends a PUT: TorchServe does not check the method of predictions.
    expect((await http(`${api}/predictions/mlp`, { method: 'PUT', body: '[1,1,1,1]' })).json).toEqual(plain.json);
  });

  it('feeds several inputs of several dtypes, by JSON object or by multipart fields', async () => {
    const body = { a: [[1.5, -2]], b: [[3, 4]], flag: [[true]] };
    const res = await post('multi', JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ sum: [[4.5, 2]], count: [[8]], positive: [[true, true]] });
    const form = new FormData();
    form.append('a', '[0.25, 0.5]');
    form.append('b', '[1, 2]');
    form.append('flag', '[false]');
    const viaForm = await http(`${api}/predictions/multi`, { method: 'POST', body: form });
    expect(viaForm.json).toEqual({ sum: [0, 0], count: [3], positive: [false, false] });
    // Fields labelled application/json (curl -F 'a=[..];type=application/json', no filename) arrive as their JSON text.
    const field = (name: string, value: string) =>
      `--XYZ\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: application/json\r\n\r\n${value}\r\n`;
    const raw = `${field('a', '[0.25, 0.5]')}${field('b', '[1, 2]')}${field('flag', '[false]')}--XYZ--\r\n`;
    const viaTyped = await http(`${api}/predictions/multi`, { method: 'POST', body: raw, headers: { 'content-type': 'multipart/form-data; boundary=XYZ' } });
    expect(viaTyped.json).toEqual(viaForm.json);
  });

  it('serves the real silero VAD model with its four inputs', async () => {
    const audio = Array.from({ length: 512 }, (_, i) => Math.sin(i / 10) * 0.5);
    const zeros = Array.from({ length: 2 }, () => [Array.from({ length: 64 }, () => 0)]);
    const res = await post('silero', JSON.stringify({ input: [audio], sr: 16000, h: zeros, c: zeros }));
    expect(res.status).toBe(200);
    const json = res.json as { output: number[][]; hn: number[][][]; cn: number[][][] };
    const out = await direct(sileroPath(), {
      input: new ort.Tensor('float32', Float32Array.from(audio), [1, 512]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      h: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
      c: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
    });
    expect(json.output).toEqual([[(out.output!.data as Float32Array)[0]]]);
    expect(json.hn.flat(2)).toEqual(Array.from(out.hn!.data as Float32Array));
  });
});

describe('bad input and unknown routes', () => {
  it('names the input, expected and received shape in 400s', async () => {
    const wrongShape = await post('mlp', '[1, 2, 3]');
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.json).toMatchObject({ code: 400, type: 'BadRequestException' });
    const msg = (wrongShape.json as { message: string }).message;
    expect(msg).toContain('"x"');
    expect(msg).toContain('[3]');
    const wrongName = await post('multi', JSON.stringify({ a: [[1, 2]], b: [[1, 2]], nope: [[true]] }));
    expect(wrongName.status).toBe(400);
    expect((wrongName.json as { message: string }).message).toMatch(/flag|nope/);
    const notJson = await post('mlp', 'hello');
    expect(notJson.status).toBe(400);
    const ragged = await post('mlp', '[[1,2,3,4],[1,2]]');
    expect(ragged.status).toBe(400);
    // The server is still fine afterwards.
    expect((await post('mlp', '[1,2,3,4]')).status).toBe(200);
  });

  it('answers 404 for unknown models, versions and paths', async () => {
    expect((await post('nothing', '[1]')).json).toEqual({ code: 404, type: 'ModelNotFoundException', message: 'Model not found: nothing' });
    const notFound = { code: 404, type: 'ResourceNotFoundException', message: 'Requested resource is not found, please refer to API document.' };
    expect((await http(`${api}/predictions`, { method: 'POST' })).json).toEqual(notFound);
    const unknown = await http(`${api}/no/such/path`);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual(notFound);
    expect(unknown.headers.get('connection')).toBe('close');
  });

  it('rejects bodies over max_request_size with 413', async () => {
    const res = await post('mlp', `[${'1,'.repeat(150000)}1]`);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ code: 413 });
  });

  it('serves /ping, the API description and the per-model description', async () => {
    const ping = await http(`${api}/ping`);
    expect(ping.text).toBe('{\n  "status": "Healthy"\n}\n');
    for (const h of ['x-request-id', 'pragma', 'cache-control', 'expires']) expect(ping.headers.get(h)).toBeTruthy();
    expect(ping.headers.get('cache-control')).toBe('no-cache; no-store, must-revalidate, private');
    const desc = await http(api, { method: 'OPTIONS' });
    const paths = Object.keys((desc.json as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(['/', '/ping', '/v1/models/{model_name}:predict', '/v2/models/{model_name}/infer', '/predictions/{model_name}', '/predictions/{model_name}/{model_version}', '/api-description', '/metrics']);
    expect((await http(`${api}/api-description`)).json).toEqual(desc.json);
    expect((await http(api)).status).toBe(405);
    const perModel = await http(`${api}/predictions/mlp`, { method: 'OPTIONS' });
    expect(perModel.json).toMatchObject({ openapi: '3.0.1', info: { title: 'RESTful API for: mlp' } });
  });
});

describe('queueing, timeouts and scaling', () => {
  it('rejects with 503 once the job queue is full', async () => {
    const slowBody = JSON.stringify({ x: [[1, 2, 3, 4]], n: 3000 });
    const replies = await Promise.all(Array.from({ length: 5 }, () => post('slow_queue', slowBody)));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    const rejected = replies.filter((r) => r.status === 503);
    expect(rejected.length).toBeGreaterThanOrEqual(2);
    expect(rejected[0]?.json).toMatchObject({ code: 503, type: 'ServiceUnavailableException' });
    expect((rejected[0]?.json as { message: string }).message).toMatch(/^Model "slow_queue" has no worker to serve inference request\./);
  });

  it('fails a request past responseTimeout with 500 "Worker died." and replaces the worker', async () => {
    const res = await post('slow_timeout', JSON.stringify({ x: [[1, 2, 3, 4]], n: 8000 }));
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ code: 500, type: 'InternalServerException', message: 'Worker died.' });
    const after = await eventually(async () => {
      const r = await post('slow_timeout', JSON.stringify({ x: [[1, 2, 3, 4]], n: 1 }));
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return r;
    }, 20_000);
    expect(after.status).toBe(200);
  });

  it('keeps answering while workers are scaled up and down under load', async () => {
    const row = [1, 2, 3, 4];
    const expected = (await post('scaled', JSON.stringify(row))).json;
    let stop = false;
    const load = (async () => {
      const statuses: number[] = [];
      while (!stop) {
        const batch = await Promise.all(Array.from({ length: 4 }, () => post('scaled', JSON.stringify(row))));
        for (const r of batch) {
          statuses.push(r.status);
          if (r.status === 200) expect(r.json).toEqual(expected);
        }
      }
      return statuses;
    })();
    for (const n of [3, 1, 2, 1]) {
      const res = await http(`${mgmt}/models/scaled?min_worker=${n}&synchronous=true`, { method: 'PUT' });
      expect(res.status).toBe(200);
      const workers = ((await http(`${mgmt}/models/scaled`)).json as Array<{ workers: unknown[] }>)[0]?.workers;
      expect(workers?.length).toBeGreaterThanOrEqual(n);
    }
    stop = true;
    const statuses = await load;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});
