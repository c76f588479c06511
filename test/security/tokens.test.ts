/** TokenAuthority (src/security/tokens.ts): keys, key file, header parsing, expiry, rotation. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerToken, KEY_FILE_NAME, TokenAuthority } from '../../src/security/tokens.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-tokens-'));
  dirs.push(d);
  return d;
}

interface KeyFile {
  management: { key: string; 'expiration time': string };
  inference: { key: string; 'expiration time': string };
  API: { key: string };
}

const readKeys = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile;
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('TokenAuthority', () => {
  it('writes key_file.json with mode 0600 in TorchServe layout: 8-char URL-safe keys, expiry on two of them', () => {
    const dir = tempDir();
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const t = TokenAuthority.create({ dir, expirationMin: 60, now: () => now });
    expect(t.file).toBe(path.join(dir, KEY_FILE_NAME));
    expect(mode(t.file)).toBe(0o600);
    const text = fs.readFileSync(t.file, 'utf8');
    const keys = readKeys(t.file);
    expect(Object.keys(keys)).toEqual(['management', 'inference', 'API']);
    expect(Object.keys(keys.API)).toEqual(['key']);
    for (const k of [keys.management.key, keys.inference.key, keys.API.key]) expect(k).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(new Set([keys.management.key, keys.inference.key, keys.API.key]).size).toBe(3);
    expect(keys.inference['expiration time']).toBe('2026-01-02T04:04:05.678Z');
    expect(text).toContain('\n  "management": {\n    "key": ');
    expect(fs.readdirSync(dir)).toEqual([KEY_FILE_NAME]); // no temp file left behind
  });

  it('accepts only `Bearer <key>` of the right type, compared exactly', () => {
    const t = TokenAuthority.create({ dir: tempDir(), expirationMin: 60 });
    const { management, inference, API } = readKeys(t.file);
    expect(t.allows('inference', `Bearer ${inference.key}`)).toBe(true);
    expect(t.allows('inference', `Bearer \t ${inference.key}`)).toBe(true);
    expect(t.allows('management', `Bearer ${management.key}`)).toBe(true);
    expect(t.allows('API', `Bearer ${API.key}`)).toBe(true);
    for (const bad of [
      undefined,
      '',
      inference.key,
      `bearer ${inference.key}`,
      `Bearer ${inference.key} x`,
      `Bearer ${inference.key}x`,
      `Bearer ${inference.key.slice(1)}`,
      `Bearer ${management.key}`,
      `Bearer ${API.key}`,
      'Bearer ',
    ]) {
      expect(t.allows('inference', bad), String(bad)).toBe(false);
    }
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBe('');
  });

  it('expires the management and inference keys after token_expiration_min, never the API key', () => {
    let now = 1_000_000;
    const t = TokenAuthority.create({ dir: tempDir(), expirationMin: 0.5, now: () => now });
    const keys = readKeys(t.file);
    now += 29_999;
    expect(t.allows('inference', `Bearer ${keys.inference.key}`)).toBe(true);
    now += 1;
    expect(t.allows('inference', `Bearer ${keys.inference.key}`)).toBe(false);
    expect(t.allows('management', `Bearer ${keys.management.key}`)).toBe(false);
    now += 365 * 24 * 3600_000;
    expect(t.allows('API', `Bearer ${keys.API.key}`)).toBe(true);
  });

  it('rotates one key with a fresh expiry, rewriting the file (still 0600) and leaving the other keys', () => {
    let now = 1_000_000;
    const t = TokenAuthority.create({ dir: tempDir(), expirationMin: 1, now: () => now });
    const before = readKeys(t.file);
    now += 120_000; // both expired
    t.rotate('inference');
    const after = readKeys(t.file);
    expect(mode(t.file)).toBe(0o600);
    expect(after.inference.key).not.toBe(before.inference.key);
    expect(after.management).toEqual(before.management);
    expect(after.API).toEqual(before.API);
    expect(t.allows('inference', `Bearer ${before.inference.key}`)).toBe(false);
    expect(t.allows('inference', `Bearer ${after.inference.key}`)).toBe(true);
    expect(t.allows('management', `Bearer ${before.management.key}`)).toBe(false);
  });

  it('replaces a pre-existing, world-readable key file rather than inheriting its mode', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, KEY_FILE_NAME), 'old', { mode: 0o644 });
    const t = TokenAuthority.create({ dir, expirationMin: 60 });
    expect(mode(t.file)).toBe(0o600);
    expect(readKeys(t.file).API.key).toMatch(/^[A-Za-z0-9_-]{8}$/);
  });

  it('throws when the key file cannot be written', () => {
    expect(() => TokenAuthority.create({ dir: path.join(tempDir(), 'missing'), expirationMin: 60 })).toThrow();
  });
});
