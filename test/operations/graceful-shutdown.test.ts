/**
 * Graceful shutdown through the real CLI: SIGTERM during a burst of slow requests answers every one
 * of them, health probes report not-ready while draining and new requests get 503, the process
 * exits 0 within the drain; the drain is bounded; a second signal stops at once.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { slow } from '../fixtures/models.js';
import { http as fetchJson, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';

let sb: Sandbox | undefined;
let server: ForegroundServer | undefined;
afterEach(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  sb?.remove();
  sb = server = undefined;
});

/** ~0.3 ms a round on one core: 300 rounds ≈ 0.1 s per request. */
const body = (rounds: number) => JSON.stringify({ x: [[1, 2, 3, 4]], n: rounds });

async function start(props: Record<string, string | number | boolean> = {}): Promise<ForegroundServer> {
  sb = makeSandbox();
  const file = await slow(sb.dir);
  await writeMar(path.join(sb.store, 'slow.mar'), {
    modelName: 'slow',
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(file), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\nresponseTimeout: 60\n' },
  });
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all', ...props });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  // Wait for the worker: a prediction answers.
  for (let i = 0; ; i++) {
    const r = await fetchJson(`${server.endpoints.inference}/predictions/slow`, { method: 'POST', body: body(1), headers: { 'content-type': 'application/json' } });
    if (r.status === 200) break;
    if (i > 100) throw new Error(`model not ready: ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return server;
}

/** One request on its own keep-alive agent, so we can reuse the connection during the drain. */
function post(url: string, payload: string, agent: http.Agent): Promise<{ status: number; text: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function get(url: string, agent?: http.Agent): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, agent ? { agent } : {}, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM during a burst: every request already sent is answered, probes say not-ready, new requests 503', async () => {
    const s = await start();
    const url = `${s.endpoints.inference}/predictions/slow`;
    const agents = Array.from({ length: 12 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const burst = agents.map((a) => post(url, body(300), a)); // ≈ 1.2 s of queued work for one worker
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    // Probes: not ready while draining; a new request goes elsewhere.
    const probe = await get(`${s.endpoints.inference}/ping`);
    expect(probe.status).toBe(500);
    expect(JSON.parse(probe.text)).toEqual({ status: 'Unhealthy' });
    const ready = await get(`${s.endpoints.inference}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toEqual({ ready: false });
    const late = await post(url, body(1), new http.Agent());
    expect(late.status).toBe(503);
    expect(JSON.parse(late.text)).toEqual({ code: 503, type: 'ServiceUnavailableException', message: 'The server is shutting down' });
    expect(late.connection).toBe('close');
    const replies = await Promise.all(burst);
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(await s.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(s.output()).toContain('Draining');
    expect(s.output()).toContain('Model server stopped.');
    for (const a of agents) a.destroy();
  });

  it('the drain is bounded by drain_timeout_s, and a second signal stops at once', async () => {
    const s = await start({ drain_timeout_s: 1 });
    const url = `${s.endpoints.inference}/predictions/slow`;
    const agent = new http.Agent({ keepAlive: true });
    const long = post(url, body(20_000), agent).catch((e: Error) => ({ status: 0, text: e.message })); // ≈ 6 s
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    await s.exited;
    expect(Date.now() - t0).toBeLessThan(5_000);
    // Cut short: it ends itself (SIGKILL) rather than wait for the native run to return.
    expect(s.child.signalCode).toBe('SIGKILL');
    expect(s.output()).toContain('Drain timeout reached');
    expect(fs.existsSync(path.join(sb!.tmp, '.model_server.pid'))).toBe(false);
    const r = await long;
    expect(r.status === 0 || r.status === 503).toBe(true); // cut: a clean close or TorchServe's 503
    agent.destroy();
    sb?.remove();

    const s2 = await start({ drain_timeout_s: 30 });
    const agent2 = new http.Agent({ keepAlive: true });
    const long2 = post(`${s2.endpoints.inference}/predictions/slow`, body(20_000), agent2).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const t1 = Date.now();
    s2.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    s2.child.kill('SIGTERM');
    await s2.exited;
    expect(s2.child.signalCode).toBe('SIGKILL');
    expect(Date.now() - t1).toBeLessThan(3_000);
    expect(s2.output()).toContain('Second stop signal');
    await long2;
    agent2.destroy();
  });
});
