import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import {
  ArchiveSecurityError,
  ByteBudget,
  type ExtractLimits,
  isUnsafeEntryName,
  outputPath,
  resolveLimits,
  tooLarge,
  tooManyEntries,
  WRITE_FLAGS,
} from './safe-path.js';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

interface TarPlan {
  /** Where the entry goes, or undefined for the stripped root folder itself. */
  target?: string;
  isDir: boolean;
}

/**
 * Validates one tar entry and maps it like TorchServe's `decompressTarGzipFile`: everything up to
 * and including the first `/` is dropped (the archiver nests all files under `<model-name>/`).
 * The raw name is checked before stripping, so `../x` or `/etc/x` is refused, not neutralised.
 */
function planTarEntry(entry: ReadEntry, dest: string): TarPlan {
  const raw = entry.path;
  const isDir = entry.type === 'Directory';
  // Links, devices, fifos and anything tar does not know are refused outright.
  if (!isDir && !FILE_TYPES.has(entry.type)) throw ArchiveSecurityError.zipSlip(raw);
  if (isUnsafeEntryName(raw)) throw ArchiveSecurityError.zipSlip(raw);
  const rel = raw.slice(raw.indexOf('/') + 1);
  const target = outputPath(dest, rel, raw);
  if (target === dest) {
    if (isDir) return { isDir };
    throw new Error(`Invalid archive entry (a file without a name): ${raw}`);
  }
  return { target, isDir };
}

/** Refuses a second compression layer inside the gzip: tar's parser would silently unpack it, past our byte budget. */
function refuseNestedCompression(): Transform {
  let head = Buffer.alloc(0);
  let checked = false;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      if (!checked) {
        head = Buffer.concat([head, chunk]).subarray(0, 4);
        if (head.length >= 2) {
          checked = true;
          if (head[0] === 0x1f && head[1] === 0x8b) return done(new Error('Nested compression inside the tar.gz is not supported'));
        }
      }
      done(null, chunk);
    },
  });
}

type EntryHandler = (entry: ReadEntry) => Promise<void> | void;

/**
 * Streams the gzip'd tar at `file` through a byte budget into tar's Parser (strict: every tar
 * warning is an error), calling `onEntry` for each entry in order. Rejects on the first failure
 * from the handler, tar, zlib or the limits.
 */
async function walkTar(file: string, maxBytes: number, maxEntries: number, onEntry: EntryHandler): Promise<void> {
  const source = createReadStream(file);
  const pending: Promise<void>[] = [];
  let failure: unknown;
  let entries = 0;

  await new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      source.destroy();
      reject(err);
    };
    // zstd/brotli off: only the gzip layer we decompress (and count) ourselves is accepted.
    const parser = new Parser({ strict: true, zstd: false, brotli: false });
    parser.on('entry', (entry: ReadEntry) => {
      if (failure !== undefined) return void entry.resume();
      try {
        if (++entries > maxEntries) throw tooManyEntries(maxEntries);
        const result = onEntry(entry);
        if (result) pending.push(result.catch(fail));
      } catch (e) {
        entry.resume();
        fail(e);
      }
    });
    // tar skips unknown entry types and oversized pax headers; we refuse the archive instead.
    parser.on('ignoredEntry', (entry: ReadEntry) => fail(ArchiveSecurityError.zipSlip(entry.path)));
    parser.on('error', fail);
    parser.on('end', () => resolve());

    // tar's Parser is not a Node stream: adapt it so pipeline() carries backpressure and errors.
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (parser.write(chunk)) cb();
        else parser.once('drain', () => cb());
      },
      final(cb) {
        parser.end();
        cb();
      },
    });
    pipeline(source, createGunzip(), new ByteBudget(maxBytes).counter(), refuseNestedCompression(), sink).catch(fail);
  });
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
}

async function writeTarEntry(entry: ReadEntry, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const out = await open(target, WRITE_FLAGS, 0o644);
  const ws = out.createWriteStream();
  entry.pipe(ws);
  await finished(ws);
}

/**
 * Extracts a gzip'd tar into `dest` (an existing empty folder) in two passes over the file: the
 * first validates every entry and the declared sizes without writing; the second re-validates
 * (the file could change in between) and writes.
 */
export async function extractTarGzInto(file: string, dest: string, limits?: ExtractLimits): Promise<void> {
  const { maxUnpackedBytes, maxEntries } = resolveLimits(limits);
  let declared = 0;
  await walkTar(file, maxUnpackedBytes, maxEntries, (entry) => {
    planTarEntry(entry, dest);
    declared += entry.size ?? 0;
    if (declared > maxUnpackedBytes) throw tooLarge(maxUnpackedBytes);
    entry.resume();
  });
  await walkTar(file, maxUnpackedBytes, maxEntries, async (entry) => {
    const { target, isDir } = planTarEntry(entry, dest);
    if (target === undefined || isDir) {
      entry.resume();
      if (target !== undefined) await mkdir(target, { recursive: true });
      return;
    }
    await writeTarEntry(entry, target);
  });
}
