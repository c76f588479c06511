/**
 * Zero-downtime model updates through the real CLI: a new version registered and made default
 * while clients keep sending fails no request, and unregistering the old one lets its accepted
 * requests finish (up to unregister_model_timeout, then TorchServe's 408).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp, slow } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';

let sb: Sandbox | undefined;
let server: ForegroundServer | undefined;
afterEach(async () => {
  await server?.stop();
  sb?.remove();
  sb = server = undefined;
});

async function start(props: Record<string, string | number | boolean> = {}): Promise<{ api: string; mgmt: string; sb: Sandbox }> {
  const s = makeSandbox();
  sb = s;
  const m = fs.readFileSync((await mlp(s.dir)).path);
  for (const [file, version] of [
    ['a_v1.mar', '1.0'],
    ['a_v2.mar', '2.0'],
  ] as const) {
    await writeMar(path.join(s.store, file), { modelName: 'a', modelVersion: version, serializedFile: 'model.onnx', files: { 'model.onnx': m } });
  }
  await writeMar(path.join(s.store, 'slow.mar'), { modelName: 'slow', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync(await slow(s.dir)) } });
  const cfg = s.writeConfig({ model_store: s.store, enable_model_api: true, ...props });
  server = await startForeground(s, ['--ncs', '--ts-config', cfg]);
  return { api: server.endpoints.inference, mgmt: server.endpoints.management, sb: s };
}

describe('zero-downtime updates', () => {
  it('register v2, make it default and unregister v1 under load: no request fails', async () => {
    const { api, mgmt } = await start();
    expect((await http(`${mgmt}/models?url=a_v1.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    let running = true;
    const statuses: number[] = [];
    const client = async () => {
      while (running) {
        const r = await http(`${api}/predictions/a`, { method: 'POST', body: '[[1,2,3,4]]' });
        statuses.push(r.status);
      }
    };
    const clients = Array.from({ length: 6 }, client);
    await new Promise((r) => setTimeout(r, 300));
    expect((await http(`${mgmt}/models?url=a_v2.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    expect((await http(`${mgmt}/models/a/2.0/set-default`, { method: 'PUT' })).status).toBe(200);
    expect((await http(`${mgmt}/models/a/1.0`, { method: 'DELETE' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(clients);
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const left = (await http(`${mgmt}/models/a/all`)).json as Array<{ modelVersion: string }>;
    expect(left.map((v) => v.modelVersion)).toEqual(['2.0']);
  });

  it('unregister waits for the requests its version accepted; past unregister_model_timeout it answers 408', async () => {
    const { api, mgmt } = await start({ unregister_model_timeout: 1 });
    expect((await http(`${mgmt}/models?url=slow.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    const body = (n: number) => JSON.stringify({ x: [[1, 2, 3, 4]], n });
    // ≈ 0.3 s of work: finishes well within the timeout.
    const short = http(`${api}/predictions/slow`, { method: 'POST', body: body(1000), headers: { 'content-type': 'application/json' } });
    await new Promise((r) => setTimeout(r, 100));
    const del = await http(`${mgmt}/models/slow`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await short).status).toBe(200);

    expect((await http(`${mgmt}/models?url=slow.mar&initial_workers=1&synchronous=true`, { method: 'POST' })).status).toBe(200);
    // ≈ 2.5 s of work: longer than unregister_model_timeout.
    const long = http(`${api}/predictions/slow`, { method: 'POST', body: body(8_000), headers: { 'content-type': 'application/json' } });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const del2 = await http(`${mgmt}/models/slow`, { method: 'DELETE' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(del2.status).toBe(408);
    expect(del2.json).toEqual({ code: 408, type: 'RequestTimeoutException', message: 'Timed out while cleaning resources: slow' });
    expect([500, 503]).toContain((await long).status);
    await eventually(async () => expect((await http(`${api}/ping`)).status).toBe(200));
  });
});
