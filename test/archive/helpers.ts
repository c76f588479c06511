/**
 * Archive builders for the archive tests: well-formed archives through yazl / tar, and hostile
 * ones written byte by byte (yazl and tar's packer refuse `..`, absolute names and the like).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import yazl from 'yazl';

export function tempDir(prefix = 'onnxserve-archive-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file and folder below `root`, relative, sorted. */
export function listTree(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      out.push(path.relative(root, p) + (d.isDirectory() ? '/' : ''));
      if (d.isDirectory() && !d.isSymbolicLink()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

/** A .mar built by yazl (deflated, like the archiver's default format). */
export async function yazlZip(file: string, files: Record<string, string | Buffer>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(data), name);
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('close', resolve).on('error', reject);
  });
  return file;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface RawZipEntry {
  name: string;
  data?: string | Buffer;
  /** Unix mode stored in the high 16 bits of the external attributes (e.g. 0o120777 for a symlink). */
  unixMode?: number;
  /** Deflate the data (default: stored). */
  deflate?: boolean;
  /** Uncompressed size written in the headers, to make them lie. */
  declaredSize?: number;
}

/** A stored (uncompressed) zip written by hand, so that any entry name can be used. */
export function rawZip(entries: RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const plain = Buffer.from(e.data ?? '');
    const crc = crc32(plain);
    const data = e.deflate ? deflateRawSync(plain) : plain;
    const method = e.deflate ? 8 : 0;
    const size = e.declaredSize ?? plain.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.unixMode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

export interface RawTarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  data?: string | Buffer;
  linkpath?: string;
}

/** A gzip'd tar written header by header (tar's packer would sanitise hostile names). */
export function rawTarGz(entries: RawTarEntry[], trailingZeros = 0): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'File';
    const header = new tar.Header({
      path: e.path,
      type,
      size: type === 'File' ? data.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      linkpath: e.linkpath,
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && data.length > 0) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024), Buffer.alloc(trailingZeros));
  return gzipSync(Buffer.concat(blocks));
}

/** The archiver's tgz layout: the folder `src` packed as `<name>/...` by tar itself. */
export async function tarGzFolder(file: string, src: string): Promise<string> {
  await tar.create({ gzip: true, file, cwd: path.dirname(src), portable: true }, [path.basename(src)]);
  return file;
}

/** Writes files (name → contents) below `dir`, creating folders. */
export function writeTree(dir: string, files: Record<string, string | Buffer>): string {
  for (const [name, data] of Object.entries(files)) {
    const target = path.join(dir, name);
    if (name.endsWith('/')) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, data);
  }
  return dir;
}

export const MANIFEST = JSON.stringify(
  {
    createdOn: '17/03/2025 11:20:57',
    runtime: 'python',
    model: {
      modelName: 'tiny',
      serializedFile: 'tiny.onnx',
      handler: 'base_handler',
      modelVersion: '1.0',
      configFile: 'model-config.yaml',
    },
    archiverVersion: '0.12.0',
  },
  null,
  2,
);

/** A well-formed archive's files: manifest, yaml, a (fake) .onnx, a nested extra file. */
export const GOOD_FILES: Record<string, string> = {
  'MAR-INF/MANIFEST.json': MANIFEST,
  'model-config.yaml': 'minWorkers: 2\nmaxWorkers: 4\nhandler:\n  labels: [a, b]\n',
  'tiny.onnx': 'not really onnx',
  'extra/labels.txt': 'a\nb\n',
};
