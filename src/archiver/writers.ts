/**
 * Writes the archive layouts of spec §7.1 from the collected entries plus the manifest text:
 * zip (deflated `default`, stored `zip-store`), gzip tar with every entry under `<model-name>/`,
 * or a plain folder. Sources are streamed (no staging copy), and every byte read is reported to
 * the progress reporter. Zip and tar files are written to a temporary name in the export folder
 * and renamed into place only when complete.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Header, Pax } from 'tar';
import yazl from 'yazl';
import { MANIFEST_PATH } from '../archive/index.js';
import { ArchiverError } from './errors.js';
import type { ArchiveEntry } from './inputs.js';
import type { Progress } from './progress.js';

export interface WriteOptions {
  /** SOURCE_DATE_EPOCH: every entry gets this time and normalised permissions. */
  fixedTime?: Date;
  /** Time stamp of the manifest entry when no fixed time is set. */
  now: Date;
  progress: Progress;
}

const FILE_TYPE = 0o100000;

/** Permissions stored for an entry: the file's own, or 644/755 when building reproducibly. */
function permissions(entry: ArchiveEntry, opts: WriteOptions): number {
  if (opts.fixedTime === undefined) return entry.mode & 0o777;
  return entry.mode & 0o111 ? 0o755 : 0o644;
}

const entryTime = (entry: ArchiveEntry, opts: WriteOptions): Date => opts.fixedTime ?? entry.mtime;
const manifestTime = (opts: WriteOptions): Date => opts.fixedTime ?? opts.now;

/** Reads exactly `entry.size` bytes of the source, counting them as progress. */
function readSource(entry: ArchiveEntry, progress: Progress): Readable {
  if (entry.size === 0) return Readable.from([]);
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      progress.advance(chunk.length);
      cb(null, chunk);
    },
    flush(cb) {
      cb(seen === entry.size ? null : new ArchiverError(`${entry.source} changed while it was being archived`));
    },
  });
  const input = fs.createReadStream(entry.source, { start: 0, end: entry.size - 1 });
  input.on('error', (e) => counter.destroy(e));
  return input.pipe(counter);
}

/** A temporary file next to `target`, renamed over it once `write` succeeds. */
async function writeAtomically(target: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  if (fs.lstatSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ArchiverError(`${target} is a directory; remove it or choose another --export-path`);
  }
  try {
    await write(tmp);
    fs.renameSync(tmp, target);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export async function writeZip(target: string, entries: ArchiveEntry[], manifest: string, compress: boolean, opts: WriteOptions): Promise<void> {
  await writeAtomically(target, async (tmp) => {
    const zip = new yazl.ZipFile();
    const failed = new Promise<never>((_, reject) => zip.on('error', reject));
    for (const entry of entries) {
      zip.addReadStreamLazy(
        entry.name,
        { mtime: entryTime(entry, opts), mode: FILE_TYPE | permissions(entry, opts), compress, size: entry.size },
        (cb) => cb(null, readSource(entry, opts.progress)),
      );
    }
    zip.addBuffer(Buffer.from(manifest, 'utf8'), MANIFEST_PATH, { mtime: manifestTime(opts), mode: FILE_TYPE | 0o644, compress });
    zip.end();
    await Promise.race([pipeline(zip.outputStream, fs.createWriteStream(tmp)), failed]);
  });
}

const BLOCK = 512;
/** Python's tarfile (and GNU tar) pad the archive to a 20-block record. */
const RECORD = 20 * BLOCK;

function tarHeader(name: string, size: number, mode: number, mtime: Date): Buffer[] {
  const fields = { path: name, mode, size, mtime, uid: 0, gid: 0, uname: '', gname: '', type: 'File' as const };
  const header = new Header(fields);
  const needPax = header.encode();
  const block = header.block;
  if (!block) throw new Error(`tar: could not encode a header for ${name}`);
  return needPax ? [new Pax({ path: name, size, mtime }).encode(), block] : [block];
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function* tarChunks(prefix: string, entries: ArchiveEntry[], manifest: string, opts: WriteOptions): AsyncGenerator<Buffer> {
  let written = 0;
  const emit = function* (chunks: Buffer[]): Generator<Buffer> {
    for (const c of chunks) {
      written += c.length;
      yield c;
    }
  };
  for (const entry of entries) {
    yield* emit(tarHeader(`${prefix}/${entry.name}`, entry.size, permissions(entry, opts), entryTime(entry, opts)));
    for await (const chunk of readSource(entry, opts.progress)) yield* emit([chunk as Buffer]);
    yield* emit([padding(entry.size)]);
  }
  const body = Buffer.from(manifest, 'utf8');
  yield* emit(tarHeader(`${prefix}/${MANIFEST_PATH}`, body.length, 0o644, manifestTime(opts)));
  yield* emit([body, padding(body.length)]);
  // Two zero blocks end the archive; then pad to a full record.
  const end = 2 * BLOCK;
  yield* emit([Buffer.alloc(end + ((RECORD - ((written + end) % RECORD)) % RECORD))]);
}

export async function writeTarGz(target: string, prefix: string, entries: ArchiveEntry[], manifest: string, opts: WriteOptions): Promise<void> {
  await writeAtomically(target, async (tmp) => {
    await pipeline(Readable.from(tarChunks(prefix, entries, manifest, opts)), zlib.createGzip(), fs.createWriteStream(tmp));
  });
}

function sameFile(a: string, b: string): boolean {
  const sa = fs.statSync(a, { throwIfNoEntry: false });
  const sb = fs.statSync(b, { throwIfNoEntry: false });
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * The no-archive layout: files copied into `<export>/<model-name>/` (an existing folder is
 * written into, as torch-model-archiver does), then MAR-INF/MANIFEST.json.
 */
export async function writeFolder(target: string, entries: ArchiveEntry[], manifest: string, opts: WriteOptions): Promise<void> {
  const existing = fs.statSync(target, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new ArchiverError(`${target} exists and is not a directory`);
  fs.mkdirSync(target, { recursive: true });
  for (const entry of entries) {
    const dest = path.join(target, ...entry.name.split('/'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (sameFile(entry.source, dest)) {
      opts.progress.advance(entry.size);
      continue;
    }
    await pipeline(readSource(entry, opts.progress), fs.createWriteStream(dest, { mode: permissions(entry, opts) }));
    if (opts.fixedTime) fs.utimesSync(dest, opts.fixedTime, opts.fixedTime);
  }
  const manifestFile = path.join(target, ...MANIFEST_PATH.split('/'));
  fs.mkdirSync(path.dirname(manifestFile), { recursive: true });
  fs.writeFileSync(manifestFile, manifest);
  if (opts.fixedTime) fs.utimesSync(manifestFile, opts.fixedTime, opts.fixedTime);
}
