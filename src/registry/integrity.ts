/**
 * Archive integrity (issue 8): the SHA-256 of what a version was loaded from — an archive file's
 * bytes, or for a folder a digest over its files' relative paths and contents in sorted order —
 * and the pins it must match: `sha256` in the `models` config, and an optional `SHA256SUMS` file
 * in the model store (`sha256sum` format: `<hex>  <file name>`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { invalidModel, type ServeError } from '../errors.js';

export const CHECKSUM_FILE = 'SHA256SUMS';

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Regular files under `dir`, as sorted POSIX relative paths (links are not followed). */
async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

export async function sha256OfSource(source: string): Promise<string> {
  const st = await fsp.stat(source);
  if (st.isFile()) return hashFile(source);
  const h = createHash('sha256');
  for (const rel of await filesUnder(source)) h.update(`${rel}\0${await hashFile(path.join(source, rel))}\n`);
  return h.digest('hex');
}

/** The store's SHA256SUMS pin for `fileName`, if the file exists and names it. */
export async function storePin(store: string, fileName: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(store, CHECKSUM_FILE), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim());
    if (m && m[2] === fileName) return m[1]!.toLowerCase();
  }
  return undefined;
}

export function integrityError(what: string, actual: string, expected: string, where: string): ServeError {
  return invalidModel(`Integrity check failed for ${what}: SHA-256 ${actual} does not match ${expected} pinned in ${where}`);
}
