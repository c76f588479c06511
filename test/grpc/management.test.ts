/**
 * TorchServe's gRPC management service over real sockets: a real server (startServer, real ONNX
 * models in .mar archives in the store, gRPC ports 0), a client generated from the same proto.
 * Every RPC's success and error paths with TorchServe's texts and codes, the state they leave
 * (registry and REST port), the enable_model_api gate, token metadata and the audit log.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerAddress } from '../../src/grpc/management-service.js';
import type { AuditEntry } from '../../src/security/audit.js';
import { MODEL_API_DISABLED, TOKEN_DENIED } from '../../src/grpc/status.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { bearer, failure, makeClient, startGrpcTestServer, unary, type AnyClient, type GrpcTestServer } from './helpers.js';

const SERVICE = 'org.pytorch.serve.grpc.management.ManagementAPIsService';

interface Reply {
  msg: string;
}

async function writeStore(dir: string, store: string): Promise<void> {
  const onnx = fs.readFileSync((await mlp(dir)).path);
  const files = { 'model.onnx': onnx };
  await writeMar(path.join(store, 'mlp.mar'), { modelName: 'mlp', serializedFile: 'model.onnx', files });
  await writeMar(path.join(store, 'mlp-v2.mar'), { modelName: 'mlp', modelVersion: '2.0', serializedFile: 'model.onnx', files });
  await writeMar(path.join(store, 'alpha.mar'), { modelName: 'alpha', serializedFile: 'model.onnx', files });
}

function restUrl(srv: GrpcTestServer): string {
  const l = srv.server.listeners.find((x) => x.kind === 'management');
  if (!l) throw new Error('no management listener');
  return l.url;
}

type AuditLine = Omit<AuditEntry, 'time'>;

function auditLines(srv: GrpcTestServer): AuditLine[] {
  const file = path.join(srv.dir, 'logs', 'audit.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);
}

describe('ManagementAPIsService (TorchServe gRPC)', () => {
  let srv: GrpcTestServer;
  let c: AnyClient;
  const call = (method: string, req: object) => unary<Reply>(c, method, req);

  beforeAll(async () => {
    srv = await startGrpcTestServer(writeStore, { enable_model_api: true, load_models: 'alpha.mar' });
    c = makeClient('management.proto', SERVICE, srv.managementPort);
  }, 60_000);

  afterAll(async () => {
    c?.close();
    await srv?.close();
  });

  it('RegisterModel from a .mar in the store, initial_workers and synchronous: the bare status text', async () => {
    const res = await call('RegisterModel', { url: 'mlp.mar', initial_workers: 1, synchronous: true });
    expect(res.msg).toBe('Model "mlp" Version: 1.0 registered with 1 initial workers');
    const v = srv.server.registry.resolve('mlp');
    expect(v.version).toBe('1.0');
    expect(v.settings.minWorkers).toBe(1);
    expect(v.pool.readyWorkers()).toBe(1);
  });

  it('RegisterModel unset fields take the defaults: not synchronous (202 text), default_workers_per_model', async () => {
    const res = await call('RegisterModel', { url: 'mlp-v2.mar', initial_workers: 0, batch_size: 0, max_batch_delay: -5 });
    expect(res.msg).toBe('Processing worker updates...');
    const v = srv.server.registry.resolve('mlp', '2.0');
    expect(v.settings).toMatchObject({ minWorkers: 1, maxWorkers: 1, batchSize: 1, maxBatchDelay: 100 });
    // a new version is not the default
    expect(srv.server.registry.resolve('mlp').version).toBe('1.0');
  });

  it('RegisterModel errors: missing url, duplicate, unknown archive, bad runtime', async () => {
    const noUrl = await failure(call('RegisterModel', { model_name: 'x' }));
    expect(noUrl.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noUrl.details).toBe('Parameter url is required.');

    const dup = await failure(call('RegisterModel', { url: 'mlp.mar' }));
    expect(dup.code).toBe(grpc.status.ABORTED); // REST 409 through GRPCUtils
    expect(dup.details).toBe('Model version 1.0 is already registered for model mlp');

    const missing = await failure(call('RegisterModel', { url: 'nothing.mar' }));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.details).toBe('Model not found at: nothing.mar');

    const runtime = await failure(call('RegisterModel', { url: 'mlp.mar', model_name: 'other', runtime: 'python4' }));
    expect(runtime.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(runtime.details).toBe('Invalid RuntimeType value: python4');
    expect(srv.server.registry.has('other')).toBe(false);
  });

  it('DescribeModel: the REST JSON in Gson pretty form (default version, one version, all)', async () => {
    const res = await call('DescribeModel', { model_name: 'mlp' });
    expect(res.msg.startsWith('[\n  {\n    "modelName": "mlp",\n    "modelVersion": "1.0",')).toBe(true);
    expect(res.msg.endsWith(']')).toBe(true);
    const parsed = JSON.parse(res.msg) as Array<Record<string, unknown>>;
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ modelName: 'mlp', modelVersion: '1.0', modelUrl: 'mlp.mar', minWorkers: 1, maxWorkers: 1 });
    expect(parsed[0]).not.toHaveProperty('customizedMetadata');

    const rest = await fetch(`${restUrl(srv)}/models/mlp`);
    const restJson = (await rest.json()) as Array<Record<string, unknown>>;
    const strip = (a: Array<Record<string, unknown>>) => a.map(({ workers: _w, jobQueueStatus: _q, ...rest }) => rest);
    expect(strip(parsed)).toEqual(strip(restJson));

    const v2 = JSON.parse((await call('DescribeModel', { model_name: 'mlp', model_version: '2.0' })).msg) as Array<{ modelVersion: string }>;
    expect(v2.map((d) => d.modelVersion)).toEqual(['2.0']);

    const all = JSON.parse((await call('DescribeModel', { model_name: 'mlp', model_version: 'all', customized: true })).msg) as Array<Record<string, unknown>>;
    expect(all.map((d) => d.modelVersion)).toEqual(['1.0', '2.0']);
    expect(all[0]).not.toHaveProperty('customizedMetadata');
  });

  it('DescribeModel customized adds customizedMetadata (the ONNX signature)', async () => {
    const res = await call('DescribeModel', { model_name: 'mlp', customized: true });
    const [d] = JSON.parse(res.msg) as Array<{ customizedMetadata: unknown }>;
    expect(d?.customizedMetadata).toBeTypeOf('object');
    expect(JSON.stringify(d?.customizedMetadata)).toContain('"x"');
  });

  it('DescribeModel errors: NOT_FOUND with the REST message; INTERNAL for a customized lookup, as TorchServe', async () => {
    const unknown = await failure(call('DescribeModel', { model_name: 'nope' }));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details).toBe('Model not found: nope');

    const version = await failure(call('DescribeModel', { model_name: 'mlp', model_version: '9.9' }));
    expect(version.code).toBe(grpc.status.NOT_FOUND);
    expect(version.details).toBe('Model version: 9.9 does not exist for model: mlp');

    const all = await failure(call('DescribeModel', { model_name: 'nope', model_version: 'all' }));
    expect(all.code).toBe(grpc.status.NOT_FOUND);

    const customized = await failure(call('DescribeModel', { model_name: 'nope', customized: true }));
    expect(customized.code).toBe(grpc.status.INTERNAL);
    expect(customized.details).toBe('Model not found: nope');
  });

  it('ListModels: default page, pagination, the REST body in Gson pretty form', async () => {
    const all = await call('ListModels', {});
    expect(all.msg).toBe(
      '{\n  "models": [\n    {\n      "modelName": "alpha",\n      "modelUrl": "alpha.mar"\n    },\n    {\n      "modelName": "mlp",\n      "modelUrl": "mlp.mar"\n    }\n  ]\n}',
    );
    const first = JSON.parse((await call('ListModels', { limit: 1 })).msg) as unknown;
    expect(first).toEqual({ nextPageToken: '1', models: [{ modelName: 'alpha', modelUrl: 'alpha.mar' }] });
    const second = await call('ListModels', { limit: 1, next_page_token: 1 });
    expect(JSON.parse(second.msg)).toEqual({ nextPageToken: '2', models: [{ modelName: 'mlp', modelUrl: 'mlp.mar' }] });
    const rest = await (await fetch(`${restUrl(srv)}/models?limit=1&next_page_token=1`)).text();
    expect(`${second.msg}\n`).toBe(rest);
    const past = JSON.parse((await call('ListModels', { limit: 5, next_page_token: 12 })).msg) as unknown;
    expect(past).toEqual({ models: [] });
    const negative = JSON.parse((await call('ListModels', { limit: -1, next_page_token: -1 })).msg) as { models: unknown[] };
    expect(negative.models).toHaveLength(2);
  });

  it('ScaleWorker: synchronous with and without a version, asynchronous', async () => {
    const up = await call('ScaleWorker', { model_name: 'mlp', min_worker: 2, synchronous: true });
    expect(up.msg).toBe('Workers scaled to 2 for model: mlp');
    expect(srv.server.registry.resolve('mlp').settings).toMatchObject({ minWorkers: 2, maxWorkers: 2 });
    expect(srv.server.registry.resolve('mlp').pool.readyWorkers()).toBe(2);

    const down = await call('ScaleWorker', { model_name: 'mlp', model_version: '1.0', min_worker: 1, max_worker: 3, synchronous: true });
    expect(down.msg).toBe('Workers scaled to 1 for model: mlp, version: 1.0');
    expect(srv.server.registry.resolve('mlp').settings).toMatchObject({ minWorkers: 1, maxWorkers: 3 });

    const async = await call('ScaleWorker', { model_name: 'mlp' });
    expect(async.msg).toBe('Processing worker updates...');
    expect(srv.server.registry.resolve('mlp').settings).toMatchObject({ minWorkers: 1, maxWorkers: 1 });
  });

  it('ScaleWorker errors: max < min INVALID_ARGUMENT, unknown model or version NOT_FOUND', async () => {
    const bad = await failure(call('ScaleWorker', { model_name: 'mlp', min_worker: 2, max_worker: 1 }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toBe('max_worker cannot be less than min_worker.');

    const unknown = await failure(call('ScaleWorker', { model_name: 'nope', min_worker: 1 }));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details).toBe('Model not found: nope');

    const version = await failure(call('ScaleWorker', { model_name: 'mlp', model_version: '0.0', min_worker: 1, synchronous: true }));
    expect(version.code).toBe(grpc.status.NOT_FOUND);
    expect(version.details).toBe('Model version: 0.0 does not exist for model: mlp');
  });

  it('SetDefault switches the default version; unknown model or version NOT_FOUND', async () => {
    const res = await call('SetDefault', { model_name: 'mlp', model_version: '2.0' });
    expect(res.msg).toBe('Default version successfully updated for model "mlp" to "2.0"');
    expect(srv.server.registry.resolve('mlp').version).toBe('2.0');
    const rest = (await (await fetch(`${restUrl(srv)}/models/mlp`)).json()) as Array<{ modelVersion: string }>;
    expect(rest[0]?.modelVersion).toBe('2.0');

    const model = await failure(call('SetDefault', { model_name: 'nope', model_version: '1.0' }));
    expect(model.code).toBe(grpc.status.NOT_FOUND);
    expect(model.details).toBe('Model not found: nope');
    const version = await failure(call('SetDefault', { model_name: 'mlp', model_version: '0.0' }));
    expect(version.code).toBe(grpc.status.NOT_FOUND);
    expect(version.details).toBe('Model version 0.0 does not exist for model mlp');
  });

  it('UnregisterModel: a version, then the model; the default of several versions is refused', async () => {
    const dflt = await failure(call('UnregisterModel', { model_name: 'mlp', model_version: '2.0' }));
    expect(dflt.code).toBe(grpc.status.PERMISSION_DENIED); // REST 403 through GRPCUtils
    expect(dflt.details).toBe('Cannot remove default version for model mlp');

    const one = await call('UnregisterModel', { model_name: 'mlp', model_version: '1.0' });
    expect(one.msg).toBe('Model "mlp" unregistered');
    expect(srv.server.registry.allVersions('mlp').map((v) => v.version)).toEqual(['2.0']);

    const whole = await call('UnregisterModel', { model_name: 'mlp' });
    expect(whole.msg).toBe('Model "mlp" unregistered');
    expect(srv.server.registry.has('mlp')).toBe(false);
    expect((await fetch(`${restUrl(srv)}/models/mlp`)).status).toBe(404);
  });

  it('UnregisterModel errors: unknown model or version NOT_FOUND, no model_name INVALID_ARGUMENT', async () => {
    const unknown = await failure(call('UnregisterModel', { model_name: 'nope' }));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details).toBe('Model not found: nope');

    const version = await failure(call('UnregisterModel', { model_name: 'alpha', model_version: '0.0' }));
    expect(version.code).toBe(grpc.status.NOT_FOUND);
    expect(version.details).toBe('Model version: 0.0 does not exist for model: alpha');

    const empty = await failure(call('UnregisterModel', {}));
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toBe('Parameter url is required.');
  });

  it('audits register, scale, set-default and unregister (allowed, refused, failed), never reads', () => {
    const lines = auditLines(srv);
    expect(lines.every((l) => l.remote === '127.0.0.1' && l.key === 'disabled')).toBe(true);
    expect(lines.map((l) => l.action)).not.toContain('describe');
    expect(lines).toContainEqual(expect.objectContaining({ action: 'register', model: 'mlp.mar', version: null, outcome: 'success', status: 200, reason: null }));
    expect(lines).toContainEqual(expect.objectContaining({ action: 'register', model: 'mlp-v2.mar', outcome: 'success', status: 202 }));
    expect(lines).toContainEqual(
      expect.objectContaining({ action: 'register', model: 'mlp.mar', outcome: 'refused', status: 409, reason: 'Model version 1.0 is already registered for model mlp' }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ action: 'scale', model: 'mlp', version: '1.0', outcome: 'success', status: 200 }));
    expect(lines).toContainEqual(expect.objectContaining({ action: 'scale', model: 'nope', outcome: 'refused', status: 404 }));
    expect(lines).toContainEqual(expect.objectContaining({ action: 'set-default', model: 'mlp', version: '2.0', outcome: 'success', status: 200 }));
    expect(lines).toContainEqual(expect.objectContaining({ action: 'unregister', model: 'mlp', version: '2.0', outcome: 'refused', status: 403 }));
    expect(lines).toContainEqual(expect.objectContaining({ action: 'unregister', model: 'mlp', version: null, outcome: 'success', status: 200 }));
  });
});

describe('enable_model_api=false and token authorization', () => {
  let srv: GrpcTestServer;
  let c: AnyClient;
  let keys: { management: string; inference: string; API: string };

  beforeAll(async () => {
    srv = await startGrpcTestServer(writeStore, { enable_model_api: false, disable_token_authorization: false, load_models: 'alpha.mar' });
    c = makeClient('management.proto', SERVICE, srv.managementPort);
    const file = JSON.parse(fs.readFileSync(path.join(srv.dir, 'key_file.json'), 'utf8')) as Record<string, { key: string }>;
    keys = { management: file.management!.key, inference: file.inference!.key, API: file.API!.key };
  }, 60_000);

  afterAll(async () => {
    c?.close();
    await srv?.close();
  });

  it('refuses a call without the key, or with the inference or API key: PERMISSION_DENIED with TorchServe text', async () => {
    for (const md of [new grpc.Metadata(), bearer(keys.inference), bearer(keys.API), bearer('wrong'), bearer('')]) {
      const err = await failure(unary(c, 'ListModels', {}, md));
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(err.details).toBe(TOKEN_DENIED);
    }
    const reg = await failure(unary(c, 'RegisterModel', { url: 'mlp.mar' }));
    expect(reg.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(reg.details).toBe(TOKEN_DENIED);
  });

  it('accepts the management key; reads, scale and set-default still work with the model API off', async () => {
    const md = bearer(keys.management);
    const list = await unary<Reply>(c, 'ListModels', {}, md);
    expect(JSON.parse(list.msg)).toEqual({ models: [{ modelName: 'alpha', modelUrl: 'alpha.mar' }] });
    const d = JSON.parse((await unary<Reply>(c, 'DescribeModel', { model_name: 'alpha' }, md)).msg) as Array<{ modelName: string }>;
    expect(d[0]?.modelName).toBe('alpha');
    const s = await unary<Reply>(c, 'SetDefault', { model_name: 'alpha', model_version: '1.0' }, md);
    expect(s.msg).toBe('Default version successfully updated for model "alpha" to "1.0"');
    const sc = await unary<Reply>(c, 'ScaleWorker', { model_name: 'alpha', min_worker: 1, synchronous: true }, md);
    expect(sc.msg).toBe('Workers scaled to 1 for model: alpha');
  });

  it('RegisterModel and UnregisterModel are refused: PERMISSION_DENIED "Model API disabled"', async () => {
    const md = bearer(keys.management);
    const reg = await failure(unary(c, 'RegisterModel', { url: 'mlp.mar', initial_workers: 1, synchronous: true }, md));
    expect(reg.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(reg.details).toBe(MODEL_API_DISABLED);
    expect(srv.server.registry.has('mlp')).toBe(false);

    const unreg = await failure(unary(c, 'UnregisterModel', { model_name: 'alpha' }, md));
    expect(unreg.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(unreg.details).toBe(MODEL_API_DISABLED);
    expect(srv.server.registry.has('alpha')).toBe(true);
  });

  it('the audit log has the refused calls, with the kind of key presented (never the key)', () => {
    const lines = auditLines(srv);
    expect(lines).toContainEqual(
      expect.objectContaining({ remote: '127.0.0.1', key: 'none', action: 'register', model: 'mlp.mar', outcome: 'refused', status: 400, reason: TOKEN_DENIED }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ key: 'management', action: 'unregister', model: 'alpha', version: null, outcome: 'refused', status: 405, reason: MODEL_API_DISABLED }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ key: 'management', action: 'set-default', model: 'alpha', outcome: 'success', status: 200 }));
    const raw = fs.readFileSync(path.join(srv.dir, 'logs', 'audit.log'), 'utf8');
    for (const k of Object.values(keys)) expect(raw).not.toContain(k);
    // reads are not audited
    expect(lines.some((l) => l.action === 'list' || l.action === 'describe')).toBe(false);
  });
});

describe('peerAddress', () => {
  it('drops the port of IPv4, IPv6 and mapped addresses', () => {
    expect(peerAddress('127.0.0.1:5555')).toBe('127.0.0.1');
    expect(peerAddress('::1:5555')).toBe('::1');
    expect(peerAddress('[::1]:5555')).toBe('::1');
    expect(peerAddress('::ffff:10.0.0.2:80')).toBe('10.0.0.2');
    expect(peerAddress('ipv4:10.1.2.3:9')).toBe('10.1.2.3');
    expect(peerAddress('::1')).toBe('::1');
    expect(peerAddress('unknown')).toBe('unknown');
  });
});
