import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveSecurityError, openArchive, resolveModelFile } from '../../src/archive/index.js';
import type { ModelArchive } from '../../src/archive/types.js';
import { ServeError } from '../../src/errors.js';
import { GOOD_FILES, listTree, rawTarGz, rawZip, tarGzFolder, tempDir, writeTree, yazlZip } from './helpers.js';

let root: string;
let tempRoot: string;

beforeEach(() => {
  root = tempDir();
  tempRoot = path.join(root, 'tmp');
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const manifest = (model: Record<string, string>, extra: Record<string, string> = {}) =>
  JSON.stringify({ createdOn: '01/01/2025 00:00:00', runtime: 'python', archiverVersion: '0.12.0', ...extra, model });

function expectGood(archive: ModelArchive): void {
  expect(archive.manifest.model.modelName).toBe('tiny');
  expect(archive.config?.minWorkers).toBe(2);
  expect(archive.config?.maxWorkers).toBe(4);
  expect(archive.config?.responseTimeout).toBe(120);
  expect(archive.config?.extra).toEqual({ handler: { labels: ['a', 'b'] } });
  expect(archive.warnings).toEqual([]);
  expect(resolveModelFile(archive)).toBe(path.join(archive.dir, 'tiny.onnx'));
}

async function invalidModel(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServeError);
  expect((err as ServeError).status).toBe(400);
  expect((err as ServeError).type).toBe('InvalidModelException');
  return (err as ServeError).message;
}

function tempModels(): string[] {
  return fs.existsSync(path.join(tempRoot, 'models')) ? fs.readdirSync(path.join(tempRoot, 'models')) : [];
}

describe('openArchive', () => {
  it('unzips a .mar into <tempRoot>/models/<32 hex>/ (0700) and cleans it up', async () => {
    const mar = await yazlZip(path.join(root, 'tiny.mar'), GOOD_FILES);
    const archive = await openArchive(mar, { tempRoot });
    expectGood(archive);
    expect(path.dirname(archive.dir)).toBe(path.join(tempRoot, 'models'));
    expect(path.basename(archive.dir)).toMatch(/^[0-9a-f]{32}$/);
    expect(fs.statSync(archive.dir).mode & 0o777).toBe(0o700);
    await archive.cleanup();
    expect(fs.existsSync(archive.dir)).toBe(false);
    expect(tempModels()).toEqual([]);
  });

  it('uses a different private folder on every open', async () => {
    const mar = await yazlZip(path.join(root, 'tiny.mar'), GOOD_FILES);
    const a = await openArchive(mar, { tempRoot });
    const b = await openArchive(mar, { tempRoot });
    expect(a.dir).not.toBe(b.dir);
    await Promise.all([a.cleanup(), b.cleanup()]);
  });

  it('un-tar-gzips any other file, dropping the top folder', async () => {
    const tgz = await tarGzFolder(path.join(root, 'tiny.tar.gz'), writeTree(path.join(root, 'stage', 'tiny'), GOOD_FILES));
    const archive = await openArchive(tgz, { tempRoot });
    expectGood(archive);
    expect(listTree(archive.dir)).toContain('MAR-INF/MANIFEST.json');
    await archive.cleanup();
    expect(tempModels()).toEqual([]);
  });

  it('uses a folder in place, and cleanup leaves it alone', async () => {
    const dir = writeTree(path.join(root, 'store', 'tiny'), GOOD_FILES);
    const archive = await openArchive(dir, { tempRoot });
    expect(archive.dir).toBe(dir);
    expectGood(archive);
    await archive.cleanup();
    expect(listTree(dir)).toContain('tiny.onnx');
    expect(tempModels()).toEqual([]);
  });

  it("descends into a folder's only sub-directory", async () => {
    const outer = path.join(root, 'store', 'unpacked');
    writeTree(path.join(outer, 'tiny'), GOOD_FILES);
    const archive = await openArchive(outer, { tempRoot });
    expect(archive.dir).toBe(path.join(outer, 'tiny'));
    expectGood(archive);
  });

  it('does not descend when the only sub-directory is MAR-INF, or there is more than one entry', async () => {
    const onlyMarInf = writeTree(path.join(root, 'm1'), { 'MAR-INF/MANIFEST.json': manifest({ modelName: 'm1' }) });
    expect((await openArchive(onlyMarInf, { tempRoot })).manifest.model.modelName).toBe('m1');
    const two = writeTree(path.join(root, 'm2'), { 'sub/x.onnx': 'x', 'y.txt': 'y' });
    expect((await openArchive(two, { tempRoot })).dir).toBe(two);
  });

  it('gives defaults when there is no manifest, and reads a root model-config.yaml then', async () => {
    const dir = writeTree(path.join(root, 'bare'), { 'm.onnx': 'x', 'model-config.yaml': 'batchSize: 4\n' });
    const archive = await openArchive(dir, { tempRoot });
    expect(archive.manifest).toEqual({ runtime: 'python', model: {} });
    expect(archive.config?.batchSize).toBe(4);
    expect(archive.warnings).toEqual([]);
    expect(resolveModelFile(archive)).toBe(path.join(dir, 'm.onnx'));
  });

  it('ignores a root model-config.yaml that the manifest does not name (as TorchServe does)', async () => {
    const dir = writeTree(path.join(root, 'x'), {
      'MAR-INF/MANIFEST.json': manifest({ modelName: 'x' }),
      'model-config.yaml': 'batchSize: 4\n',
    });
    expect((await openArchive(dir, { tempRoot })).config).toBeUndefined();
  });

  it('passes yaml warnings on, and a broken yaml leaves config absent', async () => {
    const dir = writeTree(path.join(root, 'x'), {
      'MAR-INF/MANIFEST.json': manifest({ modelName: 'x', configFile: 'c.yaml' }),
      'c.yaml': 'minWorkers: [1\n',
    });
    const archive = await openArchive(dir, { tempRoot });
    expect(archive.config).toBeUndefined();
    expect(archive.warnings[0]).toMatch(/^Failed to parse model config yaml file/);
  });

  it('warns about manifests lacking archiverVersion/createdOn', async () => {
    const dir = writeTree(path.join(root, 'x'), { 'MAR-INF/MANIFEST.json': '{"model": {"modelName": "x"}}' });
    expect((await openArchive(dir, { tempRoot })).warnings).toHaveLength(2);
  });

  it('refuses a configFile that is missing, naming it', async () => {
    const mar = await yazlZip(path.join(root, 'x.mar'), {
      'MAR-INF/MANIFEST.json': manifest({ modelName: 'x', configFile: 'gone.yaml' }),
    });
    expect(await invalidModel(openArchive(mar, { tempRoot }))).toMatch(/"gone\.yaml"/);
    expect(tempModels()).toEqual([]);
  });

  it.each([['../outside.yaml'], ['/etc/hostname'], ['sub/../../x.yaml']])(
    'refuses a configFile leaving the archive (%s)',
    async (configFile) => {
      writeTree(root, { 'outside.yaml': 'batchSize: 2\n' });
      const mar = await yazlZip(path.join(root, 'x.mar'), { 'MAR-INF/MANIFEST.json': manifest({ modelName: 'x', configFile }) });
      expect(await invalidModel(openArchive(mar, { tempRoot }))).toMatch(/must stay inside the model archive/);
      expect(tempModels()).toEqual([]);
    },
  );

  it('maps a bad manifest to InvalidModelException and removes the temp folder', async () => {
    const mar = await yazlZip(path.join(root, 'x.mar'), { 'MAR-INF/MANIFEST.json': '{oops' });
    expect(await invalidModel(openArchive(mar, { tempRoot }))).toBe('Failed to parse signature.json.');
    const tgz = path.join(root, 'x.tar.gz');
    fs.writeFileSync(tgz, rawTarGz([{ path: 'x/MAR-INF/MANIFEST.json', data: '{"runtime": "java"}' }]));
    expect(await invalidModel(openArchive(tgz, { tempRoot }))).toBe('Runtime is not defined or invalid.');
    expect(tempModels()).toEqual([]);
  });

  it('throws ArchiveSecurityError for hostile archives and leaves no temp folder', async () => {
    const mar = path.join(root, 'evil.mar');
    fs.writeFileSync(mar, rawZip([{ name: 'MAR-INF/MANIFEST.json', data: '{}' }, { name: '../../evil.txt', data: 'x' }]));
    await expect(openArchive(mar, { tempRoot })).rejects.toThrow(ArchiveSecurityError);
    const tgz = path.join(root, 'evil.tar.gz');
    fs.writeFileSync(tgz, rawTarGz([{ path: 'x/link', type: 'SymbolicLink', linkpath: '/' }]));
    await expect(openArchive(tgz, { tempRoot })).rejects.toThrow(ArchiveSecurityError);
    expect(tempModels()).toEqual([]);
    expect(fs.existsSync(path.join(tempRoot, 'evil.txt'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'evil.txt'))).toBe(false);
  });

  it('applies the unpacked-size limit', async () => {
    const mar = await yazlZip(path.join(root, 'big.mar'), { 'zeros.bin': Buffer.alloc(256 * 1024) });
    await expect(openArchive(mar, { tempRoot, maxUnpackedBytes: 1024 })).rejects.toThrow(ArchiveSecurityError);
    expect(tempModels()).toEqual([]);
  });
});

describe('resolveModelFile', () => {
  async function open(files: Record<string, string>): Promise<ModelArchive> {
    return openArchive(writeTree(path.join(root, `m${Math.random().toString(16).slice(2)}`), files), { tempRoot });
  }

  it('uses serializedFile, even in a sub-folder', async () => {
    const a = await open({ 'MAR-INF/MANIFEST.json': manifest({ serializedFile: 'w/model.onnx' }), 'w/model.onnx': 'x', 'other.onnx': 'y' });
    expect(resolveModelFile(a)).toBe(path.join(a.dir, 'w', 'model.onnx'));
  });

  it('refuses a serializedFile that is not ONNX, naming it', async () => {
    const a = await open({ 'MAR-INF/MANIFEST.json': manifest({ serializedFile: 'model.pt' }), 'model.pt': 'x' });
    expect(() => resolveModelFile(a)).toThrow(/"model\.pt".*only ONNX models/);
  });

  it('refuses a missing serializedFile', async () => {
    const a = await open({ 'MAR-INF/MANIFEST.json': manifest({ serializedFile: 'gone.onnx' }) });
    expect(() => resolveModelFile(a)).toThrow(/"gone\.onnx".*not found/);
  });

  it('refuses a serializedFile outside the archive', async () => {
    writeTree(root, { 'outside.onnx': 'x' });
    const a = await open({ 'MAR-INF/MANIFEST.json': manifest({ serializedFile: '../outside.onnx' }) });
    expect(() => resolveModelFile(a)).toThrow(/must stay inside the model archive/);
  });

  it('falls back to the single .onnx at the root', async () => {
    const a = await open({ 'MAR-INF/MANIFEST.json': manifest({ modelName: 'x' }), 'Net.ONNX': 'x', 'sub/deep.onnx': 'y' });
    expect(resolveModelFile(a)).toBe(path.join(a.dir, 'Net.ONNX'));
  });

  it('explains when there is no .onnx, or several', async () => {
    const none = await open({ 'MAR-INF/MANIFEST.json': manifest({ modelName: 'x' }), 'model.pt': 'x' });
    expect(() => resolveModelFile(none)).toThrow(/^No ONNX model found in archive: expected serializedFile/);
    const two = await open({ 'a.onnx': 'x', 'b.onnx': 'y' });
    expect(() => resolveModelFile(two)).toThrow(/a\.onnx, b\.onnx/);
    try {
      resolveModelFile(two);
    } catch (e) {
      expect((e as ServeError).type).toBe('InvalidModelException');
    }
  });
});
