import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
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

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

interface PlannedEntry {
  entry: Entry;
  target: string;
  isDir: boolean;
}

function openZip(file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings=false: yauzl would otherwise rewrite `\` to `/` or reject names with its own
    // message; we decode names ourselves and refuse with TorchServe's text.
    yauzl.open(
      file,
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true },
      (err, zip) => {
        if (err || !zip) {
          reject(new Error(`Failed to open model archive ${path.basename(file)}: not a valid zip file (${err?.message})`));
        } else resolve(zip);
      },
    );
  });
}

/** Reads the whole central directory (no file data yet), stopping early past maxEntries. */
function readEntries(zip: ZipFile, maxEntries: number): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('error', reject);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      if (entries.length > maxEntries) return reject(tooManyEntries(maxEntries));
      zip.readEntry();
    });
    zip.readEntry();
  });
}

function entryName(entry: Entry): string {
  // strictFileNames=true keeps backslashes so that isUnsafeEntryName can refuse them.
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

/** Validates one entry (name, file type) and computes where it goes; throws before anything is written. */
function plan(entry: Entry, dest: string): PlannedEntry {
  const name = entryName(entry);
  if (isUnsafeEntryName(name)) throw ArchiveSecurityError.zipSlip(name);
  const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
  // Symlinks (0o120000) and device/fifo/socket entries are refused; 0 means "no unix mode recorded".
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) throw ArchiveSecurityError.zipSlip(name);
  if (entry.isEncrypted()) throw new Error(`Encrypted zip entries are not supported: ${name}`);
  const isDir = name.endsWith('/');
  const target = outputPath(dest, name, name);
  if (!isDir && target === dest) throw ArchiveSecurityError.zipSlip(name);
  return { entry, target, isDir };
}

function openEntryStream(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/**
 * Extracts a .mar (zip) into `dest` (an existing empty folder). Every entry is validated from the
 * central directory before the first byte is written; sizes are then enforced while streaming
 * (yauzl checks each entry against its header, the budget checks the total).
 */
export async function extractZipInto(file: string, dest: string, limits?: ExtractLimits): Promise<void> {
  const { maxUnpackedBytes, maxEntries } = resolveLimits(limits);
  const zip = await openZip(file);
  try {
    if (zip.entryCount > maxEntries) throw tooManyEntries(maxEntries);
    const planned = (await readEntries(zip, maxEntries)).map((e) => plan(e, dest));
    const declared = planned.reduce((sum, p) => sum + p.entry.uncompressedSize, 0);
    if (declared > maxUnpackedBytes) throw tooLarge(maxUnpackedBytes);

    const budget = new ByteBudget(maxUnpackedBytes);
    for (const { entry, target, isDir } of planned) {
      if (isDir) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const input = await openEntryStream(zip, entry);
      // yauzl checks an entry's byte count inside its own stream chain and can report a lying
      // header after pipeline() has already failed on our budget and let go of the stream: keep a
      // listener so that late error is not an uncaught exception (a crafted archive must not kill the server).
      input.on('error', () => undefined);
      const out = await open(target, WRITE_FLAGS, 0o644).catch((e: unknown) => {
        input.destroy();
        throw e;
      });
      await pipeline(input, budget.counter(), out.createWriteStream());
    }
  } finally {
    zip.close();
  }
}
