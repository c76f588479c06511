/**
 * Token authorization end to end through the real CLI (spec §5): on by default, key file in the
 * server's working folder with mode 0600, which key each port takes, the exempt routes, the token
 * API, expiry, the switches that turn it off, `--stop` removing the key file, and no key in logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, runCli, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';

const AUTHORIZATION_FAILED = {
  code: 400,
  type: 'InvalidKeyException',
  message: 'Token Authorization failed. Token either incorrect, expired, or not provided correctly',
};
const AUTHENTICATION_FAILED = { ...AUTHORIZATION_FAILED, message: AUTHORIZATION_FAILED.message.replace('Authorization', 'Authentication') };

interface KeyFile {
  management: { key: string; 'expiration time': string };
  inference: { key: string; 'expiration time': string };
  API: { key: string };
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const ROW = JSON.stringify([[5.1, 3.5, 1.4, 0.2]]);

async function packMlp(sb: Sandbox): Promise<void> {
  const m = await mlp(sb.dir);
  await writeMar(path.join(sb.store, 'mlp.mar'), {
    modelName: 'mlp',
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(m.path), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
  });
}

describe('token authorization on (the default)', () => {
  let sb: Sandbox;
  let server: ForegroundServer;
  let api: string;
  let mgmt: string;
  let metrics: string;
  const keyFile = () => path.join(sb.dir, 'key_file.json');
  const keys = () => JSON.parse(fs.readFileSync(keyFile(), 'utf8')) as KeyFile;

  beforeAll(async () => {
    sb = makeSandbox();
    await packMlp(sb);
    // The harness turns tokens off for other tests: back to TorchServe's default here.
    const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all', disable_token_authorization: false, enable_model_api: true });
    server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
    api = server.endpoints.inference;
    mgmt = server.endpoints.management;
    metrics = server.endpoints.metrics!;
    await eventually(async () => {
      const r = await http(`${mgmt}/models/mlp`, { headers: bearer(keys().management.key) });
      const workers = (r.json as Array<{ workers: Array<{ status: string }> }>)[0]?.workers ?? [];
      if (!workers.some((w) => w.status === 'READY')) throw new Error('not ready');
    });
  });
  afterAll(async () => {
    await server?.stop();
    sb?.remove();
  });

  it('writes key_file.json (0600) in its working folder and logs where, never the keys', () => {
    expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
    const k = keys();
    expect(server.output()).toContain('TorchServe now enforces token authorization by default.');
    expect(server.output()).toContain(`Key file located at ${keyFile()}`);
    const logs = fs.readdirSync(path.join(sb.dir, 'logs')).map((f) => fs.readFileSync(path.join(sb.dir, 'logs', f), 'utf8')).join('\n');
    for (const key of [k.management.key, k.inference.key, k.API.key]) {
      expect(server.output()).not.toContain(key);
      expect(logs).not.toContain(key);
    }
  });

  it('inference port: every route needs the inference key, in TorchServe envelope (OIP routes too)', async () => {
    const k = keys();
    for (const [url, init] of [
      [`${api}/ping`, {}],
      [`${api}/predictions/mlp`, { method: 'POST', body: ROW }],
      [`${api}/v2/health/ready`, {}],
      [`${api}/nowhere`, {}],
    ] as const) {
      for (const headers of [{}, bearer(k.management.key), bearer(k.API.key), { Authorization: `bearer ${k.inference.key}` }, { Authorization: k.inference.key }]) {
        const r = await http(url, { ...init, headers });
        expect(r.status, `${url} ${JSON.stringify(headers)}`).toBe(400);
        expect(r.json).toEqual(AUTHORIZATION_FAILED);
      }
    }
    expect((await http(`${api}/ping`, { headers: bearer(k.inference.key) })).status).toBe(200);
    const p = await http(`${api}/predictions/mlp`, { method: 'POST', body: ROW, headers: bearer(k.inference.key) });
    expect(p.status).toBe(200);
    expect((p.json as number[][])[0]).toHaveLength(3);
    expect((await http(`${api}/v2/health/ready`, { headers: bearer(k.inference.key) })).status).toBe(200);
    expect((await http(`${api}/nowhere`, { headers: bearer(k.inference.key) })).status).toBe(404);
  });

  it('management port needs the management key, before the model-API check', async () => {
    const k = keys();
    for (const headers of [{}, bearer(k.inference.key), bearer(k.API.key)]) {
      expect((await http(`${mgmt}/models`, { headers })).json).toEqual(AUTHORIZATION_FAILED);
      expect((await http(`${mgmt}/models?url=mlp.mar`, { method: 'POST', headers })).json).toEqual(AUTHORIZATION_FAILED);
      expect((await http(`${mgmt}/models/mlp`, { method: 'DELETE', headers })).json).toEqual(AUTHORIZATION_FAILED);
    }
    const list = await http(`${mgmt}/models`, { headers: bearer(k.management.key) });
    expect(list.status).toBe(200);
    expect(list.json).toEqual({ models: [{ modelName: 'mlp', modelUrl: 'mlp.mar' }] });
  });

  it('exempts OPTIONS / and /api-description on every port, and the whole metrics port', async () => {
    for (const base of [api, mgmt, metrics]) {
      expect((await http(`${base}/`, { method: 'OPTIONS' })).status).toBe(200);
      expect((await http(`${base}/api-description`)).status).toBe(200);
    }
    expect((await http(`${metrics}/metrics`)).status).toBe(200);
    // Only the root is exempt for OPTIONS: a model's description is behind the key.
    expect((await http(`${api}/predictions/mlp`, { method: 'OPTIONS' })).status).toBe(400);
  });

  it('the token API rotates a key with the API key only; the old key stops working at once', async () => {
    const before = keys();
    for (const [query, headers] of [
      ['?type=inference', {}],
      ['?type=inference', bearer(before.management.key)],
      ['?type=inference', bearer(before.inference.key)],
      ['?type=bogus', bearer(before.API.key)],
      ['', bearer(before.API.key)],
    ] as const) {
      const r = await http(`${mgmt}/token${query}`, { headers });
      expect(r.status, `${query} ${JSON.stringify(headers)}`).toBe(400);
      expect(r.json).toEqual(AUTHENTICATION_FAILED);
    }
    expect(keys()).toEqual(before);
    const r = await http(`${mgmt}/token?type=inference`, { headers: bearer(before.API.key) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const after = keys();
    expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
    expect(after.inference.key).not.toBe(before.inference.key);
    expect(after.management).toEqual(before.management);
    expect((await http(`${api}/ping`, { headers: bearer(before.inference.key) })).status).toBe(400);
    expect((await http(`${api}/ping`, { headers: bearer(after.inference.key) })).status).toBe(200);
    // The token path is on the management port only.
    expect((await http(`${api}/token?type=inference`, { headers: bearer(after.API.key) })).json).toEqual(AUTHORIZATION_FAILED);
  });
});

describe('token expiry and the switches', () => {
  it('keys expire after token_expiration_min (fractional), and the API key renews them', async () => {
    const sb = makeSandbox();
    try {
      const cfg = sb.writeConfig({ model_store: sb.store, disable_token_authorization: false, token_expiration_min: 0.03 }); // 1.8 s
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        const read = () => JSON.parse(fs.readFileSync(path.join(sb.dir, 'key_file.json'), 'utf8')) as KeyFile;
        const k = read();
        const issued = Date.parse(k.inference['expiration time']);
        expect(issued - Date.now()).toBeLessThanOrEqual(1800);
        expect((await http(`${server.endpoints.inference}/ping`, { headers: bearer(k.inference.key) })).status).toBe(200);
        await new Promise((r) => setTimeout(r, Math.max(0, issued - Date.now()) + 100));
        expect((await http(`${server.endpoints.inference}/ping`, { headers: bearer(k.inference.key) })).json).toEqual(AUTHORIZATION_FAILED);
        expect((await http(`${server.endpoints.management}/models`, { headers: bearer(k.management.key) })).status).toBe(400);
        expect((await http(`${server.endpoints.management}/token?type=management`, { headers: bearer(k.API.key) })).status).toBe(200);
        expect((await http(`${server.endpoints.management}/models`, { headers: bearer(read().management.key) })).status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('is off with --disable-token-auth, --dt or disable_token_authorization=true: no key file, no check, /token is 404', async () => {
    for (const [props, flags] of [
      [{ disable_token_authorization: false }, ['--disable-token-auth']],
      [{ disable_token_authorization: false }, ['--dt']],
      [{ disable_token_authorization: true }, []],
    ] as const) {
      const sb = makeSandbox();
      try {
        const cfg = sb.writeConfig({ model_store: sb.store, ...props });
        const server = await startForeground(sb, ['--ncs', '--ts-config', cfg, ...flags]);
        try {
          expect(fs.existsSync(path.join(sb.dir, 'key_file.json'))).toBe(false);
          expect(server.output()).not.toContain('enforces token authorization');
          expect((await http(`${server.endpoints.inference}/ping`)).status).toBe(200);
          expect((await http(`${server.endpoints.management}/models`)).status).toBe(200);
          expect((await http(`${server.endpoints.management}/token?type=inference`)).status).toBe(404);
        } finally {
          await server.stop();
        }
      } finally {
        sb.remove();
      }
    }
  });

  it('a daemon started with tokens, then --stop, leaves no key file behind', async () => {
    const sb = makeSandbox();
    try {
      const cfg = sb.writeConfig({ model_store: sb.store, disable_token_authorization: false });
      const start = await runCli(sb, ['--start', '--ncs', '--ts-config', cfg]);
      expect(start.code).toBe(0);
      await eventually(async () => {
        if (!fs.existsSync(path.join(sb.dir, 'key_file.json'))) throw new Error('no key file yet');
      });
      const stop = await runCli(sb, ['--stop']);
      expect(stop.stdout).toContain('TorchServe has stopped.');
      expect(fs.existsSync(path.join(sb.dir, 'key_file.json'))).toBe(false);
    } finally {
      await runCli(sb, ['--stop']).catch(() => undefined);
      sb.remove();
    }
  });
});
