/**
 * Config snapshots through the real CLI (spec §8): a server started without a named config writes
 * startup/snapshot/shutdown files; restarted the same way it comes back with the same models,
 * versions, defaults and worker counts; a damaged newest snapshot falls back to the previous one;
 * a snapshot naming a missing archive stops start-up; --ncs neither writes nor reads them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, runCli, startForeground, type Sandbox } from '../e2e/harness.js';

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.remove();
  sb = undefined;
});

async function setup(): Promise<Sandbox> {
  const s = makeSandbox();
  sb = s;
  const m = fs.readFileSync((await mlp(s.dir)).path);
  for (const [file, version] of [
    ['a_v1.mar', '1.0'],
    ['a_v2.mar', '2.0'],
    ['b.mar', '1.0'],
  ] as const) {
    await writeMar(path.join(s.store, file), { modelName: file.startsWith('a') ? 'a' : 'b', modelVersion: version, serializedFile: 'model.onnx', files: { 'model.onnx': m } });
  }
  // ./config.properties in the working folder: not named on the command line, so snapshots apply.
  s.writeConfig({ model_store: s.store, enable_model_api: true });
  return s;
}

const snapshotFiles = (s: Sandbox) => {
  const dir = path.join(s.dir, 'logs', 'config');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cfg')).sort() : [];
};

async function snapshotOf(mgmt: string, names: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const all = (await http(`${mgmt}/models/${n}/all`)).json as Array<Record<string, unknown>>;
    const def = ((await http(`${mgmt}/models/${n}`)).json as Array<Record<string, unknown>>)[0]!.modelVersion;
    out[n] = {
      default: def,
      versions: all
        .map((v) => ({ version: v.modelVersion, url: v.modelUrl, min: v.minWorkers, max: v.maxWorkers, batchSize: v.batchSize, maxBatchDelay: v.maxBatchDelay }))
        .sort((x, y) => String(x.version).localeCompare(String(y.version))),
    };
  }
  return out;
}

async function readyWorkers(mgmt: string, name: string, version: string): Promise<number> {
  const d = (await http(`${mgmt}/models/${name}/${version}`)).json as Array<{ workers: Array<{ status: string }> }>;
  return d[0]!.workers.filter((w) => w.status === 'READY').length;
}

describe('config snapshots', () => {
  it('a restart after SIGKILL (no shutdown snapshot) comes back from the last change snapshot', async () => {
    const s = await setup();
    const first = await startForeground(s, []);
    const mgmt = first.endpoints.management;
    expect((await http(`${mgmt}/models?url=a_v1.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    expect((await http(`${mgmt}/models/a?min_worker=2&max_worker=2&synchronous=true`, { method: 'PUT' })).status).toBe(200);
    const before = await snapshotOf(mgmt, ['a']);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(snapshotFiles(s).some((f) => f.endsWith('-shutdown.cfg'))).toBe(false);
    const second = await startForeground(s, []);
    try {
      expect(await snapshotOf(second.endpoints.management, ['a'])).toEqual(before);
      await eventually(async () => expect(await readyWorkers(second.endpoints.management, 'a', '1.0')).toBe(2));
    } finally {
      await second.stop();
    }
  });

  it('a restart comes back with the same models, versions, defaults and worker counts', async () => {
    const s = await setup();
    const first = await startForeground(s, []);
    const mgmt = first.endpoints.management;
    expect((await http(`${mgmt}/models?url=a_v1.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    expect((await http(`${mgmt}/models?url=a_v2.mar&initial_workers=1&synchronous=true&batch_size=4&max_batch_delay=7`, { method: 'POST' })).status).toBe(200);
    expect((await http(`${mgmt}/models?url=b.mar&initial_workers=0`, { method: 'POST' })).status).toBe(200);
    expect((await http(`${mgmt}/models/a/2.0/set-default`, { method: 'PUT' })).status).toBe(200);
    expect((await http(`${mgmt}/models/a/1.0?min_worker=2&max_worker=3&synchronous=true`, { method: 'PUT' })).status).toBe(200);
    const before = await snapshotOf(mgmt, ['a', 'b']);
    expect(before).toMatchObject({ a: { default: '2.0' } });
    await first.stop();
    const files = snapshotFiles(s);
    expect(files.some((f) => f.endsWith('-startup.cfg'))).toBe(true);
    expect(files.some((f) => f.endsWith('-snapshot.cfg'))).toBe(true);
    expect(files.at(-1)).toMatch(/^\d{17}-shutdown\.cfg$/);
    const shutdown = fs.readFileSync(path.join(s.dir, 'logs', 'config', files.at(-1)!), 'utf8');
    expect(shutdown.split('\n')[0]).toBe('#Saving snapshot');
    expect(shutdown).toContain('model_snapshot={\\n  "name"\\: ');

    const second = await startForeground(s, []);
    try {
      const m2 = second.endpoints.management;
      expect(second.output()).toContain(`Config file: ${path.join(s.dir, 'logs', 'config', files.at(-1)!)}`);
      expect(await snapshotOf(m2, ['a', 'b'])).toEqual(before);
      await eventually(async () => {
        expect(await readyWorkers(m2, 'a', '1.0')).toBe(2);
        expect(await readyWorkers(m2, 'a', '2.0')).toBe(1);
      });
      expect(await readyWorkers(m2, 'b', '1.0')).toBe(0);
      const p = await http(`${second.endpoints.inference}/predictions/a`, { method: 'POST', body: '[[1,2,3,4]]' });
      expect(p.status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('a damaged newest snapshot is reported and the previous one used; a missing archive stops start-up', async () => {
    const s = await setup();
    const first = await startForeground(s, []);
    expect((await http(`${first.endpoints.management}/models?url=b.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    await first.stop();
    const dir = path.join(s.dir, 'logs', 'config');
    const newest = snapshotFiles(s).at(-1)!;
    const text = fs.readFileSync(path.join(dir, newest), 'utf8');
    fs.writeFileSync(path.join(dir, newest), text.slice(0, text.indexOf('model_snapshot'))); // cut short
    const second = await startForeground(s, []);
    try {
      expect(second.output()).toMatch(/Skipping a damaged config snapshot, .*no model_snapshot/);
      const models = (await http(`${second.endpoints.management}/models`)).json;
      expect(models).toEqual({ models: [{ modelName: 'b', modelUrl: 'b.mar' }] });
    } finally {
      await second.stop();
    }
    fs.rmSync(path.join(s.store, 'b.mar'));
    const third = await runCli(s, ['--start', '--foreground']);
    expect(third.code).toBe(1);
    expect(third.stdout + third.stderr).toContain('InvalidSnapshotException: Model archive file for model :b, version :1.0 not found in model store');
  });

  it('--ncs writes no snapshot and ignores existing ones', async () => {
    const s = await setup();
    const a = await startForeground(s, ['--ncs']);
    expect((await http(`${a.endpoints.management}/models?url=b.mar&initial_workers=0`, { method: 'POST' })).status).toBe(200);
    await a.stop();
    expect(snapshotFiles(s)).toEqual([]);
    const b = await startForeground(s, []);
    await http(`${b.endpoints.management}/models?url=b.mar&initial_workers=0`, { method: 'POST' });
    await b.stop();
    expect(snapshotFiles(s).length).toBeGreaterThan(0);
    const c = await startForeground(s, ['--ncs']);
    try {
      expect((await http(`${c.endpoints.management}/models`)).json).toEqual({ models: [] });
    } finally {
      await c.stop();
    }
  });
});
