import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';

export const DEFAULT_MAX_UNPACKED_BYTES = 4 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 10_000;

/** Write flags for extracted files: never follow a link at the last component (belt and braces; we create none). */
export const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | (fsc.O_NOFOLLOW ?? 0);

/** Limits that stop zip/gzip bombs. */
export interface ExtractLimits {
  /** Total uncompressed bytes allowed (default 4 GiB). For tar.gz this is the whole decompressed tar stream. */
  maxUnpackedBytes?: number;
  /** Entries allowed, directories included (default 10000). */
  maxEntries?: number;
}

/**
 * A hostile or oversized archive. The whole archive is refused, never "repaired": TorchServe
 * raises IOException(`Detected Zip Slip vulnerability: <entry>`) and answers 500 `Failed to save model`.
 */
export class ArchiveSecurityError extends Error {
  constructor(
    message: string,
    /** The offending entry name, raw, when one entry is to blame. */
    readonly entryName?: string,
  ) {
    super(message);
    this.name = 'ArchiveSecurityError';
  }

  static zipSlip(entryName: string): ArchiveSecurityError {
    // Control characters (NUL...) are escaped so the text is safe to log.
    const shown = entryName.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return new ArchiveSecurityError(`Detected Zip Slip vulnerability: ${shown}`, entryName);
  }
}

/**
 * True when an archive entry name could land outside the destination on any platform:
 * empty, NUL, any backslash (a separator on Windows, `\\host` UNC), absolute (`/x`, `C:`), or a `..` segment.
 */
export function isUnsafeEntryName(name: string): boolean {
  if (name === '' || name.includes('\0') || name.includes('\\')) return true;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return true;
  return name.split('/').includes('..');
}

/** True when `target` (absolute) is `root` itself or below it, lexically. */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Output path for a validated relative name; the path.relative check is a second fence
 * behind isUnsafeEntryName, so a gap in one is caught by the other.
 */
export function outputPath(dest: string, relName: string, rawName: string): string {
  const target = path.resolve(dest, relName);
  if (!isInside(dest, target)) throw ArchiveSecurityError.zipSlip(rawName);
  return target;
}

export function resolveLimits(limits: ExtractLimits = {}): Required<ExtractLimits> {
  return {
    maxUnpackedBytes: limits.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    maxEntries: limits.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
}

export const tooManyEntries = (max: number) =>
  new ArchiveSecurityError(`Archive has more than ${max} entries; refusing to extract it`);

export const tooLarge = (max: number) =>
  new ArchiveSecurityError(`Archive unpacks to more than ${max} bytes; refusing to extract it`);

/** Shared byte budget across all streams of one extraction. */
export class ByteBudget {
  used = 0;
  constructor(readonly max: number) {}

  /** A pass-through stream that fails once the budget is exceeded (counts real bytes, not headers). */
  counter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) => {
        this.used += chunk.length;
        if (this.used > this.max) done(tooLarge(this.max));
        else done(null, chunk);
      },
    });
  }
}
