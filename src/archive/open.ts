import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { invalidModel } from '../errors.js';
import { extractArchive } from './extract.js';
import { manifestWarnings, parseManifest } from './manifest.js';
import { parseModelConfig } from './model-config.js';
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
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
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

async function loadConfig(
  dir: string,
  manifest: Manifest,
  hasManifest: boolean,
): Promise<{ config?: ModelYamlConfig; warnings: string[] }> {
  const named = manifest.model.configFile;
  if (named !== undefined && named !== '') {
    const text = await readIfExists(fileInArchive(dir, named, 'configFile'));
    if (text === undefined) {
      throw invalidModel(`Model config file "${named}" named in ${MANIFEST_PATH} was not found in the model archive`);
    }
    return parseModelConfig(text);
  }
  if (hasManifest) return { warnings: [] };
  const text = await readIfExists(path.join(dir, DEFAULT_CONFIG_FILE));
  return text === undefined ? { warnings: [] } : parseModelConfig(text);
}

async function describe(dir: string, cleanup: () => Promise<void>): Promise<ModelArchive> {
  const manifestText = await readIfExists(path.join(dir, MANIFEST_PATH));
  const manifest = parseManifest(manifestText);
  const { config, warnings } = await loadConfig(dir, manifest, manifestText !== undefined);
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
    return describe(await effectiveFolder(path.resolve(source)), async () => {});
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
    return await describe(dir, cleanup);
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
