/**
 * Archive integrity (issue 8) through the real CLI: every version records its archive's SHA-256
 * (describe, snapshots); pins in the store's SHA256SUMS, the `models` config or a snapshot refuse a
 * tampered archive at start-up and at registration, with a clear error and an audit line.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { http, makeSandbox, runCli, startForeground, type Sandbox } from '../e2e/harness.js';

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const WRONG = 'ab'.repeat(32);

async function store(sb: Sandbox): Promise<string> {
  const file = path.join(sb.store, 'm.mar');
  await writeMar(file, { modelName: 'm', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync((await mlp(sb.dir)).path) } });
  return file;
}

const auditLines = (sb: Sandbox) =>
  fs.existsSync(path.join(sb.dir, 'logs', 'audit.log'))
    ? fs.readFileSync(path.join(sb.dir, 'logs', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

describe('archive integrity', () => {
  it('records the SHA-256, and a SHA256SUMS pin refuses a tampered archive at start-up and at registration', async () => {
    const sb = makeSandbox();
    try {
      const file = await store(sb);
      const good = sha(file);
      fs.writeFileSync(path.join(sb.store, 'SHA256SUMS'), `${WRONG}  m.mar\n`);
      const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'm.mar', enable_model_api: true });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        const m = server.endpoints.management;
        expect(server.output()).toContain(`Integrity check failed for m.mar: SHA-256 ${good} does not match ${WRONG} pinned in SHA256SUMS`);
        expect((await http(`${m}/models`)).json).toEqual({ models: [] });
        const refused = await http(`${m}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST' });
        expect(refused.status).toBe(400);
        expect(refused.json).toEqual({ code: 400, type: 'InvalidModelException', message: `Integrity check failed for m.mar: SHA-256 ${good} does not match ${WRONG} pinned in SHA256SUMS` });
        expect(fs.readdirSync(sb.store).sort()).toEqual(['SHA256SUMS', 'm.mar']);
        fs.writeFileSync(path.join(sb.store, 'SHA256SUMS'), `${good}  m.mar\n`);
        expect((await http(`${m}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
        const d = (await http(`${m}/models/m`)).json as Array<{ sha256: string }>;
        expect(d[0]!.sha256).toBe(good);
      } finally {
        await server.stop();
      }
      const lines = auditLines(sb).map((l) => [l.action, l.remote, l.outcome, l.status]);
      expect(lines).toEqual([
        ['load', 'local', 'refused', 400],
        ['register', '127.0.0.1', 'refused', 400],
        ['register', '127.0.0.1', 'success', 200],
      ]);
    } finally {
      sb.remove();
    }
  });

  it('a pin in the models config refuses the version; a snapshot pins what it saved', async () => {
    const sb = makeSandbox();
    try {
      const file = await store(sb);
      const cfg = sb.writeConfig({ model_store: sb.store, enable_model_api: true, models: JSON.stringify({ m: { '1.0': { sha256: WRONG } } }) });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        const r = await http(`${server.endpoints.management}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST' });
        expect(r.status).toBe(400);
        expect((r.json as { message: string }).message).toBe(`Integrity check failed for m.mar (model m, version 1.0): SHA-256 ${sha(file)} does not match ${WRONG} pinned in the models config`);
      } finally {
        await server.stop();
      }

      // Snapshots: saved with the SHA-256; the archive replaced afterwards → start-up refuses it.
      sb.writeConfig({ model_store: sb.store, enable_model_api: true });
      const a = await startForeground(sb, []);
      expect((await http(`${a.endpoints.management}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
      await a.stop();
      const snaps = fs.readdirSync(path.join(sb.dir, 'logs', 'config')).sort();
      expect(fs.readFileSync(path.join(sb.dir, 'logs', 'config', snaps.at(-1)!), 'utf8')).toContain(`"sha256"\\: "${sha(file)}"`);
      // Replaced by a different (valid) archive of the same name.
      await writeMar(file, { modelName: 'm', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync((await mlp(sb.dir)).path), 'extra.txt': 'tampered' } });
      const b = await runCli(sb, ['--start', '--foreground']);
      expect(b.code).toBe(1);
      expect(b.stdout + b.stderr).toMatch(/Failed to restore model m, version 1\.0 from the config snapshot: Integrity check failed for m\.mar: SHA-256 [0-9a-f]{64} does not match [0-9a-f]{64} pinned in the config snapshot/);
      expect(auditLines(sb).at(-1)).toMatchObject({ action: 'restore', model: 'm', version: '1.0', outcome: 'refused', status: 400 });
    } finally {
      sb.remove();
    }
  });
});
