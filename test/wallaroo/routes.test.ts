/**
 * The Wallaroo-style API through a management listener (as app.ts builds one), with the seed
 * document's example requests re-typed and its example replies compared member by member.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { ServeError, methodNotAllowed, resourceNotFound } from '../../src/errors.js';
import { createListener } from '../../src/http/listener.js';
import type { Router } from '../../src/http/route-context.js';
import type { Logger } from '../../src/logging.js';
import { ModelCatalog, type CatalogJSON } from '../../src/wallaroo/catalog.js';
import { isWallarooPath, wallarooRouter, type WallarooAuditEvent, type WallarooDeps } from '../../src/wallaroo/routes.js';
import { fakeSources } from '../config/fake-sources.js';
import { SEED_LIST_VERSIONS, SHA_B, seedCatalogJSON } from './seed-fixture.js';

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const config = resolveConfig(fakeSources());
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const open: FastifyInstance[] = [];
afterAll(async () => {
  for (const app of open) await app.close();
});

interface Harness {
  app: FastifyInstance;
  catalog: ModelCatalog;
  audits: WallarooAuditEvent[];
  changes: { count: number };
  refuse: { error: ServeError | undefined };
}

/** A management listener whose router sends `/v1/api/...` to the Wallaroo router (the wiring app.ts gets). */
function harness(json: CatalogJSON = seedCatalogJSON(), extra: Partial<WallarooDeps> = {}): Harness {
  const catalog = ModelCatalog.fromJSON(json);
  const audits: WallarooAuditEvent[] = [];
  const changes = { count: 0 };
  const refuse: Harness['refuse'] = { error: undefined };
  const wallaroo = wallarooRouter({
    catalog,
    checkMutation: () => refuse.error,
    audit: (e) => audits.push(e),
    currentVersion: (model) => (model === 'api-upload-pytorch-multi-io' ? 'v16' : undefined),
    onChange: () => changes.count++,
    ...extra,
  });
  const router: Router = async (ctx) => {
    if (isWallarooPath(ctx.segments)) return wallaroo(ctx);
    throw resourceNotFound();
  };
  const app = createListener({ kind: 'management', router, config, accessLog: silent });
  open.push(app);
  return { app, catalog, audits, changes, refuse };
}

interface Reply {
  status: number;
  contentType: string | undefined;
  text: string;
  json: unknown;
}

async function post(app: FastifyInstance, endpoint: string, body: unknown, method: 'POST' | 'GET' | 'PUT' = 'POST'): Promise<Reply> {
  const res = await app.inject({
    method,
    url: `/v1/api/models/${endpoint}`,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.statusCode, contentType: res.headers['content-type'] as string | undefined, text: res.body, json: JSON.parse(res.body) as unknown };
}

/** Deep equality including member order (what the seed prints). */
function sameAs(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

describe('seed examples', () => {
  it('list: {"workspace_id": …} → the seed reply, newest model first', async () => {
    const { app } = harness();
    const r = await post(app, 'list', { workspace_id: 1 });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json');
    // Compact JSON, nothing appended.
    expect(r.text).toBe(JSON.stringify(r.json));
    sameAs(r.json, {
      models: [
        { id: 15, name: 'api-upload-pytorch-multi-io', owner_id: '""', created_at: '2023-11-29T16:30:53.716526+00:00', updated_at: '2023-11-29T18:20:39.610964+00:00' },
        { id: 14, name: 'api-sample-model', owner_id: '""', created_at: '2023-11-29T16:26:06.011817+00:00', updated_at: '2023-11-29T16:26:06.011817+00:00' },
      ],
    });
  });

  it('get_by_id: {"id": …} → the seed reply (runtime "onnx"), the default version\'s config', async () => {
    const { app } = harness();
    const r = await post(app, 'get_by_id', { id: 15 });
    expect(r.status).toBe(200);
    sameAs(r.json, {
      id: 15,
      owner_id: '""',
      workspace_id: 1,
      name: 'api-upload-pytorch-multi-io',
      updated_at: '2023-11-29T18:20:39.610964+00:00',
      created_at: '2023-11-29T16:30:53.716526+00:00',
      model_config: { id: 25, runtime: 'onnx', tensor_fields: null, filter_threshold: null },
    });
    // null members are sent, not dropped (TorchServe's renderer would drop them).
    expect(r.text).toContain('"tensor_fields":null');
    // The seed's parameter table names workspace_id: checked when given.
    expect((await post(app, 'get_by_id', { id: 15, workspace_id: 1 })).status).toBe(200);
  });

  it('list_versions: {"model_id": name, "models_pk_id": id} → the seed\'s versions (by id)', async () => {
    const { app } = harness();
    const r = await post(app, 'list_versions', { model_id: 'api-upload-pytorch-multi-io', models_pk_id: 15 });
    expect(r.status).toBe(200);
    const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
    sameAs(r.json, [...SEED_LIST_VERSIONS].sort(byId));
    // Either key alone is enough.
    sameAs((await post(app, 'list_versions', { model_id: 'api-upload-pytorch-multi-io' })).json, r.json);
    sameAs((await post(app, 'list_versions', { models_pk_id: 15 })).json, r.json);
  });

  it('get_config_by_id: {"model_id": …} → the seed reply', async () => {
    const { app } = harness();
    const r = await post(app, 'get_config_by_id', { model_id: 15 });
    expect(r.status).toBe(200);
    sameAs(r.json, { model_config: { id: 25, runtime: 'onnx', tensor_fields: null, filter_threshold: null } });
    // Without a known default version: the newest version's.
    sameAs((await post(app, 'get_config_by_id', { model_id: 14 })).json, { model_config: { id: 19, runtime: 'onnx', tensor_fields: null, filter_threshold: null } });
  });

  it('get: {"id": …} and {"model_id": …} → the seed reply (versions without status)', async () => {
    const { app } = harness();
    const expected = {
      id: 15,
      name: 'api-upload-pytorch-multi-io',
      owner_id: '""',
      created_at: '2023-11-29T16:30:53.716526+00:00',
      updated_at: '2023-11-29T18:20:39.610964+00:00',
      models: [...SEED_LIST_VERSIONS].sort((a, b) => a.id - b.id).map(({ status: _status, ...rest }) => rest),
    };
    const byId = await post(app, 'get', { id: 15 });
    expect(byId.status).toBe(200);
    sameAs(byId.json, expected);
    sameAs((await post(app, 'get', { model_id: 15 })).json, expected);
    sameAs((await post(app, 'get', { id: 15, model_id: 15 })).json, expected);
  });

  it('insert_model_config: the seed request → the seed reply, then in effect and audited', async () => {
    // The seed's insert example: version 6, next configuration id 20.
    const json = seedCatalogJSON();
    json.models = json.models.filter((m) => m.id === 14);
    json.next.config = 20;
    const h = harness(json);
    const request = { model_version_id: 6, batch_config: null, filter_threshold: 0.1, input_schema: null, output_schema: null, tensor_fields: ['dense_1'] };
    const r = await post(h.app, 'insert_model_config', request);
    expect(r.status).toBe(200);
    sameAs(r.json, {
      model_config: { id: 20, model_version_id: 6, runtime: 'onnx', filter_threshold: 0.1, tensor_fields: ['dense_1'], input_schema: null, output_schema: null, batch_config: null },
    });
    expect(h.catalog.configFor('api-sample-model', 'v6')).toMatchObject({ id: 20, tensorFields: ['dense_1'], filterThreshold: 0.1, batchConfig: null });
    sameAs((await post(h.app, 'get_config_by_id', { model_id: 14 })).json, { model_config: { id: 20, runtime: 'onnx', tensor_fields: ['dense_1'], filter_threshold: 0.1 } });
    expect(h.changes.count).toBe(1);
    expect(h.audits.map(({ req: _req, ...e }) => e)).toEqual([
      { action: 'insert-model-config', model: 'api-sample-model', version: 'v6', outcome: 'success', status: 200, reason: null },
    ]);
    // A second insert is a new configuration row; schemas are stored as given.
    const again = await post(h.app, 'insert_model_config', { model_version_id: 6, batch_config: 'single', input_schema: '/////8AAAAAQAAAA', output_schema: 'b3V0' });
    sameAs(again.json, {
      model_config: { id: 21, model_version_id: 6, runtime: 'onnx', filter_threshold: null, tensor_fields: null, input_schema: '/////8AAAAAQAAAA', output_schema: 'b3V0', batch_config: 'single' },
    });
  });
});

describe('models registered through any API', () => {
  it('appear with numeric ids, UUID versions, sha, file_name, status and offset timestamps', async () => {
    const catalog = new ModelCatalog();
    catalog.recordVersion({ model: 'mlp', version: '1.0', fileName: 'mlp.mar', sha256: SHA_B, status: 'ready' });
    catalog.recordVersion({ model: 'resnet', version: '2.0', fileName: 'resnet.mar', sha256: SHA_B.toUpperCase(), status: 'error' });
    const h = harness(catalog.toJSON());
    const list = (await post(h.app, 'list', { workspace_id: 1 })).json as { models: Array<Record<string, unknown>> };
    expect(list.models.map((m) => [m.id, m.name])).toEqual([
      [2, 'resnet'],
      [1, 'mlp'],
    ]);
    for (const m of list.models) {
      expect(Object.keys(m)).toEqual(['id', 'name', 'owner_id', 'created_at', 'updated_at']);
      expect(m.created_at).toMatch(TIMESTAMP);
      expect(m.updated_at).toMatch(TIMESTAMP);
    }
    const versions = (await post(h.app, 'list_versions', { model_id: 'resnet', models_pk_id: 2 })).json as Array<Record<string, unknown>>;
    expect(versions).toHaveLength(1);
    const v = versions[0]!;
    expect(Object.keys(v)).toEqual(['sha', 'models_pk_id', 'model_version', 'owner_id', 'model_id', 'id', 'file_name', 'image_path', 'status']);
    expect(v).toMatchObject({ sha: SHA_B, models_pk_id: 2, owner_id: '""', model_id: 'resnet', id: 2, file_name: 'resnet.mar', image_path: null, status: 'error' });
    expect(v.model_version).toMatch(UUID);
    const details = (await post(h.app, 'get_by_id', { id: 1 })).json as Record<string, unknown>;
    expect(details).toMatchObject({ id: 1, workspace_id: 1, name: 'mlp', model_config: { id: 1, runtime: 'onnx', tensor_fields: null, filter_threshold: null } });
  });

  it('a model whose versions are all gone is 404, its id kept for its return', async () => {
    const catalog = new ModelCatalog();
    catalog.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: SHA_B, status: 'ready' });
    catalog.recordVersion({ model: 'b', version: '1', fileName: 'b.mar', sha256: SHA_B, status: 'ready' });
    catalog.removeVersion('a', '1');
    const h = harness(catalog.toJSON());
    expect((await post(h.app, 'list', { workspace_id: 1 })).json).toEqual({ models: [expect.objectContaining({ id: 2, name: 'b' })] });
    expect((await post(h.app, 'get', { id: 1 })).status).toBe(404);
    h.catalog.recordVersion({ model: 'a', version: '2', fileName: 'a.mar', sha256: SHA_B, status: 'ready' });
    expect((await post(h.app, 'get', { id: 1 })).json).toMatchObject({ id: 1, name: 'a', models: [{ id: 3, file_name: 'a.mar' }] });
  });
});

describe('errors', () => {
  const cases: Array<[string, string, unknown, number, string, RegExp]> = [
    ['unknown workspace', 'list', { workspace_id: 10 }, 404, 'WorkspaceNotFoundException', /Workspace not found: 10/],
    ['unknown model id', 'get_by_id', { id: 99 }, 404, 'ModelNotFoundException', /Model not found: 99/],
    ['unknown workspace on get_by_id', 'get_by_id', { id: 15, workspace_id: 2 }, 404, 'WorkspaceNotFoundException', /Workspace not found: 2/],
    ['unknown model name', 'list_versions', { model_id: 'nope' }, 404, 'ModelNotFoundException', /Model not found: nope/],
    ['unknown model pk', 'list_versions', { models_pk_id: 3 }, 404, 'ModelNotFoundException', /Model not found: 3/],
    ['unknown model for config', 'get_config_by_id', { model_id: 7 }, 404, 'ModelNotFoundException', /Model not found: 7/],
    ['unknown model for get', 'get', { model_id: 7 }, 404, 'ModelNotFoundException', /Model not found: 7/],
    ['missing workspace_id', 'list', {}, 400, 'BadRequestException', /workspace_id is required/],
    ['workspace_id as a string', 'list', { workspace_id: '1' }, 400, 'BadRequestException', /workspace_id must be an integer, not the string "1"/],
    ['workspace_id fractional', 'list', { workspace_id: 1.5 }, 400, 'BadRequestException', /workspace_id must be an integer/],
    ['unknown member', 'list', { workspace_id: 1, workspace: 1 }, 400, 'BadRequestException', /Unknown field "workspace"; this endpoint takes workspace_id/],
    ['a list body', 'list', [1], 400, 'BadRequestException', /must be a JSON object such as \{"workspace_id": 1\}, not a list/],
    ['invalid JSON', 'list', '{"workspace_id": ', 400, 'BadRequestException', /not valid JSON/],
    ['empty body', 'get', '', 400, 'BadRequestException', /must be a JSON object such as \{"id": 1\}/],
    ['get without id', 'get', {}, 400, 'BadRequestException', /id \(or model_id\) is required/],
    ['get with two ids', 'get', { id: 15, model_id: 14 }, 400, 'BadRequestException', /name different models/],
    ['list_versions without keys', 'list_versions', {}, 400, 'BadRequestException', /model_id \(the model name\) or models_pk_id/],
    ['list_versions name and pk disagree', 'list_versions', { model_id: 'api-sample-model', models_pk_id: 15 }, 400, 'BadRequestException', /is model 14, not models_pk_id 15/],
    ['list_versions numeric model_id', 'list_versions', { model_id: 15 }, 400, 'BadRequestException', /model_id must be a string \(the model name/],
    ['unknown endpoint', 'delete', { id: 1 }, 404, 'ResourceNotFoundException', /Requested resource is not found/],
    ['prototype name as endpoint', 'constructor', { id: 1 }, 404, 'ResourceNotFoundException', /Requested resource is not found/],
  ];
  it.each(cases)('%s → %i', async (_what, endpoint, body, status, type, message) => {
    const { app } = harness();
    const r = await post(app, endpoint, body);
    expect(r.status).toBe(status);
    expect(r.contentType).toBe('application/json');
    expect(Object.keys(r.json as object)).toEqual(['code', 'type', 'message']);
    expect(r.json).toMatchObject({ code: status, type });
    expect((r.json as { message: string }).message).toMatch(message);
    expect(r.text).toBe(JSON.stringify(r.json));
  });

  it('other methods → 405; deeper paths → 404', async () => {
    const { app } = harness();
    expect((await post(app, 'list', undefined, 'GET')).json).toMatchObject({ code: 405, type: 'MethodNotAllowedException' });
    expect((await post(app, 'get', { id: 15 }, 'PUT')).status).toBe(405);
    expect((await post(app, 'list/more', { workspace_id: 1 })).status).toBe(404);
    const res = await app.inject({ method: 'POST', url: '/v1/api/other/list', payload: '{}' });
    expect(res.statusCode).toBe(404);
  });
});

describe('insert_model_config refusals', () => {
  const insert = { model_version_id: 16, tensor_fields: ['tensor'], batch_config: null };

  it('is refused (and audited) when the model control mode allows no mutation; nothing changes', async () => {
    const h = harness();
    h.refuse.error = methodNotAllowed();
    const before = JSON.stringify(h.catalog.toJSON());
    const r = await post(h.app, 'insert_model_config', insert);
    expect(r.status).toBe(405);
    expect(r.json).toMatchObject({ code: 405, type: 'MethodNotAllowedException' });
    expect(JSON.stringify(h.catalog.toJSON())).toBe(before);
    expect(h.changes.count).toBe(0);
    expect(h.audits.map(({ req: _req, ...e }) => e)).toEqual([
      { action: 'insert-model-config', model: null, version: null, outcome: 'refused', status: 405, reason: r.json && (r.json as { message: string }).message },
    ]);
  });

  const bad: Array<[string, unknown, number, RegExp]> = [
    ['unknown version id', { model_version_id: 99 }, 404, /Model version not found: 99/],
    ['missing model_version_id', { tensor_fields: ['x'] }, 400, /model_version_id is required/],
    ['batch_config other than "single"', { model_version_id: 16, batch_config: 'multi' }, 400, /batch_config must be "single" \(one row per request\) or null/],
    ['batch_config as a list', { model_version_id: 16, batch_config: ['single'] }, 400, /batch_config must be "single" or null, not a list/],
    ['tensor_fields not a list', { model_version_id: 16, tensor_fields: 'tensor' }, 400, /tensor_fields must be a list of strings or null/],
    ['tensor_fields empty', { model_version_id: 16, tensor_fields: [] }, 400, /tensor_fields must name at least one field/],
    ['tensor_fields with a number', { model_version_id: 16, tensor_fields: ['a', 1] }, 400, /tensor_fields\[1\] must be a non-empty string/],
    ['tensor_fields twice the same', { model_version_id: 16, tensor_fields: ['a', 'a'] }, 400, /tensor_fields names "a" twice/],
    ['filter_threshold a string', { model_version_id: 16, filter_threshold: '0.1' }, 400, /filter_threshold must be a number or null/],
    ['input_schema an object', { model_version_id: 16, input_schema: {} }, 400, /input_schema must be a string or null, not an object/],
    ['unknown member', { model_version_id: 16, tensor_field: ['x'] }, 400, /Unknown field "tensor_field"/],
    ['tensor_fields count ≠ model inputs', { model_version_id: 16, tensor_fields: ['a', 'b'] }, 400, /tensor_fields has 2 name\(s\) but model api-upload-pytorch-multi-io version v16 has 1 input\(s\) \(dense_input\)/],
  ];
  it.each(bad)('%s → %i, audited as refused', async (_what, body, status, message) => {
    const h = harness(seedCatalogJSON(), { modelInputs: () => ['dense_input'] });
    const r = await post(h.app, 'insert_model_config', body);
    expect(r.status).toBe(status);
    expect((r.json as { message: string }).message).toMatch(message);
    expect(h.changes.count).toBe(0);
    expect(h.audits).toHaveLength(1);
    expect(h.audits[0]).toMatchObject({ action: 'insert-model-config', outcome: 'refused', status });
    expect(h.audits[0]!.reason).toMatch(message);
  });

  it('names the model and version in the audit once the version is known', async () => {
    const h = harness();
    await post(h.app, 'insert_model_config', { model_version_id: 16, batch_config: 'many' });
    expect(h.audits[0]).toMatchObject({ model: 'api-upload-pytorch-multi-io', version: 'v16', outcome: 'refused', status: 400 });
  });
});
