/**
 * Turns a register `url` into an opened archive, with TorchServe's rules and texts
 * (spec §3.2 "URL handling"): `..` refused before any I/O, allowed_urls full-match before any
 * download, then a file in the model store or a folder.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { openArchive } from '../archive/index.js';
import type { ModelArchive } from '../archive/types.js';
import { ServeError, downloadFailed, internalError, modelNotFound } from '../errors.js';

export interface SourceContext {
  modelStore?: string;
  allowedUrls: readonly RegExp[];
  tempRoot: string;
  cwd: string;
  /** Told why an archive could not be opened (the client only sees TorchServe's fixed text). */
  onOpenFailure?: (url: string, err: unknown) => void;
}

export interface LocatedModel {
  archive: ModelArchive;
  /** Basename of the archive (or folder) — used for name derivation. */
  fileName: string;
  /** Set when the archive was downloaded into the model store (deleted again on unregister). */
  downloadedTo?: string;
}

const URL_LIKE = /^(?:file?:\/\/.*|https?:\/\/.*)$/i;

function archiveBaseName(url: string): string {
  if (URL_LIKE.test(url)) {
    try {
      return path.posix.basename(new URL(url).pathname);
    } catch {
      // Not parseable: fall through to the plain-string rule.
    }
  }
  return path.basename(url);
}

/** A download may take long (large models), but never forever: start-up waits on it. */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
const MAX_REDIRECTS = 5;

/** Thrown when a redirect leads somewhere allowed_urls does not allow. */
class RedirectRefused extends Error {}

async function download(url: string, target: string, allowed: readonly RegExp[]): Promise<void> {
  if (/^file:/i.test(url)) {
    await fsp.copyFile(fileURLToPath(url), target, fs.constants.COPYFILE_EXCL);
    return;
  }
  const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  let current = url;
  for (let hop = 0; ; hop++) {
    // Redirects are followed by hand so every hop is checked against allowed_urls.
    const res = await fetch(current, { redirect: 'manual', signal });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new Error('too many redirects');
      current = new URL(location, current).href;
      if (!allowed.some((re) => re.test(current))) throw new RedirectRefused(current);
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(target, { flags: 'wx' }), { signal });
    return;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isFile() ?? false;
}

export async function locateModel(url: string, ctx: SourceContext): Promise<LocatedModel> {
  const store = ctx.modelStore;
  if (!store) throw modelNotFound('Model store has not been configured.');
  if (!url) throw modelNotFound('empty url');
  if (url.includes('..')) throw modelNotFound(`Relative path is not allowed in url: ${url}`);

  const fileName = archiveBaseName(url);
  let downloadedTo: string | undefined;
  if (ctx.allowedUrls.some((re) => re.test(url))) {
    if (!fileName || fileName.includes('/') || fileName.includes('\\')) throw downloadFailed(`Failed to download archive from: ${url}`);
    const target = path.join(store, fileName);
    if (fs.existsSync(target)) throw internalError(`Model file already exists ${fileName}`);
    try {
      await download(url, target, ctx.allowedUrls);
    } catch (err) {
      await fsp.rm(target, { force: true });
      if (err instanceof RedirectRefused) throw modelNotFound(`Given URL ${err.message} does not match any allowed URL(s)`);
      throw downloadFailed(`Failed to download archive from: ${url}`);
    }
    downloadedTo = target;
  } else if (URL_LIKE.test(url)) {
    throw modelNotFound(`Given URL ${url} does not match any allowed URL(s)`);
  }

  const storeFile = path.join(store, fileName);
  let source: string | undefined;
  if (fileName && (await isFile(storeFile))) source = storeFile;
  else if (!URL_LIKE.test(url) && (await isDirectory(path.resolve(ctx.cwd, url)))) source = path.resolve(ctx.cwd, url);
  else if (!URL_LIKE.test(url) && (await isDirectory(path.join(store, url)))) source = path.join(store, url);
  if (!source) throw modelNotFound(`Model not found at: ${url}`);

  try {
    const archive = await openArchive(source, { tempRoot: ctx.tempRoot });
    return { archive, fileName, downloadedTo };
  } catch (err) {
    if (downloadedTo) await fsp.rm(downloadedTo, { force: true });
    if (err instanceof ServeError) throw err;
    ctx.onOpenFailure?.(url, err);
    // Hostile entries (zip slip, links) and unreadable archives: TorchServe's reply.
    throw internalError(`Failed to save model: ${url}`);
  }
}
