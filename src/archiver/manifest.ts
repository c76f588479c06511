/**
 * MAR-INF/MANIFEST.json exactly as torch-model-archiver 0.12.0 writes it (spec §7.2): key order,
 * `json.dumps(indent=2)` spacing, no trailing newline, basenames only, optional keys only when
 * given (Python truthiness: an empty string counts as not given).
 */
import { manifestToJson, type Manifest } from '../archive/index.js';
import { ArchiverError } from './errors.js';

/** The archiver version TorchServe 0.12.0's frontend expects to see. */
export const ARCHIVER_VERSION = '0.12.0';

export interface ManifestInputs {
  modelName: string;
  version: string;
  handler: string;
  runtime: string;
  serializedFile?: string;
  modelFile?: string;
  requirementsFile?: string;
  configFile?: string;
}

/** `%d/%m/%Y %H:%M:%S` in local time, as Python's `datetime.now().strftime(...)`. */
export function formatCreatedOn(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return (
    `${p2(d.getDate())}/${p2(d.getMonth() + 1)}/${String(d.getFullYear()).padStart(4, '0')} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`
  );
}

/**
 * The build time: `SOURCE_DATE_EPOCH` (seconds since the epoch, reproducible-builds.org) when
 * set, else now. A malformed value is an error, as that specification asks.
 */
export function buildTime(env: NodeJS.ProcessEnv, now: () => Date = () => new Date()): { date: Date; fixed: boolean } {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return { date: now(), fixed: false };
  if (!/^\d+$/.test(raw.trim())) {
    throw new ArchiverError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01, got "${raw}"`);
  }
  const date = new Date(Number(raw.trim()) * 1000);
  if (Number.isNaN(date.getTime())) throw new ArchiverError(`SOURCE_DATE_EPOCH is out of range: "${raw}"`);
  return { date, fixed: true };
}

/** Python's `os.path.basename` on POSIX: the part after the last `/`. */
export const pyBasename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

const given = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

export function buildManifest(inputs: ManifestInputs, createdOn: Date): Manifest {
  const model: Manifest['model'] = { modelName: inputs.modelName };
  const serialized = given(inputs.serializedFile);
  const modelFile = given(inputs.modelFile);
  const requirements = given(inputs.requirementsFile);
  const config = given(inputs.configFile);
  if (serialized !== undefined && pyBasename(serialized) !== '') model.serializedFile = pyBasename(serialized);
  model.handler = pyBasename(inputs.handler);
  if (modelFile !== undefined) model.modelFile = pyBasename(modelFile);
  if (given(inputs.version) !== undefined) model.modelVersion = inputs.version;
  if (requirements !== undefined) model.requirementsFile = pyBasename(requirements);
  if (config !== undefined && pyBasename(config) !== '') model.configFile = pyBasename(config);
  return { createdOn: formatCreatedOn(createdOn), runtime: inputs.runtime, model, archiverVersion: ARCHIVER_VERSION };
}

/** The manifest bytes (Python's ensure_ascii also escapes DEL, which JSON.stringify leaves). */
export function manifestText(inputs: ManifestInputs, createdOn: Date): string {
  return manifestToJson(buildManifest(inputs, createdOn)).replace(/\x7f/g, '\\u007f');
}
