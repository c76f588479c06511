/** ModelCatalog: ids, idempotent recording, removal, status, configurations, and the persisted form. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CatalogFormatError, ModelCatalog, parseCatalogJSON, type CatalogJSON, type CatalogOptions } from '../../src/wallaroo/catalog.js';
import { archiveFileName, recordRegistered } from '../../src/wallaroo/hooks.js';
import { wallarooTimestamp } from '../../src/wallaroo/timestamps.js';
import { seedCatalogJSON } from './seed-fixture.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

/** A clock that advances one second per reading, and numbered UUIDs: deterministic catalogs. */
function fixed(): Required<CatalogOptions> {
  let t = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  let n = 0;
  return {
    now: () => new Date((t += 1000)),
    uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  };
}

describe('timestamps', () => {
  it('are UTC with microseconds and a +00:00 offset, as the seed writes them', () => {
    expect(wallarooTimestamp(new Date(Date.UTC(2023, 10, 29, 16, 30, 53, 716)))).toBe('2023-11-29T16:30:53.716000+00:00');
    expect(wallarooTimestamp(new Date())).toMatch(TIMESTAMP);
    expect(() => wallarooTimestamp(new Date(NaN))).toThrow(RangeError);
  });
});

describe('ModelCatalog', () => {
  it('numbers models by first registration and versions and configurations by their own sequences', () => {
    const c = new ModelCatalog(fixed());
    const a1 = c.recordVersion({ model: 'a', version: '1.0', fileName: 'a.mar', sha256: sha('a1'), status: 'ready' });
    const b1 = c.recordVersion({ model: 'b', version: '1.0', fileName: 'b.mar', sha256: sha('b1'), status: 'ready' });
    const a2 = c.recordVersion({ model: 'a', version: '2.0', fileName: 'a2.mar', sha256: sha('a2'), status: 'error', createdAt: new Date(Date.UTC(2020, 0, 1)) });
    expect(c.models().map((m) => [m.id, m.name, m.versions.map((v) => v.id)])).toEqual([
      [1, 'a', [1, 3]],
      [2, 'b', [2]],
    ]);
    expect([a1.config.id, b1.config.id, a2.config.id]).toEqual([1, 2, 3]);
    expect(a2).toMatchObject({ model: 'a', version: '2.0', fileName: 'a2.mar', status: 'error', createdAt: '2020-01-01T00:00:00.000000+00:00' });
    expect(a1.uuid).toBe('00000000-0000-4000-8000-000000000001');
    expect(a1.config).toEqual({ id: 1, modelVersionId: 1, runtime: 'onnx', tensorFields: null, batchConfig: null, filterThreshold: null, inputSchema: null, outputSchema: null });
    expect(c.model(1)?.createdAt).toMatch(TIMESTAMP);
    expect(c.versionById(3)).toBe(a2);
    expect(c.modelByName('b')?.id).toBe(2);
  });

  it('records a version idempotently; a new SHA-256 is a new artefact that keeps its configuration', () => {
    const c = new ModelCatalog(fixed());
    const first = c.recordVersion({ model: 'm', version: '1', fileName: 'm.mar', sha256: sha('x'), status: 'ready' });
    expect(c.recordVersion({ model: 'm', version: '1', fileName: 'm.mar', sha256: sha('x').toUpperCase(), status: 'ready' })).toBe(first);
    const errored = c.recordVersion({ model: 'm', version: '1', fileName: 'm.mar', sha256: sha('x'), status: 'error' });
    expect(errored).toMatchObject({ id: first.id, uuid: first.uuid, status: 'error', createdAt: first.createdAt });
    expect(errored.updatedAt > first.updatedAt).toBe(true);
    c.insertConfig(first.id, { tensorFields: ['t'], batchConfig: 'single', filterThreshold: 0.5, inputSchema: null, outputSchema: null });
    const reloaded = c.recordVersion({ model: 'm', version: '1', fileName: 'm.mar', sha256: sha('y'), status: 'ready' });
    expect(reloaded.id).not.toBe(first.id);
    expect(reloaded.uuid).not.toBe(first.uuid);
    expect(reloaded.sha).toBe(sha('y'));
    expect(reloaded.config).toMatchObject({ modelVersionId: reloaded.id, tensorFields: ['t'], batchConfig: 'single', filterThreshold: 0.5 });
    expect(c.versionById(first.id)).toBeUndefined();
    expect(c.model(1)?.versions).toEqual([reloaded]);
  });

  it('refuses a digest that is not SHA-256 hex', () => {
    const c = new ModelCatalog();
    expect(() => c.recordVersion({ model: 'm', version: '1', fileName: 'm.mar', sha256: 'abc', status: 'ready' })).toThrow(/not a SHA-256/);
  });

  it('removes versions without reusing ids; a model with none left is hidden but keeps its id', () => {
    const c = new ModelCatalog(fixed());
    c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    c.recordVersion({ model: 'b', version: '1', fileName: 'b.mar', sha256: sha('b'), status: 'ready' });
    expect(c.removeVersion('a', '1')).toBe(true);
    expect(c.removeVersion('a', '1')).toBe(false);
    expect(c.model(1)).toBeUndefined();
    expect(c.modelByName('a')).toBeUndefined();
    expect(c.models().map((m) => m.name)).toEqual(['b']);
    const again = c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    expect(again.id).toBe(3);
    expect(c.modelByName('a')?.id).toBe(1);
    expect(c.configFor('a', '1')?.id).toBe(3);
  });

  it('sets status and bumps updated_at of version and model', () => {
    const c = new ModelCatalog(fixed());
    const v = c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    expect(c.setStatus('a', '1', 'error')).toBe(true);
    expect(c.setStatus('a', '9', 'error')).toBe(false);
    const after = c.version('a', '1');
    expect(after?.status).toBe('error');
    expect(after!.updatedAt > v.updatedAt).toBe(true);
    expect(c.model(1)?.updatedAt).toBe(after?.updatedAt);
  });

  it('inserts configurations with new ids; handed-out records are frozen snapshots', () => {
    const c = new ModelCatalog(fixed());
    const v = c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    const fields = { tensorFields: ['x', 'y'], batchConfig: null, filterThreshold: 1, inputSchema: 's', outputSchema: null } as const;
    const cfg = c.insertConfig(v.id, fields);
    expect(cfg).toEqual({ id: 2, modelVersionId: v.id, runtime: 'onnx', ...fields });
    expect(c.insertConfig(99, fields)).toBeUndefined();
    expect(c.configFor('a', '1')).toBe(cfg);
    expect(c.configFor('a', '2')).toBeUndefined();
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg?.tensorFields)).toBe(true);
    expect(Object.isFrozen(v)).toBe(true);
    expect(v.config.id).toBe(1); // the old record is unchanged
  });

  it('reconciles with the versions that are really loaded', () => {
    const c = new ModelCatalog(fixed());
    c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    c.recordVersion({ model: 'a', version: '2', fileName: 'a.mar', sha256: sha('a2'), status: 'ready' });
    c.recordVersion({ model: 'b', version: '1', fileName: 'b.mar', sha256: sha('b'), status: 'ready' });
    c.reconcile([{ model: 'a', version: '2' }]);
    expect(c.models().map((m) => [m.name, m.versions.map((v) => v.version)])).toEqual([['a', ['2']]]);
  });
});

describe('toJSON / fromJSON', () => {
  function busy(): ModelCatalog {
    const c = new ModelCatalog(fixed());
    c.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' });
    c.recordVersion({ model: 'b', version: '1', fileName: 'b.mar', sha256: sha('b'), status: 'error' });
    const v = c.recordVersion({ model: 'a', version: '2', fileName: 'a2.mar', sha256: sha('a2'), status: 'ready' });
    c.insertConfig(v.id, { tensorFields: ['in'], batchConfig: 'single', filterThreshold: 0.25, inputSchema: 'schema', outputSchema: null });
    c.recordVersion({ model: 'c', version: '1', fileName: 'c.mar', sha256: sha('c'), status: 'ready' });
    c.removeVersion('c', '1');
    return c;
  }

  it('round-trips exactly: ids, UUIDs, timestamps, configurations, counters, text', () => {
    const c = busy();
    const text = JSON.stringify(c.toJSON());
    const restored = ModelCatalog.fromJSON(JSON.parse(text));
    expect(JSON.stringify(restored.toJSON())).toBe(text);
    expect(restored.toJSON()).toEqual(c.toJSON());
    expect(restored.models()).toEqual(c.models());
    expect(restored.configFor('a', '2')).toEqual(c.configFor('a', '2'));
    // The seed fixture too (ids far from 1).
    const seed = seedCatalogJSON();
    expect(ModelCatalog.fromJSON(seed).toJSON()).toEqual(seed);
  });

  it('carries on numbering after a restore (hidden models keep their ids)', () => {
    const restored = ModelCatalog.fromJSON(busy().toJSON(), fixed());
    const v = restored.recordVersion({ model: 'd', version: '1', fileName: 'd.mar', sha256: sha('d'), status: 'ready' });
    expect(restored.modelByName('d')?.id).toBe(4);
    expect(v.id).toBe(5);
    expect(v.config.id).toBe(6);
    restored.recordVersion({ model: 'c', version: '1', fileName: 'c.mar', sha256: sha('c'), status: 'ready' });
    expect(restored.modelByName('c')?.id).toBe(3);
    // Same model, version and SHA-256 as restored: the restored ids and UUID stay.
    const a1 = restored.version('a', '1');
    expect(restored.recordVersion({ model: 'a', version: '1', fileName: 'a.mar', sha256: sha('a'), status: 'ready' })).toBe(a1);
  });

  // Object.assign: the damage puts values of the wrong type where the types forbid them.
  const broken: Array<[string, (j: CatalogJSON) => void, RegExp]> = [
    ['wrong format', (j) => Object.assign(j, { format: 2 }), /format must be 1/],
    ['bad model id', (j) => Object.assign(j.models[0]!, { id: 0 }), /models\[0\]\.id must be a positive integer/],
    ['bad uuid', (j) => Object.assign(j.models[0]!.versions[0]!, { uuid: 'x' }), /models\[0\]\.versions\[0\]\.uuid has an unexpected format/],
    ['bad sha', (j) => Object.assign(j.models[0]!.versions[0]!, { sha: 'ABC' }), /\.sha has an unexpected format/],
    ['bad status', (j) => Object.assign(j.models[0]!.versions[0]!, { status: 'loading' }), /\.status must be "ready" or "error"/],
    ['timestamp without offset', (j) => Object.assign(j.models[0]!, { createdAt: '2023-11-29T16:30:53.716526' }), /models\[0\]\.createdAt has an unexpected format/],
    ['bad batch config', (j) => Object.assign(j.models[0]!.versions[0]!.config, { batchConfig: 'multi' }), /batchConfig must be "single" or null/],
    ['tensor fields not strings', (j) => Object.assign(j.models[0]!.versions[0]!.config, { tensorFields: [1] }), /tensorFields\[0\] must be a non-empty string/],
    ['duplicate model id', (j) => Object.assign(j.models[1]!, { id: 14 }), /model id 14 appears twice/],
    ['duplicate version id', (j) => Object.assign(j.models[1]!.versions[1]!, { id: 6 }), /version id 6 appears twice/],
    ['duplicate model name', (j) => Object.assign(j.models[1]!, { name: 'api-sample-model' }), /model name "api-sample-model" appears twice/],
    ['counter behind an id', (j) => Object.assign(j.next, { version: 19 }), /next\.version must be greater than every version id \(found 19\)/],
    ['versions out of order', (j) => j.models[1]!.versions.reverse(), /must be in ascending id order/],
  ];
  it.each(broken)('refuses a damaged catalog: %s', (_what, damage, message) => {
    const j = seedCatalogJSON();
    damage(j);
    expect(() => ModelCatalog.fromJSON(j)).toThrow(CatalogFormatError);
    expect(() => parseCatalogJSON(j)).toThrow(message);
  });

  it('refuses what is not a catalog at all', () => {
    for (const v of [null, [], 'catalog', 1]) expect(() => ModelCatalog.fromJSON(v)).toThrow(/the catalog must be an object/);
    expect(() => ModelCatalog.fromJSON({ format: 1, workspace: { id: 1, name: 'default' }, next: { model: 1, version: 1, config: 1 } })).toThrow(/models must be a list/);
  });
});

describe('registry glue', () => {
  it('takes the file name from a store name, a path or a URL', () => {
    expect(archiveFileName('mlp.mar')).toBe('mlp.mar');
    expect(archiveFileName('/srv/store/resnet-18.mar')).toBe('resnet-18.mar');
    expect(archiveFileName('https://example.com/models/ccfraud.mar?token=x')).toBe('ccfraud.mar');
    expect(archiveFileName('https://example.com/models/my%20model.mar')).toBe('my model.mar');
  });

  it('records a registered version, and skips one without a SHA-256', () => {
    const c = new ModelCatalog();
    expect(recordRegistered(c, { name: 'mlp', version: '1.0', url: 'https://h/mlp.mar', sha256: sha('m') })).toBe(true);
    expect(c.version('mlp', '1.0')).toMatchObject({ fileName: 'mlp.mar', status: 'ready', sha: sha('m') });
    expect(recordRegistered(c, { name: 'x', version: '1.0', url: 'x.mar' })).toBe(false);
    expect(c.modelByName('x')).toBeUndefined();
  });
});
