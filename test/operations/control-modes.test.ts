/**
 * Model control modes (issue 8) through the real CLI: how model_control_mode and enable_model_api
 * combine (conflicts stop start-up), and poll mode: archives added, half-written, replaced under
 * load, replaced by a broken one, and removed; management mutations refused; every poll action audited.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, runCli, startForeground, type Sandbox } from '../e2e/harness.js';

async function marBytes(sb: Sandbox, extra: Record<string, string> = {}): Promise<Buffer> {
  const file = path.join(sb.dir, `build-${Math.random().toString(36).slice(2)}.mar`);
  await writeMar(file, {
    modelName: 'm',
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync((await mlp(sb.dir)).path), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n', ...extra },
  });
  return fs.readFileSync(file);
}

describe('model control modes', () => {
  it('explicit turns the model API on, none keeps it off, and a conflict with enable_model_api stops start-up', async () => {
    const sb = makeSandbox();
    try {
      for (const [props, flags, code, message] of [
        [{ model_control_mode: 'none', enable_model_api: true }, [], 1, 'model_control_mode=none conflicts with enable_model_api=true'],
        [{ model_control_mode: 'poll', enable_model_api: true }, [], 1, 'model_control_mode=poll conflicts with enable_model_api=true'],
        [{ model_control_mode: 'explicit', enable_model_api: false }, [], 1, 'model_control_mode=explicit conflicts with enable_model_api=false'],
        [{ model_control_mode: 'sometimes' }, [], 1, 'model_control_mode must be none, explicit or poll, got "sometimes"'],
      ] as const) {
        const cfg = sb.writeConfig({ model_store: sb.store, ...props });
        const r = await runCli(sb, ['--start', '--foreground', '--ncs', '--ts-config', cfg, ...flags]);
        expect(r.code, JSON.stringify(props)).toBe(code);
        expect(r.stdout + r.stderr).toContain(message);
      }
      const cfg = sb.writeConfig({ model_store: sb.store });
      const s = await startForeground(sb, ['--ncs', '--ts-config', cfg, '--model-control-mode', 'explicit']);
      try {
        expect(s.output()).toContain('Model control mode: explicit');
        expect((await http(`${s.endpoints.management}/models?url=nothing.mar`, { method: 'POST' })).status).toBe(404); // allowed, just missing
      } finally {
        await s.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('poll: loads, waits for half-written files, reloads under load without failures, keeps the old version on a bad reload, unloads', async () => {
    const sb = makeSandbox();
    try {
      const v1 = await marBytes(sb);
      const v2 = await marBytes(sb, { 'notes.txt': 'second upload' });
      const cfg = sb.writeConfig({ model_store: sb.store, model_control_mode: 'poll', model_store_poll_secs: 1 });
      const s = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      const api = s.endpoints.inference;
      const mgmt = s.endpoints.management;
      const sha = async () => ((await http(`${mgmt}/models/m`)).json as Array<{ sha256: string }>)[0]!.sha256;
      try {
        expect((await http(`${mgmt}/models?url=m.mar`, { method: 'POST' })).status).toBe(405);
        // Half-written: the first half, left for longer than two scans, then completed.
        const file = path.join(sb.store, 'm.mar');
        fs.writeFileSync(file, v1.subarray(0, v1.length >> 1));
        await new Promise((r) => setTimeout(r, 2_600));
        fs.appendFileSync(file, v1.subarray(v1.length >> 1));
        await eventually(async () => expect((await http(`${api}/predictions/m`, { method: 'POST', body: '[[1,2,3,4]]' })).status).toBe(200), 20_000);
        const first = await sha();

        // Replaced under load: no request fails.
        let running = true;
        const statuses: number[] = [];
        const client = (async () => {
          while (running) statuses.push((await http(`${api}/predictions/m`, { method: 'POST', body: '[[1,2,3,4]]' })).status);
        })();
        fs.writeFileSync(file + '.tmp', v2);
        fs.renameSync(file + '.tmp', file);
        await eventually(async () => expect(await sha()).not.toBe(first), 20_000);
        await new Promise((r) => setTimeout(r, 300));
        running = false;
        await client;
        expect(statuses.length).toBeGreaterThan(10);
        expect(statuses.filter((x) => x !== 200)).toEqual([]);
        const second = await sha();

        // A broken replacement: the loaded version keeps serving.
        fs.writeFileSync(file, Buffer.from('not a zip at all'));
        await eventually(async () => expect(s.output()).toContain('poll-reload of m.mar failed'), 20_000);
        expect(await sha()).toBe(second);
        expect((await http(`${api}/predictions/m`, { method: 'POST', body: '[[1,2,3,4]]' })).status).toBe(200);

        // Removed: unloaded.
        fs.rmSync(file);
        await eventually(async () => expect((await http(`${api}/predictions/m`, { method: 'POST', body: '[[1,2,3,4]]' })).status).toBe(404), 20_000);
      } finally {
        await s.stop();
      }
      const actions = fs
        .readFileSync(path.join(sb.dir, 'logs', 'audit.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; outcome: string; remote: string });
      expect(actions.filter((a) => a.remote === 'local').map((a) => `${a.action}:${a.outcome}`)).toEqual(
        expect.arrayContaining(['poll-load:success', 'poll-reload:success', 'poll-reload:failed', 'poll-unload:success']),
      );
      expect(actions.some((a) => a.action === 'register' && a.outcome === 'refused')).toBe(true);
    } finally {
      sb.remove();
    }
  }, 90_000);
});
