/**
 * Snapshot files on disk: the newest complete one (older ones are the fallback when the newest is
 * damaged), and atomic, never-overwriting writes (a crash mid-write leaves no partial snapshot).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseSnapshotFile, snapshotStamp, type ModelSnapshot } from './format.js';

/** `${LOG_LOCATION:-logs}/config`, relative to the server's working folder (spec §8). */
export function snapshotDir(cwd: string, logLocation: string): string {
  return path.resolve(cwd, logLocation, 'config');
}

export interface FoundSnapshot {
  file: string;
  properties: Record<string, string>;
  snapshot: ModelSnapshot;
}

export interface SnapshotSearch {
  /** The newest snapshot file that parses completely. */
  found?: FoundSnapshot;
  /** Newer files that were not complete snapshots, and why (to be reported). */
  skipped: string[];
}

export function latestSnapshot(dir: string): SnapshotSearch {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { skipped: [] };
  }
  const candidates = names
    .map((name) => ({ name, stamp: snapshotStamp(name) }))
    .filter((c): c is { name: string; stamp: string } => c.stamp !== undefined)
    .sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
  const skipped: string[] = [];
  for (const { name } of candidates) {
    const file = path.join(dir, name);
    try {
      return { found: { file, ...parseSnapshotFile(fs.readFileSync(file, 'utf8')) }, skipped };
    } catch (e) {
      skipped.push(`${file}: ${(e as Error).message}`);
    }
  }
  return { skipped };
}

/**
 * Writes `content` as `dir/name`, atomically: a private temp file linked into place, so readers
 * see a whole file or none, and an existing snapshot of the same name is kept (TorchServe skips
 * it too). Returns false when the name was taken.
 */
export function writeSnapshot(dir: string, name: string, content: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.linkSync(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
