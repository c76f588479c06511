/** Scratch check of the proposed wiring: the real CLI, a multi-input model, every protocol, a restart. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { multiInput } from '../fixtures/models.js';
import { http, makeSandbox, startForeground, type Sandbox } from '../e2e/harness.js';

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.remove();
  sb = undefined;
});

const post = (url: string, body: unknown) => http(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('wallaroo wiring', () => {
  it('lists registered models, config changes inference, ids survive a restart', async () => {
    const s = makeSandbox();
    sb = s;
    const m = fs.readFileSync((await multiInput(s.dir)).path);
    await writeMar(path.join(s.store, 'multi.mar'), { modelName: 'multi', modelVersion: '1.0', serializedFile: 'model.onnx', files: { 'model.onnx': m } });
    s.writeConfig({ model_store: s.store, enable_model_api: true });
    const first = await startForeground(s, []);
    const { management: mg, inference: inf } = first.endpoints;
    let versionsBefore: unknown;
    try {
      expect((await http(`${mg}/models?url=multi.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
      const list = await post(`${mg}/v1/api/models/list`, { workspace_id: 1 });
      expect(list.status).toBe(200);
      expect(list.json).toMatchObject({ models: [{ id: 1, name: 'multi', owner_id: '""' }] });
      const versions = (await post(`${mg}/v1/api/models/list_versions`, { model_id: 'multi', models_pk_id: 1 })).json as Array<{ id: number; sha: string; file_name: string; status: string }>;
      versionsBefore = versions;
      expect(versions).toMatchObject([{ id: 1, file_name: 'multi.mar', status: 'ready' }]);
      expect(versions[0]!.sha).toMatch(/^[0-9a-f]{64}$/);

      const row = { a: [1, 2], b: [3, 4], flag: [true] };
      const aliased = { x: [1, 2], y: [3, 4], z: [true] };
      // Before: aliases are unknown inputs.
      expect((await post(`${inf}/v1/models/multi:predict`, { instances: [aliased] })).status).toBe(400);
      const bad = await post(`${mg}/v1/api/models/insert_model_config`, { model_version_id: 1, tensor_fields: ['x', 'y'] });
      expect(bad.status).toBe(400);
      expect((bad.json as { message: string }).message).toMatch(/has 3 input/);
      const ins = await post(`${mg}/v1/api/models/insert_model_config`, { model_version_id: 1, tensor_fields: ['x', 'y', 'z'], batch_config: 'single', filter_threshold: 0.5 });
      expect(ins.status).toBe(200);
      // KServe v1
      const v1 = await post(`${inf}/v1/models/multi:predict`, { instances: [aliased] });
      expect(v1.status, v1.text).toBe(200);
      expect(v1.json).toEqual({ predictions: [{ sum: [4, 6], count: [8], positive: [true, true] }] });
      const two = await post(`${inf}/v1/models/multi:predict`, { instances: [aliased, aliased] });
      expect(two.status).toBe(400);
      expect((two.json as { message: string }).message).toMatch(/batch_config "single"/);
      // OIP v2
      const v2 = await post(`${inf}/v2/models/multi/infer`, {
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] },
          { name: 'y', datatype: 'INT64', shape: [1, 2], data: [3, 4] },
          { name: 'z', datatype: 'BOOL', shape: [1, 1], data: [true] },
        ],
      });
      expect(v2.status, v2.text).toBe(200);
      const v2two = await post(`${inf}/v2/models/multi/infer`, {
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 1, 2] },
          { name: 'y', datatype: 'INT64', shape: [2, 2], data: [3, 4, 3, 4] },
          { name: 'z', datatype: 'BOOL', shape: [2, 1], data: [true, true] },
        ],
      });
      expect(v2two.status).toBe(400);
      expect(v2two.json).toMatchObject({ error: expect.stringMatching(/batch_config "single"/) });
      // /predictions
      const p = await post(`${inf}/predictions/multi`, { x: [[1, 2]], y: [[3, 4]], z: [[true]] });
      expect(p.status, p.text).toBe(200);
      const p2 = await post(`${inf}/predictions/multi`, { x: [[1, 2], [1, 2]], y: [[3, 4], [3, 4]], z: [[true], [true]] });
      expect(p2.status).toBe(400);
      // the ONNX names still work
      expect((await post(`${inf}/v1/models/multi:predict`, { instances: [row] })).status).toBe(200);
    } finally {
      await first.stop();
    }
    const audit = fs.readFileSync(path.join(s.dir, 'logs', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((l) => l.action === 'insert-model-config').map((l) => [l.model, l.version, l.outcome, l.status, l.key])).toEqual([
      ['multi', '1.0', 'refused', 400, 'disabled'],
      ['multi', '1.0', 'success', 200, 'disabled'],
    ]);

    const second = await startForeground(s, []);
    try {
      const mg2 = second.endpoints.management;
      expect((await post(`${mg2}/v1/api/models/list_versions`, { model_id: 'multi' })).json).toEqual(versionsBefore);
      expect((await post(`${mg2}/v1/api/models/get_config_by_id`, { model_id: 1 })).json).toEqual({ model_config: { id: 2, runtime: 'onnx', tensor_fields: ['x', 'y', 'z'], filter_threshold: 0.5 } });
    } finally {
      await second.stop();
    }
  });
});
