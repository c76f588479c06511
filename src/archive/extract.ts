import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { extractTarGzInto } from './extract-tar.js';
import { extractZipInto } from './extract-zip.js';
import type { ExtractLimits } from './safe-path.js';

export {
  ArchiveSecurityError,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_UNPACKED_BYTES,
  type ExtractLimits,
} from './safe-path.js';

/**
 * Creates `dest` (which must not exist yet, so that we only ever delete what we made), mode 0700,
 * runs `fill`, and removes `dest` again if anything fails.
 */
async function intoFreshFolder(dest: string, fill: (dest: string) => Promise<void>): Promise<void> {
  const abs = path.resolve(dest);
  await mkdir(path.dirname(abs), { recursive: true });
  await mkdir(abs, { mode: 0o700 });
  try {
    await fill(abs);
  } catch (e) {
    await rm(abs, { recursive: true, force: true });
    throw e;
  }
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Unzips a .mar into the new folder `dest`; hostile entries throw ArchiveSecurityError. */
export function extractZip(file: string, dest: string, limits?: ExtractLimits): Promise<void> {
  return intoFreshFolder(dest, (d) => extractZipInto(file, d, limits));
}

/** Un-tar-gzips into the new folder `dest`, dropping the first path component of every entry. */
export async function extractTarGz(file: string, dest: string, limits?: ExtractLimits): Promise<void> {
  if (!(await isGzip(file))) {
    throw new Error(`Failed to open model archive ${path.basename(file)}: not a gzip-compressed tar file`);
  }
  return intoFreshFolder(dest, (d) => extractTarGzInto(file, d, limits));
}

/** TorchServe's rule: a file ending `.mar` is a zip, any other file is a tar.gz. */
export function extractArchive(file: string, dest: string, limits?: ExtractLimits): Promise<void> {
  return file.endsWith('.mar') ? extractZip(file, dest, limits) : extractTarGz(file, dest, limits);
}
