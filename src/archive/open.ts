import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { invalidModel } from '../errors.js';
import { extractArchive } from './extract.js';
import { manifestWarnings, parseManifest } from './manifest.js';
import { MAX_MODEL_CONFIG_CODE_POINTS, parseModelConfig, tooManyCodePoints } from './model-config.js';
import { isInside } from './safe-path.js';
import type { Manifest, ModelArchive, ModelYamlConfig } from './types.js';

export const MANIFEST_PATH = 'MAR-INF/MANIFEST.json';
/** Only read when there is no manifest at all (a bare folder); TorchServe itself needs `configFile`. */
export const DEFAULT_CONFIG_FILE = 'model-config.yaml';

export interface OpenArchiveOptions {
  /** Root for private extraction folders (`<tempRoot>/models/<32 hex>/`), like java.io.tmpdir. */
  tempRoot: string;
  /** Zip/gzip bomb limit, default 4 GiB. */
  maxUnpackedBytes?: number;
  /** Entry-count limit, default 10000. */
  maxEntries?: number;
  /** MAR-INF/MANIFEST.json size limit in bytes, default DEFAULT_MAX_MANIFEST_BYTES. */
  maxManifestBytes?: number;
  /** model-config.yaml size limit in code points, default MAX_MODEL_CONFIG_CODE_POINTS. */
  maxConfigCodePoints?: number;
}

/** MAR-INF/MANIFEST.json larger than this is refused (the archiver writes a few hundred bytes). */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;

type Read = { text: string } | { tooLarge: true } | undefined;

/**
 * A file's text, `undefined` when it does not exist, `{ tooLarge }` (unread) past `maxBytes`.
 * Only regular files are read: anything else is an error for the caller's 500.
 */
async function readCapped(file: string, maxBytes: number): Promise<Read> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${path.basename(file)} is not a regular file`);
    if (st.size > maxBytes) return { tooLarge: true };
    return { text: await fh.readFile('utf8') };
  } finally {
    await fh.close();
  }
}

function isFileSync(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A manifest path value (configFile, serializedFile) resolved inside `dir`, or invalidModel. */
function fileInArchive(dir: string, value: string, key: string): string {
  const target = path.resolve(dir, value);
  if (value.includes('\0') || path.isAbsolute(value) || target === dir || !isInside(dir, target)) {
    throw invalidModel(`Invalid ${key} "${value}" in ${MANIFEST_PATH}: the path must stay inside the model archive`);
  }
  return target;
}

/** TorchServe uses a folder's only sub-directory when it holds nothing else (e.g. an unpacked tgz). */
async function effectiveFolder(dir: string): Promise<string> {
  const names = await readdir(dir);
  if (names.length !== 1 || names[0] === 'MAR-INF') return dir;
  const only = path.join(dir, names[0] ?? '');
  return (await stat(only)).isDirectory() ? only : dir;
}

/** Reads and parses a model-config.yaml; one too big to be worth reading counts as a parse failure (config absent). */
async function readConfig(file: string, maxCodePoints: number): Promise<ReturnType<typeof parseModelConfig> | undefined> {
  // UTF-8 takes at most 4 bytes per code point: a file past that cannot be within the limit.
  const read = await readCapped(file, maxCodePoints * 4);
  if (read === undefined) return undefined;
  if ('tooLarge' in read) return { warnings: [`Failed to parse model config yaml file: ${tooManyCodePoints(maxCodePoints)}`] };
  return parseModelConfig(read.text, { maxCodePoints });
}

async function loadConfig(
  dir: string,
  manifest: Manifest,
  hasManifest: boolean,
  maxCodePoints: number,
): Promise<{ config?: ModelYamlConfig; warnings: string[] }> {
  const named = manifest.model.configFile;
  if (named !== undefined && named !== '') {
    const parsed = await readConfig(fileInArchive(dir, named, 'configFile'), maxCodePoints);
    if (parsed === undefined) {
      throw invalidModel(`Model config file "${named}" named in ${MANIFEST_PATH} was not found in the model archive`);
    }
    return parsed;
  }
  if (hasManifest) return { warnings: [] };
  return (await readConfig(path.join(dir, DEFAULT_CONFIG_FILE), maxCodePoints)) ?? { warnings: [] };
}

async function describe(dir: string, cleanup: () => Promise<void>, options: OpenArchiveOptions): Promise<ModelArchive> {
  const maxManifest = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  const read = await readCapped(path.join(dir, MANIFEST_PATH), maxManifest);
  if (read !== undefined && 'tooLarge' in read) throw invalidModel(`${MANIFEST_PATH} is larger than ${maxManifest} bytes`);
  const manifestText = read?.text;
  const manifest = parseManifest(manifestText);
  const { config, warnings } = await loadConfig(dir, manifest, manifestText !== undefined, options.maxConfigCodePoints ?? MAX_MODEL_CONFIG_CODE_POINTS);
  const archive: ModelArchive = {
    dir,
    manifest,
    warnings: [...(manifestText === undefined ? [] : manifestWarnings(manifest)), ...warnings],
    cleanup,
  };
  if (config) archive.config = config;
  return archive;
}

/**
 * Opens a model from an absolute path (spec §3.2 steps 6-9): a folder is used in place; a `.mar`
 * file is unzipped and any other file un-tar-gzipped into a fresh private folder, which
 * `cleanup()` removes. Extraction failures (hostile or broken archives) are thrown as they come,
 * for the caller to answer 500 `Failed to save model: <url>`; manifest/config problems are
 * InvalidModelException ServeErrors.
 */
export async function openArchive(source: string, options: OpenArchiveOptions): Promise<ModelArchive> {
  if ((await stat(source)).isDirectory()) {
    return describe(await effectiveFolder(path.resolve(source)), async () => {}, options);
  }

  const parent = path.resolve(options.tempRoot, 'models');
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = path.join(parent, randomBytes(16).toString('hex'));
  await extractArchive(source, dir, {
    maxUnpackedBytes: options.maxUnpackedBytes,
    maxEntries: options.maxEntries,
  });
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    return await describe(dir, cleanup, options);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

const ONLY_ONNX = 'only ONNX models (.onnx) can be served';

/**
 * Absolute path of the `.onnx` file to load: the manifest's `serializedFile` when set, else the
 * single `*.onnx` file at the archive root.
 */
export function resolveModelFile(archive: ModelArchive): string {
  const named = archive.manifest.model.serializedFile;
  if (named !== undefined && named !== '') {
    const file = fileInArchive(archive.dir, named, 'serializedFile');
    if (!named.toLowerCase().endsWith('.onnx')) {
      throw invalidModel(`serializedFile "${named}" is not an ONNX model: ${ONLY_ONNX}`);
    }
    if (!isFileSync(file)) {
      throw invalidModel(`serializedFile "${named}" named in ${MANIFEST_PATH} was not found in the model archive`);
    }
    return file;
  }
  const found = readdirSync(archive.dir)
    .filter((n) => n.toLowerCase().endsWith('.onnx') && isFileSync(path.join(archive.dir, n)))
    .sort();
  if (found.length === 1) return path.join(archive.dir, found[0] ?? '');
  if (found.length === 0) {
    throw invalidModel(
      `No ONNX model found in archive: expected serializedFile in ${MANIFEST_PATH} or one .onnx file at the archive root (${ONLY_ONNX})`,
    );
  }
  throw invalidModel(
    `Several .onnx files found in archive (${found.join(', ')}): set serializedFile in ${MANIFEST_PATH} to choose one`,
  );
}
