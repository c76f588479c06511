import { invalidModel } from '../errors.js';
import type { Manifest } from './types.js';

/** Runtimes TorchServe's Gson enum accepts (case-sensitive); anything else deserialises to null. */
export const VALID_RUNTIMES: readonly string[] = ['python', 'python3', 'LSP'];

const PARSE_ERROR = 'Failed to parse signature.json.';

type ModelKey = keyof Manifest['model'];
const MODEL_KEYS: readonly ModelKey[] = [
  'modelName',
  'modelVersion',
  'serializedFile',
  'handler',
  'modelFile',
  'requirementsFile',
  'configFile',
  'envelope',
  'description',
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Gson's String adapter is lenient: numbers and booleans become their text, null stays null,
 * objects/arrays are a syntax error (which TorchServe reports as the parse failure).
 */
function stringField(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalidModel(PARSE_ERROR);
}

/**
 * Parses MAR-INF/MANIFEST.json the way TorchServe does (Gson into `Manifest`, then `validate()`).
 * `undefined` (no manifest file) yields the defaults. Unknown keys are ignored.
 * Name/version presence is not checked here: those can still come from the API or the file name.
 */
export function parseManifest(text: string | undefined): Manifest {
  if (text === undefined) return { runtime: 'python', model: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw invalidModel(PARSE_ERROR);
  }
  if (!isObject(raw)) throw invalidModel(PARSE_ERROR);

  // Gson keeps constructor defaults for absent keys, but an explicit null overwrites them.
  if (raw.model === null) throw invalidModel('Missing Model entry in manifest file.');
  if (raw.model !== undefined && !isObject(raw.model)) throw invalidModel(PARSE_ERROR);
  const rawModel: Record<string, unknown> = isObject(raw.model) ? raw.model : {};

  const model: Manifest['model'] = {};
  for (const key of MODEL_KEYS) {
    const value = stringField(rawModel[key]);
    if (value !== undefined) model[key] = value;
  }

  let runtime: string | undefined = 'python';
  if ('runtime' in raw) {
    runtime = typeof raw.runtime === 'string' && VALID_RUNTIMES.includes(raw.runtime) ? raw.runtime : undefined;
  }
  if (runtime === undefined) throw invalidModel('Runtime is not defined or invalid.');

  const manifest: Manifest = { runtime, model };
  const createdOn = stringField(raw.createdOn);
  const description = stringField(raw.description);
  const archiverVersion = stringField(raw.archiverVersion);
  if (createdOn !== undefined) manifest.createdOn = createdOn;
  if (description !== undefined) manifest.description = description;
  if (archiverVersion !== undefined) manifest.archiverVersion = archiverVersion;
  return manifest;
}

/** Warnings TorchServe logs for manifests written by very old archivers. */
export function manifestWarnings(m: Manifest): string[] {
  const out: string[] = [];
  if (m.archiverVersion === undefined) {
    out.push('Model archive version is not defined. Please upgrade to torch-model-archiver 0.2.0 or higher');
  }
  if (m.createdOn === undefined) {
    out.push('Model archive createdOn is not defined. Please upgrade to torch-model-archiver 0.2.0 or higher');
  }
  return out;
}

/** Key order used by torch-model-archiver's Manifest.__to_dict__. */
const MODEL_ORDER: readonly ModelKey[] = [
  'modelName',
  'serializedFile',
  'handler',
  'modelFile',
  'modelVersion',
  'description',
  'requirementsFile',
  'configFile',
  'envelope',
];

/**
 * Serialises a manifest like Python's `json.dumps(obj, indent=2)` (archiver key order, 2-space
 * indent, `", "`/`": "` separators, non-ASCII escaped as \uXXXX, no trailing newline).
 */
export function manifestToJson(m: Manifest): string {
  const model: Record<string, string> = {};
  for (const key of MODEL_ORDER) {
    const value = m.model[key];
    if (value !== undefined) model[key] = value;
  }
  const out: Record<string, unknown> = {};
  if (m.createdOn !== undefined) out.createdOn = m.createdOn;
  out.runtime = m.runtime;
  out.model = model;
  if (m.archiverVersion !== undefined) out.archiverVersion = m.archiverVersion;
  if (m.description !== undefined) out.description = m.description;
  // ensure_ascii=True: each non-ASCII UTF-16 code unit becomes \uXXXX (pairs as two escapes, as Python does).
  return JSON.stringify(out, null, 2).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
