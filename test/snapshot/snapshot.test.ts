/** Config snapshots (src/snapshot): file format, damaged-file fallback, atomic writes, config selection. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseProperties } from '../../src/config/properties.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { nodeConfigSources } from '../../src/config/node-sources.js';
import {
  javaDateString,
  parseModelSnapshot,
  parseSnapshotFile,
  renderSnapshotFile,
  snapshotFileName,
  type ModelSnapshot,
} from '../../src/snapshot/format.js';
import { latestSnapshot, snapshotDir, writeSnapshot } from '../../src/snapshot/store.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-snap-'));
  dirs.push(d);
  return d;
};

const models: ModelSnapshot['models'] = {
  noop: {
    '1.11': {
      defaultVersion: true,
      marName: 'noop.mar',
      minWorkers: 4,
      maxWorkers: 4,
      batchSize: 1,
      maxBatchDelay: 100,
      responseTimeout: 120,
      startupTimeout: 120,
      runtimeType: 'python',
    },
  },
};

describe('snapshot format', () => {
  it('names files yyyyMMddHHmmssSSS-<type>.cfg in local time', () => {
    expect(snapshotFileName(new Date(2020, 2, 29, 4, 53, 34, 828), 'startup')).toBe('20200329045334828-startup.cfg');
    expect(javaDateString(new Date(2020, 2, 29, 4, 53, 34))).toMatch(/^Sun Mar 29 04:53:34 \S+ 2020$/);
  });

  it('writes a Properties file: comments, every property, model_snapshot as escaped pretty JSON; parses back', () => {
    const date = new Date(2020, 2, 29, 4, 53, 34, 828);
    const snapshot: ModelSnapshot = { name: '20200329045334828-startup.cfg', modelCount: 1, created: date.getTime(), models };
    const text = renderSnapshotFile({ inference_address: 'http://127.0.0.1:8080', model_store: '/m s' }, snapshot, date);
    const lines = text.split('\n');
    expect(lines[0]).toBe('#Saving snapshot');
    expect(lines[1]).toMatch(/^#\w{3} \w{3} \d\d /);
    expect(lines[2]).toBe('inference_address=http\\://127.0.0.1\\:8080');
    expect(lines[3]).toBe('model_store=/m s');
    expect(lines[4]).toMatch(/^model_snapshot=\{\\n  "name"\\: "20200329045334828-startup.cfg",\\n  "modelCount"\\: 1,/);
    const back = parseSnapshotFile(text);
    expect(back.properties.inference_address).toBe('http://127.0.0.1:8080');
    expect(back.snapshot).toEqual(snapshot);
    expect(JSON.parse(parseProperties(text).model_snapshot!)).toEqual(snapshot);
  });

  it('refuses a model snapshot that is not one, naming what is wrong', () => {
    expect(() => parseModelSnapshot('{')).toThrow(/not valid JSON/);
    expect(() => parseModelSnapshot('{"models": []}')).toThrow(/no "models" object/);
    expect(() => parseModelSnapshot('{"models": {"a": {"1.0": {"marName": ""}}}}')).toThrow(/a version 1.0: marName/);
    expect(() => parseModelSnapshot('{"models": {"a": {"1.0": {"marName": "a.mar", "minWorkers": "x"}}}}')).toThrow(/minWorkers must be a number/);
    expect(() => parseSnapshotFile('a=b\n')).toThrow(/no model_snapshot/);
  });
});

describe('snapshot store', () => {
  const fileFor = (date: Date, type: 'startup' | 'snapshot' | 'shutdown') => {
    const name = snapshotFileName(date, type);
    return { name, text: renderSnapshotFile({ a: '1' }, { name, modelCount: 1, created: date.getTime(), models }, date) };
  };

  it('writes atomically and never over an existing snapshot', () => {
    const dir = path.join(tempDir(), 'logs', 'config');
    const { name, text } = fileFor(new Date(2021, 0, 1), 'startup');
    expect(writeSnapshot(dir, name, text)).toBe(true);
    expect(writeSnapshot(dir, name, 'other')).toBe(false);
    expect(fs.readFileSync(path.join(dir, name), 'utf8')).toBe(text);
    expect(fs.readdirSync(dir)).toEqual([name]); // no temp files left
    expect(fs.statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
  });

  it('takes the newest complete snapshot, reporting newer damaged ones', () => {
    const dir = tempDir();
    const old = fileFor(new Date(2021, 0, 1), 'startup');
    const good = fileFor(new Date(2021, 0, 2), 'snapshot');
    const cut = fileFor(new Date(2021, 0, 3), 'shutdown');
    for (const f of [old, good]) writeSnapshot(dir, f.name, f.text);
    fs.writeFileSync(path.join(dir, cut.name), cut.text.slice(0, cut.text.indexOf('model_snapshot') + 40)); // cut short
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    const search = latestSnapshot(dir);
    expect(search.found?.file).toBe(path.join(dir, good.name));
    expect(search.skipped).toHaveLength(1);
    expect(search.skipped[0]).toContain(cut.name);
    expect(latestSnapshot(path.join(dir, 'missing'))).toEqual({ skipped: [] });
  });

  it('SnapshotWriter counts versions, names the file by type, and logs instead of throwing', () => {
    const dir = tempDir();
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(`info ${m}`), error: (m: string) => logs.push(`error ${m}`) };
    const w = new SnapshotWriter({ dir, properties: { x: 'y' }, models: () => models, log, now: () => new Date(2022, 5, 6, 7, 8, 9, 10) });
    expect(w.write('snapshot')).toBe('20220606070809010-snapshot.cfg');
    const back = parseSnapshotFile(fs.readFileSync(path.join(dir, '20220606070809010-snapshot.cfg'), 'utf8'));
    expect(back.snapshot.modelCount).toBe(1);
    expect(back.snapshot.name).toBe('20220606070809010-snapshot.cfg');
    expect(back.properties.x).toBe('y');
    const blocked = path.join(dir, 'file');
    fs.writeFileSync(blocked, '');
    const bad = new SnapshotWriter({ dir: path.join(blocked, 'sub'), properties: {}, models: () => ({}), log });
    expect(bad.write('shutdown')).toBeUndefined();
    expect(logs.at(-1)).toMatch(/^error Could not save the config snapshot/);
  });
});

describe('config selection (spec §2.1)', () => {
  function setup() {
    const cwd = tempDir();
    fs.mkdirSync(path.join(cwd, 'store'));
    fs.writeFileSync(path.join(cwd, 'config.properties'), 'model_store=store\nload_models=from_file.mar\n');
    const dir = snapshotDir(cwd, 'logs');
    const date = new Date(2023, 0, 1);
    const name = snapshotFileName(date, 'snapshot');
    writeSnapshot(dir, name, renderSnapshotFile({ model_store: 'store', job_queue_size: '7' }, { name, modelCount: 1, created: 0, models }, date));
    return { cwd, file: path.join(dir, name) };
  }
  const resolve = (cwd: string, cli: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
    resolveConfig(nodeConfigSources(cli, env, cwd));

  it('uses the newest snapshot instead of config.properties when no file is named', () => {
    const { cwd, file } = setup();
    const c = resolve(cwd);
    expect(c.tsConfigFile).toBe(file);
    expect(c.jobQueueSize).toBe(7);
    expect(c.modelSnapshot?.models).toEqual(models);
  });

  it('ignores snapshots with --ncs, --ts-config or TS_CONFIG_FILE', () => {
    const { cwd } = setup();
    for (const c of [resolve(cwd, { ncs: true }), resolve(cwd, { tsConfig: 'config.properties' }), resolve(cwd, {}, { TS_CONFIG_FILE: 'config.properties' })]) {
      expect(c.modelSnapshot).toBeUndefined();
      expect(c.loadModels).toEqual(['from_file.mar']);
    }
  });

  it('falls back past a damaged newest snapshot, with a warning', () => {
    const { cwd, file } = setup();
    fs.writeFileSync(path.join(path.dirname(file), snapshotFileName(new Date(2024, 0, 1), 'shutdown')), '#Saving snapshot\nmodel_store=store\n');
    const c = resolve(cwd);
    expect(c.tsConfigFile).toBe(file);
    expect(c.startupWarnings.join('\n')).toMatch(/damaged config snapshot.*no model_snapshot/);
  });

  it('a named config file with a broken model_snapshot stops start-up clearly', () => {
    const cwd = tempDir();
    fs.mkdirSync(path.join(cwd, 'store'));
    fs.writeFileSync(path.join(cwd, 'c.properties'), 'model_store=store\nmodel_snapshot={"models": 3}\n');
    expect(() => resolve(cwd, { tsConfig: 'c.properties' })).toThrow('Invalid configuration: model_snapshot has no "models" object');
  });
});
