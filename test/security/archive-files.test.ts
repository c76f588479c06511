/**
 * What an accepted archive may make the server read and run: model-config.yaml limits (nesting,
 * size: SnakeYAML's rules and texts), the MANIFEST.json size cap, the limits passed through
 * locateModel, and handler modules confined to the model folder (links included).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MANIFEST_BYTES, MAX_MODEL_CONFIG_CODE_POINTS, MAX_MODEL_CONFIG_DEPTH, openArchive, parseModelConfig } from '../../src/archive/index.js';
import { ServeError } from '../../src/errors.js';
import { BUILTIN_HANDLER_NAMES } from '../../src/handlers/builtin/names.js';
import { loadHandler } from '../../src/handlers/loader.js';
import { supportedHandlersText } from '../../src/handlers/spec.js';
import { checkHandler } from '../../src/registry/handlers.js';
import { locateModel } from '../../src/registry/model-source.js';
import { listTree, rawZip, tempDir, writeTree, yazlZip } from '../archive/helpers.js';

let root: string;
let tempRoot: string;

beforeEach(() => {
  root = tempDir('onnxserve-files-');
  tempRoot = path.join(root, 'tmp');
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const manifest = (model: Record<string, unknown>) =>
  JSON.stringify({ createdOn: '01/01/2025 00:00:00', runtime: 'python', archiverVersion: '0.12.0', model });

describe('model-config.yaml limits', () => {
  it('uses SnakeYAML 2 defaults for nesting and a 256 Ki code-point cap', () => {
    expect(MAX_MODEL_CONFIG_DEPTH).toBe(50);
    expect(MAX_MODEL_CONFIG_CODE_POINTS).toBe(256 * 1024);
  });

  const huge = [60, 5_000, 50_000]; // 50 000 levels stay under the code-point cap
  // Indented nesting grows quadratically: 1000 levels already take ~500 KB.
  const indented = [60, 500]; // 500 levels ≈ 125 KB, under the code-point cap
  it.each([
    ['flow sequences', huge, (d: number) => `minWorkers: 1\na: ${'['.repeat(d)}${']'.repeat(d)}\n`],
    ['flow mappings', huge, (d: number) => `minWorkers: 1\na: ${'{b: '.repeat(d)}1${'}'.repeat(d)}\n`],
    ['compact block sequences', huge, (d: number) => `minWorkers: 1\na:\n${'- '.repeat(d)}x\n`],
    ['block sequences', indented, (d: number) => `minWorkers: 1\na:\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x\n`],
    ['block mappings', indented, (d: number) => `minWorkers: 1\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`],
  ])('refuses %s nested deeper than 50 quickly, with SnakeYAML\'s text, and never overflows the stack', (_kind, depths, doc) => {
    for (const depth of depths) {
      const started = Date.now();
      const r = parseModelConfig(doc(depth));
      expect(r.config).toBeUndefined();
      expect(r.warnings).toEqual(['Failed to parse model config yaml file: Nesting Depth exceeded max 50']);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    expect(parseModelConfig(doc(40)).config?.minWorkers).toBe(1);
  });

  it('does not count brackets inside quoted scalars as nesting', () => {
    const r = parseModelConfig(`minWorkers: 1\na: "${'['.repeat(500)}"\nb: '${'{'.repeat(500)}'\n`);
    expect(r.warnings).toEqual([]);
    expect(r.config?.minWorkers).toBe(1);
  });

  it('treats a document over the code-point cap as absent without parsing it', () => {
    const text = `minWorkers: 1\nx: "${'a'.repeat(100)}"\n`;
    expect(parseModelConfig(text, { maxCodePoints: 64 })).toEqual({
      warnings: ['Failed to parse model config yaml file: The incoming YAML document exceeds the limit: 64 code points.'],
    });
    // Code points, not UTF-16 units: 40 emoji are 80 units but 40 code points.
    expect(parseModelConfig(`x: "${'😀'.repeat(40)}"\n`, { maxCodePoints: 64 }).config).toBeDefined();
  });

  it('does not read an oversized config file at all, and still loads the model', async () => {
    const dir = writeTree(path.join(root, 'm'), {
      'MAR-INF/MANIFEST.json': manifest({ modelName: 'm', configFile: 'model-config.yaml' }),
      'model-config.yaml': `minWorkers: 1\n#${'x'.repeat(5000)}\n`,
    });
    const archive = await openArchive(dir, { tempRoot, maxConfigCodePoints: 1000 });
    expect(archive.config).toBeUndefined();
    expect(archive.warnings).toContain('Failed to parse model config yaml file: The incoming YAML document exceeds the limit: 1000 code points.');
  });
});

describe('MANIFEST.json limits', () => {
  it('refuses a manifest over 1 MiB with InvalidModelException, and removes the extraction folder', async () => {
    expect(DEFAULT_MAX_MANIFEST_BYTES).toBe(1024 * 1024);
    const mar = await yazlZip(path.join(root, 'm.mar'), {
      'MAR-INF/MANIFEST.json': JSON.stringify({ runtime: 'python', model: { modelName: 'm' }, description: 'x'.repeat(2000) }),
    });
    const err = await openArchive(mar, { tempRoot, maxManifestBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeError);
    expect((err as ServeError).toPlain()).toEqual({ status: 400, type: 'InvalidModelException', message: 'MAR-INF/MANIFEST.json is larger than 1000 bytes' });
    expect(listTree(tempRoot)).toEqual(['models/']);
  });

  it('parses a deeply nested manifest without overflowing the stack (nesting in a string field is TorchServe\'s parse error)', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const dir = writeTree(path.join(root, 'm'), { 'MAR-INF/MANIFEST.json': `{"runtime":"python","model":{"modelName":${deep}}}` });
    const err = await openArchive(dir, { tempRoot }).catch((e: unknown) => e);
    expect((err as ServeError).toPlain()).toEqual({ status: 400, type: 'InvalidModelException', message: 'Failed to parse signature.json.' });
  });
});

describe('extraction limits through locateModel', () => {
  it('passes maxUnpackedBytes and maxEntries on, answering TorchServe\'s 500', async () => {
    const store = path.join(root, 'store');
    fs.mkdirSync(store);
    await yazlZip(path.join(store, 'big.mar'), { 'MAR-INF/MANIFEST.json': manifest({ modelName: 'big' }), 'zeros.bin': Buffer.alloc(64 * 1024) });
    fs.writeFileSync(path.join(store, 'many.mar'), rawZip(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }))));
    const reasons: unknown[] = [];
    const ctx = {
      modelStore: store,
      allowedUrls: [],
      tempRoot,
      cwd: root,
      extractLimits: { maxUnpackedBytes: 4096, maxEntries: 10 },
      onOpenFailure: (_url: string, err: unknown) => reasons.push(err),
    };
    for (const url of ['big.mar', 'many.mar']) {
      const err = await locateModel(url, ctx).catch((e: unknown) => e);
      expect((err as ServeError).toPlain()).toEqual({ status: 500, type: 'InternalServerException', message: `Failed to save model: ${url}` });
    }
    expect(reasons.map(String)).toEqual([
      'ArchiveSecurityError: Archive unpacks to more than 4096 bytes; refusing to extract it',
      'ArchiveSecurityError: Archive has more than 10 entries; refusing to extract it',
    ]);
    expect(listTree(tempRoot)).toEqual(['models/']);
  });
});

describe('handler modules stay inside the model folder', () => {
  const notFound = (name: string) =>
    `Handler "${name}" was not found in the model archive. Supported: ${supportedHandlersText(BUILTIN_HANDLER_NAMES)}.`;

  function refused(name: string, dir: string): string {
    try {
      checkHandler(name, dir);
    } catch (e) {
      expect(e).toBeInstanceOf(ServeError);
      expect((e as ServeError).status).toBe(400);
      return (e as ServeError).message;
    }
    throw new Error(`handler ${name} was accepted`);
  }

  it('refuses paths outside, absolute paths, and links leading outside (at registration and in the worker)', async () => {
    const marker = path.join(root, 'pwned');
    writeTree(root, { 'outside/evil.mjs': `import fs from 'node:fs'; fs.writeFileSync(${JSON.stringify(marker)}, 'x'); export function handle() { return []; }\n` });
    const dir = writeTree(path.join(root, 'model'), { 'm.onnx': 'x', 'sub/ok.mjs': 'export function handle() { return []; }\n' });
    fs.symlinkSync(path.join(root, 'outside', 'evil.mjs'), path.join(dir, 'link.mjs'));
    fs.symlinkSync(path.join(root, 'outside'), path.join(dir, 'linkdir'));
    for (const name of ['../outside/evil.mjs', path.join(root, 'outside/evil.mjs'), 'link.mjs', 'linkdir/evil.mjs', 'sub/../../outside/evil.mjs']) {
      expect(refused(name, dir)).toBe(notFound(name));
      await expect(loadHandler(name, dir)).rejects.toThrow(/must be inside the model folder|was not found in the model folder/);
    }
    expect(checkHandler('sub/ok.mjs', dir)).toBe('sub/ok.mjs');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('answers "not found" (400) for names the file system rejects, never an error naming the folder', () => {
    const dir = writeTree(path.join(root, 'model'), { 'm.onnx': 'x' });
    const long = `${'a'.repeat(300)}.mjs`;
    expect(refused(long, dir)).toBe(notFound(long));
    fs.symlinkSync('loop.mjs', path.join(dir, 'loop.mjs'));
    expect(refused('loop.mjs', dir)).toBe(notFound('loop.mjs'));
  });
});
