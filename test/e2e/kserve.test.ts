/**
 * KServe v1 and TorchServe's service envelopes end to end through the real CLI: `/v1/models`,
 * readiness, `:predict` with `instances` (rows or objects) and `inputs` (columnar), `:explain`
 * through a custom handler (each instance one request of its batch, as TorchServe's envelopes),
 * each envelope on `/predictions` (manifest `envelope`, and `TS_SERVICE_ENVELOPE` for a whole
 * server), and the repository extension refused while the model API is off.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestFor, writeFolder, writeMar } from '../fixtures/mar.js';
import { mlp, multiInput, type MlpModel, type MultiInputModel } from '../fixtures/models.js';
import { OipClient } from '../fixtures/oip-client.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from './harness.js';

let sb: Sandbox;
let server: ForegroundServer;
let api: string;
let mgmt: string;
let mlpModel: MlpModel;
let multi: MultiInputModel;

const YAML = 'minWorkers: 1\nmaxWorkers: 1\n';

/** A handler module: default steps for predictions, an `explain` that reports what it was given. */
const EXPLAINER = `
export function explain(feeds, ctx, batch) {
  return feeds.map((f, i) => ({ inputs: Object.keys(f), rows: f.x.dims[0], explain: batch[i].headers.explain }));
}
`;

/** A no-archive model folder whose manifest names an envelope. */
function envelopeModel(name: string, envelope: string) {
  const dir = path.join(sb.store, name);
  const spec = { modelName: name, serializedFile: 'model.onnx', configFile: 'model-config.yaml', files: { 'model.onnx': fs.readFileSync(mlpModel.path), 'model-config.yaml': YAML } };
  writeFolder(dir, spec);
  const manifest = JSON.parse(manifestFor(spec)) as { model: Record<string, string> };
  manifest.model.envelope = envelope;
  fs.writeFileSync(path.join(dir, 'MAR-INF/MANIFEST.json'), JSON.stringify(manifest, null, 2));
}

const MODELS = ['mlp', 'multi', 'explainer', 'env_kserve', 'env_kservev2', 'env_json', 'env_body'];

beforeAll(async () => {
  sb = makeSandbox();
  mlpModel = await mlp(sb.dir);
  multi = await multiInput(sb.dir);
  const mar = (name: string, onnx: string, extra: Record<string, string> = {}, handler?: string) =>
    writeMar(path.join(sb.store, `${name}.mar`), {
      modelName: name,
      serializedFile: 'model.onnx',
      configFile: 'model-config.yaml',
      ...(handler ? { handler } : {}),
      files: { 'model.onnx': fs.readFileSync(onnx), 'model-config.yaml': YAML, ...extra },
    });
  await mar('mlp', mlpModel.path);
  await mar('multi', multi.path);
  await mar('explainer', mlpModel.path, { 'handler.mjs': EXPLAINER }, 'handler.mjs');
  for (const e of ['kserve', 'kservev2', 'json', 'body']) envelopeModel(`env_${e}`, e);
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all' });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  api = server.endpoints.inference;
  mgmt = server.endpoints.management;
  await eventually(async () => {
    const res = await http(`${api}/v2/health/ready`);
    const list = (await http(`${api}/v1/models`)).json as { models: string[] };
    if (res.status !== 200 || list.models.length !== MODELS.length) throw new Error(`not ready: ${res.text} ${JSON.stringify(list)}`);
  }, 30_000);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

const post = (url: string, body: unknown) => http(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const rows = [
  [0.5, -1.25, 2, 3.75],
  [1, 2, 3, 4],
];
function expectRows(got: unknown, want: number[][]) {
  const g = got as number[][];
  expect(g).toHaveLength(want.length);
  g.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 4)));
}

describe('KServe v1', () => {
  it('lists models and answers readiness', async () => {
    expect((await http(`${api}/v1/models`)).json).toEqual({ models: [...MODELS].sort() });
    expect(await http(`${api}/v1/models/mlp`)).toMatchObject({ status: 200, json: { name: 'mlp', ready: true } });
    expect(await http(`${api}/v1/models/nope`)).toMatchObject({ status: 404, json: { code: 404, type: 'ModelNotFoundException', message: 'Model not found: nope' } });
  });

  it(':predict with instances (one row each) answers one prediction per instance', async () => {
    const res = await post(`${api}/v1/models/mlp:predict`, { instances: rows });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const { predictions } = res.json as { predictions: number[][] };
    expectRows(predictions, mlpModel.expected(rows));
  });

  it(':predict with inputs (columnar) gives the same predictions', async () => {
    const byValue = await post(`${api}/v1/models/mlp:predict`, { inputs: rows });
    const byName = await post(`${api}/v1/models/mlp:predict`, { inputs: { x: rows } });
    expectRows((byValue.json as { predictions: unknown }).predictions, mlpModel.expected(rows));
    expect(byName.json).toEqual(byValue.json);
  });

  it('several inputs: instances are objects, predictions objects by output name', async () => {
    const instances = [
      { a: [0.5, -1], b: [1, 2], flag: [true] },
      { a: [2, 3], b: [3, 4], flag: [false] },
    ];
    const res = await post(`${api}/v1/models/multi:predict`, { instances });
    expect(res.status).toBe(200);
    const { predictions } = res.json as { predictions: unknown[] };
    expect(predictions).toEqual(instances.map((i) => multi.expected(i as never)));
    const columnar = await post(`${api}/v1/models/multi:predict`, { inputs: { a: instances.map((i) => i.a), b: instances.map((i) => i.b), flag: instances.map((i) => i.flag) } });
    expect(columnar.json).toEqual(res.json);
  });

  it('refuses malformed v1 bodies with 400 in TorchServe\'s envelope', async () => {
    const bad = async (model: string, body: unknown, message: RegExp) => {
      const res = await post(`${api}/v1/models/${model}:predict`, body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 400, type: 'BadRequestException', message: expect.stringMatching(message) });
    };
    await bad('mlp', {}, /needs "instances"/);
    await bad('mlp', { instances: 5 }, /"instances" must be a list/);
    await bad('mlp', { instances: [] }, /"instances" is empty/);
    await bad('mlp', { instances: [[1, 2, 3, 4], [1, 2]] }, /does not match shape/);
    await bad('mlp', { instances: [[1, 'a', 3, 4]] }, /is "a", expected a number/);
    await bad('multi', { instances: [[1, 2]] }, /must be an object \{input name: value\}/);
    await bad('multi', { instances: [{ a: [1, 2], b: [1, 2] }] }, /lacks input "flag"/);
    await bad('multi', { instances: [{ a: [1, 2], b: [1, 2], flag: [true], z: 1 }] }, /unknown input "z"/);
    expect((await http(`${api}/v1/models/mlp:predict`, { method: 'POST', body: 'nope' })).status).toBe(400);
    expect((await http(`${api}/v1/models/mlp:frobnicate`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it(':explain goes to the handler\'s explain, one request per instance', async () => {
    const res = await post(`${api}/v1/models/explainer:explain`, { instances: rows });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ explanations: rows.map(() => ({ inputs: ['x'], rows: 1, explain: 'True' })) });
    // Its predictions come from the default steps, instance by instance.
    const pred = await post(`${api}/v1/models/explainer:predict`, { instances: rows });
    expectRows((pred.json as { predictions: unknown }).predictions, mlpModel.expected(rows));
    // The default ONNX handler has no explain.
    const none = await post(`${api}/v1/models/mlp:explain`, { instances: rows });
    expect(none).toMatchObject({ status: 400, json: { message: 'Model "mlp" does not support explanations' } });
  });
});

describe('service envelopes on /predictions (manifest envelope)', () => {
  it('kserve: {"instances"} ⇒ {"predictions"}, and {"explanations"} on /explanations', async () => {
    const res = await post(`${api}/predictions/env_kserve`, { instances: rows });
    expect(res.status).toBe(200);
    expectRows((res.json as { predictions: unknown }).predictions, mlpModel.expected(rows));
    const ex = await post(`${api}/explanations/env_kserve`, { instances: rows });
    expect(ex.status).toBe(400); // the default handler has no explain
    expect((await post(`${api}/predictions/env_kserve`, rows)).status).toBe(400); // not an envelope
  });

  it('json: {"instances"} ⇒ {"predictions"}', async () => {
    const res = await post(`${api}/predictions/env_json`, { instances: rows });
    expect(Object.keys(res.json as object)).toEqual(['predictions']);
    expectRows((res.json as { predictions: unknown }).predictions, mlpModel.expected(rows));
  });

  it('kservev2: an OIP v2 request ⇒ a v2 response with id, model_name, model_version', async () => {
    const body = { id: 'req-7', inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: rows.flat() }] };
    const res = await post(`${api}/predictions/env_kservev2`, body);
    expect(res.status).toBe(200);
    const v2 = res.json as { id: string; model_name: string; model_version: string; outputs: Array<{ name: string; shape: number[]; datatype: string; data: number[] }> };
    expect(v2).toMatchObject({ id: 'req-7', model_name: 'env_kservev2', model_version: '1.0' });
    expect(v2.outputs[0]).toMatchObject({ name: 'y', shape: [2, 3], datatype: 'FP32' });
    expectRows([v2.outputs[0]!.data.slice(0, 3), v2.outputs[0]!.data.slice(3)], mlpModel.expected(rows));
    // Without an id, TorchServe answers with the request id.
    const anon = await post(`${api}/predictions/env_kservev2`, { inputs: body.inputs });
    expect((anon.json as { id: string }).id).toBe(anon.headers.get('x-request-id'));
    // Binary requests work there too, and errors keep TorchServe's envelope.
    const client = new OipClient(api);
    expect((await client.infer('env_kservev2', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: rows[0]! }], { binaryInputs: true })).status).toBe(200);
    const bad = await post(`${api}/predictions/env_kservev2`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1] }] });
    expect(bad.json).toMatchObject({ code: 400, type: 'BadRequestException', message: 'Input "x": shape [1,4] needs 4 elements, "data" has 1' });
  });

  it('body: the body as it is (the default behaviour)', async () => {
    const res = await http(`${api}/predictions/env_body`, { method: 'POST', body: JSON.stringify(rows[0]) });
    expectRows([res.json], mlpModel.expected([rows[0]!]));
  });
});

describe('repository extension while the model API is off', () => {
  it('load and unload are refused with 405 {"error"}; the index still answers', async () => {
    const client = new OipClient(api, mgmt);
    for (const res of [await client.load('mlp'), await client.unload('mlp')]) {
      expect(res.status).toBe(405);
      expect(res.json).toEqual({ error: 'Requested method is not allowed, please refer to API document.' });
    }
    expect((await client.repositoryIndex()).status).toBe(200);
    expect((await http(`${api}/v1/models/mlp`)).json).toEqual({ name: 'mlp', ready: true });
  });
});

describe('TS_SERVICE_ENVELOPE for the whole server', () => {
  let sb2: Sandbox;
  let server2: ForegroundServer;

  beforeAll(async () => {
    sb2 = makeSandbox();
    await writeMar(path.join(sb2.store, 'm.mar'), {
      modelName: 'm',
      serializedFile: 'model.onnx',
      configFile: 'model-config.yaml',
      files: { 'model.onnx': fs.readFileSync(mlpModel.path), 'model-config.yaml': YAML },
    });
    const cfg = sb2.writeConfig({ model_store: sb2.store, load_models: 'm.mar', enable_envvars_config: true });
    sb2.env.TS_SERVICE_ENVELOPE = 'kserve';
    server2 = await startForeground(sb2, ['--ncs', '--ts-config', cfg]);
    await eventually(async () => {
      if ((await http(`${server2.endpoints.inference}/v2/health/ready`)).status !== 200) throw new Error('not ready');
    }, 30_000);
  }, 90_000);

  afterAll(async () => {
    await server2?.stop();
    sb2?.remove();
  });

  it('reads and writes /predictions as the kserve envelope', async () => {
    expect(server2.output()).toContain('Service envelope: kserve');
    const res = await post(`${server2.endpoints.inference}/predictions/m`, { instances: rows });
    expect(res.status).toBe(200);
    expectRows((res.json as { predictions: unknown }).predictions, mlpModel.expected(rows));
  });

  it('an unknown envelope stops start-up naming the key', async () => {
    const sb3 = makeSandbox();
    try {
      const cfg = sb3.writeConfig({ model_store: sb3.store, service_envelope: 'soap' });
      await expect(startForeground(sb3, ['--ncs', '--ts-config', cfg], 20_000)).rejects.toThrow(/service_envelope must be one of kserve, kservev2, json, body, got "soap"/);
    } finally {
      sb3.remove();
    }
  });
});
