/**
 * Turns a register `url` into an opened archive, with TorchServe's rules and texts
 * (spec §3.2 "URL handling"): `..` refused before any I/O, allowed_urls full-match before any
 * download, then a file in the model store or a folder.
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_UNPACKED_BYTES, type ExtractLimits, openArchive } from '../archive/index.js';
import type { ModelArchive } from '../archive/types.js';
import { ServeError, downloadFailed, internalError, modelNotFound } from '../errors.js';
import { CHECKSUM_FILE, integrityError, sha256OfSource, storePin } from './integrity.js';

export interface SourceContext {
  modelStore?: string;
  /** Refuse the archive unless its SHA-256 is this (checked before it is opened). */
  expectedSha256?: ExpectedSha256;
  allowedUrls: readonly RegExp[];
  tempRoot: string;
  cwd: string;
  /** Download size limit in bytes (default DEFAULT_MAX_DOWNLOAD_BYTES). */
  maxDownloadBytes?: number;
  /** Download time limit in ms, redirects included (default DEFAULT_DOWNLOAD_TIMEOUT_MS). */
  downloadTimeoutMs?: number;
  /** Zip/gzip bomb limits for extraction (defaults: the archive module's). */
  extractLimits?: ExtractLimits;
  /** Told why an archive could not be opened (the client only sees TorchServe's fixed text). */
  onOpenFailure?: (url: string, err: unknown) => void;
  /** Told why a download failed (the client only sees TorchServe's fixed text). */
  onDownloadFailure?: (url: string, err: unknown) => void;
}

export interface LocatedModel {
  archive: ModelArchive;
  /** Basename of the archive (or folder) — used for name derivation. */
  fileName: string;
  /** Set when the archive was downloaded into the model store (deleted again on unregister). */
  downloadedTo?: string;
  /** SHA-256 of the archive file (or folder digest) it was loaded from (integrity.ts). */
  sha256: string;
}

/** A pin known before the archive is opened (a restored snapshot's). */
export interface ExpectedSha256 {
  value: string;
  where: string;
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

/** Downloads bigger than this are cut off (a model archive never unpacks to more than the extraction limit anyway). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = DEFAULT_MAX_UNPACKED_BYTES;
/** A download may take long (large models), but never forever: start-up waits on it. */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
const MAX_REDIRECTS = 5;

/** Thrown when a redirect leads somewhere allowed_urls does not allow. */
class RedirectRefused extends Error {}

/** Why a download stopped, for the log (the client only sees TorchServe's fixed text). */
class DownloadError extends Error {}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21' };

/**
 * The forms of `url` that allowed_urls must accept: the text as given (TorchServe's rule) and the
 * URL that is actually fetched, after WHATWG normalisation. `http://h/models/%2e%2e/x` is fetched
 * as `http://h/x` and `http://h/models\.%2e\x` as `http://h/x`, so a pattern for `/models/.*`
 * must not let them through. An explicit default port (`:443`) that normalisation drops is kept.
 */
function fetchedForms(url: string): string[] | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const forms = [parsed.href];
  const explicitPort = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#\\@]*@)?(?:\[[^\]]*\]|[^/?#\\:]*):(\d+)(?=[/?#\\]|$)/i.exec(url)?.[1];
  if (explicitPort !== undefined && parsed.port === '' && Number(explicitPort) === Number(DEFAULT_PORTS[parsed.protocol])) {
    const auth = parsed.username ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@` : '';
    forms.push(`${parsed.protocol}//${auth}${parsed.hostname}:${explicitPort}${parsed.pathname}${parsed.search}${parsed.hash}`);
  }
  return forms;
}

/**
 * allowed_urls: every pattern is a case-insensitive full match (anchored when the config is read).
 * The url must match as given and as it will be fetched (see fetchedForms); a url that does not
 * parse can only fail to download, so the text match decides for it.
 */
export function matchesAllowedUrls(url: string, allowed: readonly RegExp[]): boolean {
  // A global or sticky pattern would carry lastIndex from one test to the next (the config's are neither).
  const patterns = allowed.map((re) => (re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re));
  const matches = (u: string) => patterns.some((re) => re.test(u));
  if (!matches(url)) return false;
  const forms = fetchedForms(url);
  return forms === undefined || forms.some(matches);
}

export interface DownloadOptions {
  allowedUrls: readonly RegExp[];
  /** Bytes allowed (default DEFAULT_MAX_DOWNLOAD_BYTES); more fails the download. */
  maxBytes?: number;
  /** Wall-clock limit for the whole download, redirects included (default DEFAULT_DOWNLOAD_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** A pass-through that fails once more than `max` bytes went through. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > max) done(new DownloadError(`the download is larger than ${max} bytes`));
      else done(null, chunk);
    },
  });
}

/** Copies a file: URL's file (a regular file only: never a FIFO, device or folder). */
async function copyLocalFile(url: string, out: FileHandle, max: number, signal: AbortSignal): Promise<void> {
  // O_NONBLOCK: opening a FIFO must not hang a thread-pool thread waiting for a writer.
  const src = await fsp.open(fileURLToPath(url), fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const st = await src.stat();
    if (!st.isFile()) throw new DownloadError('not a regular file');
    if (st.size > max) throw new DownloadError(`the file is larger than ${max} bytes`);
    await pipeline(src.createReadStream(), byteLimit(max), out.createWriteStream(), { signal });
  } finally {
    await src.close();
  }
}

/**
 * Writes the archive at `url` (http, https or file) into `out`. Redirects are followed by hand, at
 * most MAX_REDIRECTS, each hop checked against allowed_urls before it is requested (a refused hop
 * throws RedirectRefused). Size and time are limited; any failure throws, leaving `out` partly
 * written for the caller to remove.
 */
export async function downloadInto(url: string, out: FileHandle, opts: DownloadOptions): Promise<void> {
  const max = opts.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS);
  if (/^file:/i.test(url)) return copyLocalFile(url, out, max, signal);
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await fetch(current, { redirect: 'manual', signal });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new DownloadError('too many redirects');
      const next = new URL(location, current);
      if (!matchesAllowedUrls(next.href, opts.allowedUrls)) throw new RedirectRefused(next.href);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new DownloadError(`redirect to a ${next.protocol} URL`);
      current = next.href;
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new DownloadError(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      await res.body.cancel();
      throw new DownloadError(`Content-Length ${declared} is larger than ${max} bytes`);
    }
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    await pipeline(body, byteLimit(max), out.createWriteStream(), { signal });
    return;
  }
}

/** Removes a (partial) download; a failure is logged, never thrown (its text would name the model store). */
async function removeDownload(file: string, url: string, ctx: SourceContext): Promise<void> {
  await fsp.rm(file, { force: true }).catch((err: unknown) => ctx.onDownloadFailure?.(url, err));
}

/**
 * Downloads into `<store>/<fileName>`, created here exclusively (an existing file, even one another
 * registration is downloading right now, is TorchServe's 500 and is never touched). On any failure
 * the partial file is removed before the error is thrown.
 */
async function downloadToStore(url: string, target: string, fileName: string, ctx: SourceContext): Promise<void> {
  let out: FileHandle;
  try {
    out = await fsp.open(target, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw internalError(`Model file already exists ${fileName}`);
    ctx.onDownloadFailure?.(url, err);
    throw downloadFailed(`Failed to download archive from: ${url}`);
  }
  try {
    await downloadInto(url, out, {
      allowedUrls: ctx.allowedUrls,
      ...(ctx.maxDownloadBytes === undefined ? {} : { maxBytes: ctx.maxDownloadBytes }),
      ...(ctx.downloadTimeoutMs === undefined ? {} : { timeoutMs: ctx.downloadTimeoutMs }),
    });
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    await removeDownload(target, url, ctx);
    if (err instanceof RedirectRefused) throw modelNotFound(`Given URL ${err.message} does not match any allowed URL(s)`);
    ctx.onDownloadFailure?.(url, err);
    throw downloadFailed(`Failed to download archive from: ${url}`);
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
  if (matchesAllowedUrls(url, ctx.allowedUrls)) {
    if (!fileName || fileName.includes('/') || fileName.includes('\\')) throw downloadFailed(`Failed to download archive from: ${url}`);
    const target = path.join(store, fileName);
    if (fs.existsSync(target)) throw internalError(`Model file already exists ${fileName}`);
    await downloadToStore(url, target, fileName, ctx);
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

  // Integrity before anything is unpacked: the store's SHA256SUMS may pin this file.
  let sha256: string;
  try {
    sha256 = await sha256OfSource(source);
  } catch (err) {
    if (downloadedTo) await removeDownload(downloadedTo, url, ctx);
    ctx.onOpenFailure?.(url, err);
    throw internalError(`Failed to save model: ${url}`);
  }
  const storePinned = await storePin(store, fileName);
  for (const pin of [ctx.expectedSha256, storePinned === undefined ? undefined : { value: storePinned, where: CHECKSUM_FILE }]) {
    if (pin && pin.value !== sha256) {
      if (downloadedTo) await removeDownload(downloadedTo, url, ctx);
      throw integrityError(fileName, sha256, pin.value, pin.where);
    }
  }
  try {
    const archive = await openArchive(source, { tempRoot: ctx.tempRoot, ...ctx.extractLimits });
    return { archive, fileName, downloadedTo, sha256 };
  } catch (err) {
    if (downloadedTo) await removeDownload(downloadedTo, url, ctx);
    if (err instanceof ServeError) throw err;
    ctx.onOpenFailure?.(url, err);
    // Hostile entries (zip slip, links) and unreadable archives: TorchServe's reply.
    throw internalError(`Failed to save model: ${url}`);
  }
}
