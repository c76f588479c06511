import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveSecurityError, extractArchive, extractTarGz, extractZip } from '../../src/archive/extract.js';
import {
  GOOD_FILES,
  listTree,
  rawTarGz,
  rawZip,
  type RawTarEntry,
  tarGzFolder,
  tempDir,
  writeTree,
  yazlZip,
} from './helpers.js';

let root: string;
let inDir: string;
/** Two levels below root, so that `../x` and `../../x` still land inside root where we can look. */
let dest: string;
const absName = `/onnxserve-zipslip-${randomBytes(6).toString('hex')}.txt`;

beforeEach(() => {
  root = tempDir();
  inDir = path.join(root, 'in');
  fs.mkdirSync(inDir);
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  dest = path.join(root, 'a', 'b', 'dest');
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const expectedGoodTree = ['MAR-INF/', 'MAR-INF/MANIFEST.json', 'extra/', 'extra/labels.txt', 'model-config.yaml', 'tiny.onnx'];

function readBack(files: Record<string, string>): void {
  for (const [name, data] of Object.entries(files)) {
    expect(fs.readFileSync(path.join(dest, name), 'utf8')).toBe(data);
  }
}

/** The archive is refused as hostile, nothing lands anywhere, and dest is gone. */
async function expectRefused(run: Promise<void>, kind: new (...args: never[]) => Error = ArchiveSecurityError): Promise<Error> {
  const before = listTree(root).filter((p) => !p.startsWith('a/b/dest'));
  const err = await run.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(kind);
  expect(fs.existsSync(dest)).toBe(false);
  expect(listTree(root)).toEqual(before);
  expect(fs.existsSync(path.join(root, 'a', 'b', 'evil.txt'))).toBe(false);
  expect(fs.existsSync(path.join(root, 'a', 'evil.txt'))).toBe(false);
  expect(fs.existsSync(path.join(root, 'evil.txt'))).toBe(false);
  expect(fs.existsSync(absName)).toBe(false);
  return err as Error;
}

describe('extractZip (.mar)', () => {
  it('extracts a well-formed archive into a private folder', async () => {
    const mar = await yazlZip(path.join(inDir, 'tiny.mar'), { ...GOOD_FILES, 'empty/': '' });
    await extractZip(mar, dest);
    expect(listTree(dest)).toEqual([...expectedGoodTree, 'empty/'].sort());
    readBack(GOOD_FILES);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o700);
  });

  it('accepts entries whose folders are not listed', async () => {
    const zip = path.join(inDir, 'x.mar');
    fs.writeFileSync(zip, rawZip([{ name: 'deep/er/file.txt', data: 'hi' }, { name: '..dots', data: 'ok' }]));
    await extractZip(zip, dest);
    expect(listTree(dest)).toEqual(['..dots', 'deep/', 'deep/er/', 'deep/er/file.txt']);
  });

  it.each([
    ['../evil.txt'],
    ['a/../../evil.txt'],
    ['ok/../../../evil.txt'],
    [absName],
    ['a\\..\\..\\evil.txt'],
    ['..\\evil.txt'],
    ['C:\\evil.txt'],
    ['C:evil.txt'],
    ['\\\\host\\share\\evil.txt'],
    ['nul\0.txt'],
    ['..'],
  ])('refuses entry %j and writes nothing', async (name) => {
    const zip = path.join(inDir, 'evil.mar');
    // A harmless entry first: even it must not be written, since names are checked up front.
    fs.writeFileSync(zip, rawZip([{ name: 'good.txt', data: 'fine' }, { name, data: 'pwned' }]));
    const err = await expectRefused(extractZip(zip, dest));
    expect(err.message).toMatch(/^Detected Zip Slip vulnerability: /);
    expect((err as ArchiveSecurityError).entryName).toBe(name);
  });

  it('refuses a symlink entry, even one listed before a file written through it', async () => {
    const zip = path.join(inDir, 'link.mar');
    fs.writeFileSync(
      zip,
      rawZip([
        { name: 'link', data: '../..', unixMode: 0o120777 },
        { name: 'link/evil.txt', data: 'pwned' },
      ]),
    );
    const err = await expectRefused(extractZip(zip, dest));
    expect(err.message).toBe('Detected Zip Slip vulnerability: link');
  });

  it.each([[0o020644], [0o010644], [0o060644]])('refuses device/fifo entries (mode %o)', async (unixMode) => {
    const zip = path.join(inDir, 'dev.mar');
    fs.writeFileSync(zip, rawZip([{ name: 'dev', unixMode }]));
    await expectRefused(extractZip(zip, dest));
  });

  it('refuses an archive that unpacks past the byte limit (zip bomb)', async () => {
    const mar = await yazlZip(path.join(inDir, 'bomb.mar'), { 'zeros.bin': Buffer.alloc(2 * 1024 * 1024) });
    expect(fs.statSync(mar).size).toBeLessThan(64 * 1024);
    const err = await expectRefused(extractZip(mar, dest, { maxUnpackedBytes: 1024 * 1024 }));
    expect(err.message).toMatch(/more than 1048576 bytes/);
    await extractZip(mar, dest);
    expect(fs.statSync(path.join(dest, 'zeros.bin')).size).toBe(2 * 1024 * 1024);
  });

  it('stops an entry that inflates past its declared size while streaming', async () => {
    const zip = path.join(inDir, 'liar.mar');
    fs.writeFileSync(zip, rawZip([{ name: 'small.bin', data: Buffer.alloc(4 * 1024 * 1024), deflate: true, declaredSize: 10 }]));
    await expectRefused(extractZip(zip, dest, { maxUnpackedBytes: 1024 * 1024 }), Error);
  });

  it('refuses an archive with too many entries', async () => {
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.txt`, 'x']));
    const mar = await yazlZip(path.join(inDir, 'many.mar'), files);
    const err = await expectRefused(extractZip(mar, dest, { maxEntries: 3 }));
    expect(err.message).toMatch(/more than 3 entries/);
  });

  it('refuses a file that is not a zip', async () => {
    const mar = path.join(inDir, 'junk.mar');
    fs.writeFileSync(mar, 'this is not a zip file at all');
    const err = await expectRefused(extractZip(mar, dest), Error);
    expect(err.message).toMatch(/^Failed to open model archive junk\.mar: not a valid zip file/);
  });

  it('never reuses or deletes an existing destination', async () => {
    writeTree(dest, { 'keep.txt': 'mine' });
    const mar = await yazlZip(path.join(inDir, 'tiny.mar'), GOOD_FILES);
    await expect(extractZip(mar, dest)).rejects.toThrow(/EEXIST/);
    expect(listTree(dest)).toEqual(['keep.txt']);
  });
});

describe('extractTarGz', () => {
  it('extracts the archiver layout, dropping the <model-name>/ folder', async () => {
    const src = writeTree(path.join(root, 'stage', 'tiny'), GOOD_FILES);
    const tgz = await tarGzFolder(path.join(inDir, 'tiny.tar.gz'), src);
    await extractTarGz(tgz, dest);
    expect(listTree(dest)).toEqual(expectedGoodTree);
    readBack(GOOD_FILES);
    expect(fs.statSync(dest).mode & 0o777).toBe(0o700);
  });

  it("strips through the first '/' exactly like TorchServe", async () => {
    const tgz = path.join(inDir, 'odd.tgz');
    fs.writeFileSync(
      tgz,
      rawTarGz([
        { path: 'loose.txt', data: 'kept at the root' },
        { path: './tiny/', type: 'Directory' },
        { path: './tiny/x.txt', data: 'x' },
        { path: 'other/y.txt', data: 'y' },
      ]),
    );
    await extractTarGz(tgz, dest);
    expect(listTree(dest)).toEqual(['loose.txt', 'tiny/', 'tiny/x.txt', 'y.txt']);
  });

  it.each<[string, RawTarEntry]>([
    ['../x', { path: '../evil.txt', data: 'pwned' }],
    ['a nested ..', { path: 'tiny/../../evil.txt', data: 'pwned' }],
    ['.. after the stripped part', { path: 'tiny/../../../evil.txt', data: 'pwned' }],
    ['an absolute path', { path: absName, data: 'pwned' }],
    ['backslashes', { path: 'tiny\\..\\..\\evil.txt', data: 'pwned' }],
    ['a symlink', { path: 'tiny/link', type: 'SymbolicLink', linkpath: '../../..' }],
    ['a symlink to an absolute path', { path: 'tiny/link', type: 'SymbolicLink', linkpath: '/etc' }],
    ['a hard link', { path: 'tiny/hl', type: 'Link', linkpath: 'tiny/tiny.onnx' }],
    ['a character device', { path: 'tiny/dev', type: 'CharacterDevice' }],
    ['a fifo', { path: 'tiny/fifo', type: 'FIFO' }],
  ])('refuses %s and writes nothing', async (_what, bad) => {
    const tgz = path.join(inDir, 'evil.tar.gz');
    fs.writeFileSync(tgz, rawTarGz([{ path: 'tiny/', type: 'Directory' }, { path: 'tiny/good.txt', data: 'fine' }, bad]));
    const err = await expectRefused(extractTarGz(tgz, dest));
    expect(err.message).toBe(`Detected Zip Slip vulnerability: ${bad.path}`);
  });

  it('refuses an archive whose entries exceed the byte limit', async () => {
    const tgz = path.join(inDir, 'bomb.tgz');
    fs.writeFileSync(tgz, rawTarGz([{ path: 'tiny/zeros.bin', data: Buffer.alloc(2 * 1024 * 1024) }]));
    const err = await expectRefused(extractTarGz(tgz, dest, { maxUnpackedBytes: 1024 * 1024 }));
    expect(err.message).toMatch(/more than 1048576 bytes/);
  });

  it('counts decompressed bytes while streaming, not only the tar headers', async () => {
    const tgz = path.join(inDir, 'padded.tgz');
    // Tiny declared sizes, then 8 MiB of zeros after the end-of-archive blocks.
    fs.writeFileSync(tgz, rawTarGz([{ path: 'tiny/a.txt', data: 'a' }], 8 * 1024 * 1024));
    const err = await expectRefused(extractTarGz(tgz, dest, { maxUnpackedBytes: 1024 * 1024 }));
    expect(err.message).toMatch(/more than 1048576 bytes/);
  });

  it('refuses an archive with too many entries', async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ path: `tiny/f${i}.txt`, data: 'x' }));
    const tgz = path.join(inDir, 'many.tgz');
    fs.writeFileSync(tgz, rawTarGz(entries));
    await expectRefused(extractTarGz(tgz, dest, { maxEntries: 3 }));
  });

  it('refuses files that are not gzip, gzip that is not tar, nested gzip and truncated archives', async () => {
    const tarOnly = path.join(inDir, 'plain.tar');
    const good = rawTarGz([{ path: 'tiny/a.txt', data: Buffer.alloc(4096, 1) }]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['text.tar.gz', Buffer.from('hello'), /not a gzip-compressed tar file/],
      ['notar.tar.gz', gzipSync(Buffer.alloc(2048, 7)), /./],
      ['nested.tar.gz', gzipSync(good), /Nested compression/],
      ['cut.tar.gz', gzipSync(gunzipSync(good).subarray(0, 1024)), /Truncated/],
    ];
    fs.writeFileSync(tarOnly, gunzipSync(good));
    await expectRefused(extractTarGz(tarOnly, dest), Error);
    for (const [name, bytes, message] of cases) {
      const file = path.join(inDir, name);
      fs.writeFileSync(file, bytes);
      const err = await expectRefused(extractTarGz(file, dest), Error);
      expect(err.message).toMatch(message);
    }
  });
});

describe('extractArchive', () => {
  it('unzips .mar files and un-tars everything else', async () => {
    const mar = await yazlZip(path.join(inDir, 'tiny.mar'), GOOD_FILES);
    await extractArchive(mar, dest);
    expect(listTree(dest)).toEqual(expectedGoodTree);

    const tgz = await tarGzFolder(path.join(inDir, 'tiny.model'), writeTree(path.join(root, 'stage', 'tiny'), GOOD_FILES));
    const dest2 = path.join(root, 'dest2');
    await extractArchive(tgz, dest2);
    expect(listTree(dest2)).toEqual(expectedGoodTree);
  });

  it('does not unzip a zip that lacks the .mar extension', async () => {
    const zip = await yazlZip(path.join(inDir, 'tiny.zip'), GOOD_FILES);
    await expectRefused(extractArchive(zip, dest), Error);
  });
});
