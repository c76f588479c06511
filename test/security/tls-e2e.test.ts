/**
 * HTTPS listeners through the real CLI: an `https://` address serves TLS from certificate_file +
 * private_key_file (or a PKCS12 keystore), plain HTTP to it gets TorchServe's 403, other listeners
 * stay as configured, and an https address without key material stops start-up with a clear message.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { http, makeSandbox, runCli, startForeground } from '../e2e/harness.js';

const TLS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const ca = fs.readFileSync(path.join(TLS, 'cert.pem'));

function httpsGet(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

describe('HTTPS listeners', () => {
  it('serves the inference API over TLS (PEM pair) and answers plain HTTP with 403', async () => {
    const sb = makeSandbox();
    try {
      const cfg = sb.writeConfig({
        model_store: sb.store,
        inference_address: 'https://127.0.0.1:0',
        certificate_file: path.join(TLS, 'cert.pem'),
        private_key_file: path.join(TLS, 'key.pem'),
      });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        expect(server.endpoints.inference).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        expect(server.endpoints.management).toMatch(/^http:\/\//);
        const ping = await httpsGet(`${server.endpoints.inference}/ping`);
        expect(ping.status).toBe(200);
        expect(JSON.parse(ping.text)).toEqual({ status: 'Healthy' });
        const plain = await http(`${server.endpoints.inference.replace('https:', 'http:')}/ping`);
        expect(plain.status).toBe(403);
        expect(plain.json).toEqual({ status: 'This TorchServe instance only accepts HTTPS requests' });
        expect((await http(`${server.endpoints.management}/models`)).status).toBe(200);
        expect((await httpsGet(`${server.endpoints.inference}/ping`)).status).toBe(200); // still serving
      } finally {
        await server.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('takes a PKCS12 keystore for the management API', async () => {
    const sb = makeSandbox();
    try {
      const cfg = sb.writeConfig({ model_store: sb.store, management_address: 'https://127.0.0.1:0', keystore: path.join(TLS, 'keystore.p12'), keystore_pass: 'changeit' });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        const list = await httpsGet(`${server.endpoints.management}/models`);
        expect(list.status).toBe(200);
        expect(JSON.parse(list.text)).toEqual({ models: [] });
      } finally {
        await server.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('an https address without key material, or a bad key, stops start-up naming the key', async () => {
    const sb = makeSandbox();
    try {
      const none = sb.writeConfig({ model_store: sb.store, inference_address: 'https://127.0.0.1:0' });
      const r1 = await runCli(sb, ['--start', '--foreground', '--ncs', '--ts-config', none]);
      expect(r1.code).toBe(1);
      expect(r1.stdout + r1.stderr).toMatch(/certificate_file and private_key_file/);
      const bad = sb.writeConfig({
        model_store: sb.store,
        inference_address: 'https://127.0.0.1:0',
        certificate_file: path.join(TLS, 'cert.pem'),
        private_key_file: path.join(TLS, 'missing-key.pem'),
      });
      const r2 = await runCli(sb, ['--start', '--foreground', '--ncs', '--ts-config', bad]);
      expect(r2.code).toBe(1);
      expect(r2.stdout + r2.stderr).toMatch(/private_key_file/);
      expect(r2.stdout + r2.stderr).not.toMatch(/BEGIN/);
    } finally {
      sb.remove();
    }
  });
});
