/**
 * The audit log through the real CLI: every management action — allowed, refused (bad key, model
 * API off) or failed — is one JSON line in logs/audit.log, field by field, never with a key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import type { AuditEntry } from '../../src/security/audit.js';
import { http, makeSandbox, startForeground } from '../e2e/harness.js';

type Line = AuditEntry;

describe('audit log', () => {
  it('records each management action and refusal, without keys', async () => {
    const sb = makeSandbox();
    try {
      await writeMar(path.join(sb.store, 'm.mar'), { modelName: 'm', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync((await mlp(sb.dir)).path) } });
      const cfg = sb.writeConfig({ model_store: sb.store, disable_token_authorization: false, enable_model_api: true });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      const keys = JSON.parse(fs.readFileSync(path.join(sb.dir, 'key_file.json'), 'utf8')) as Record<string, { key: string }>;
      const m = server.endpoints.management;
      const auth = { Authorization: `Bearer ${keys.management!.key}` };
      try {
        await http(`${m}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST' }); // no key
        await http(`${m}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST', headers: { Authorization: `Bearer ${keys.inference!.key}` } });
        expect((await http(`${m}/models?url=m.mar&initial_workers=1&synchronous=true`, { method: 'POST', headers: auth })).status).toBe(200);
        expect((await http(`${m}/models?url=missing.mar`, { method: 'POST', headers: auth })).status).toBe(404);
        expect((await http(`${m}/models/m?min_worker=2&synchronous=true`, { method: 'PUT', headers: auth })).status).toBe(200);
        expect((await http(`${m}/models/m/1.0/set-default`, { method: 'PUT', headers: auth })).status).toBe(200);
        expect((await http(`${m}/models`, { headers: auth })).status).toBe(200); // a read: not audited
        expect((await http(`${m}/models/m`, { method: 'DELETE', headers: auth })).status).toBe(200);
      } finally {
        await server.stop();
      }
      const text = fs.readFileSync(path.join(sb.dir, 'logs', 'audit.log'), 'utf8');
      for (const k of Object.values(keys)) expect(text).not.toContain(k.key);
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Line);
      const brief = lines.map((l) => [l.action, l.key, l.model, l.version, l.outcome, l.status]);
      expect(brief).toEqual([
        ['register', 'none', 'm.mar', null, 'refused', 400],
        ['register', 'inference', 'm.mar', null, 'refused', 400],
        ['register', 'management', 'm.mar', null, 'success', 200],
        ['register', 'management', 'missing.mar', null, 'refused', 404],
        ['scale', 'management', 'm', null, 'success', 200],
        ['set-default', 'management', 'm', '1.0', 'success', 200],
        ['unregister', 'management', 'm', null, 'success', 200],
      ]);
      expect(lines[0]!.reason).toBe('Token Authorization failed. Token either incorrect, expired, or not provided correctly');
      expect(lines[3]!.reason).toBe('Model not found at: missing.mar');
      for (const l of lines) {
        expect(l.remote).toBe('127.0.0.1');
        expect(Date.parse(l.time)).not.toBeNaN();
        expect(Object.keys(l).sort()).toEqual(['action', 'key', 'model', 'outcome', 'reason', 'remote', 'status', 'time', 'version']);
      }
      expect(fs.statSync(path.join(sb.dir, 'logs', 'audit.log')).mode & 0o777).toBe(0o600);
    } finally {
      sb.remove();
    }
  });

  it('records refusals of the disabled model API with token auth off', async () => {
    const sb = makeSandbox();
    try {
      const cfg = sb.writeConfig({ model_store: sb.store });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        expect((await http(`${server.endpoints.management}/models?url=x.mar`, { method: 'POST' })).status).toBe(405);
        expect((await http(`${server.endpoints.management}/v2/repository/models/x/load`, { method: 'POST' })).status).toBe(405);
      } finally {
        await server.stop();
      }
      const lines = fs.readFileSync(path.join(sb.dir, 'logs', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
      expect(lines.map((l) => [l.action, l.key, l.model, l.outcome, l.status])).toEqual([
        ['register', 'disabled', 'x.mar', 'refused', 405],
        ['load', 'disabled', 'x', 'refused', 405],
      ]);
      expect(lines[0]!.reason).toBe('Requested method is not allowed, please refer to API document.');
    } finally {
      sb.remove();
    }
  });
});
