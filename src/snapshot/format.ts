/**
 * TorchServe's config snapshot files (spec §8): `<LOG_LOCATION>/config/yyyyMMddHHmmssSSS-<type>.cfg`,
 * a java.util.Properties file — `#Saving snapshot`, a date comment, every current property, and
 * `model_snapshot` holding Gson-pretty JSON of the registered model versions. Pure: no I/O here.
 */
import { parseProperties, stringifyProperties } from '../config/properties.js';
import { parseCatalogJSON, type CatalogJSON } from '../wallaroo/catalog.js';

export type SnapshotType = 'startup' | 'snapshot' | 'shutdown';

/** One model version as saved (TorchServe's member names and order). */
export interface SavedVersion {
  defaultVersion: boolean;
  marName: string;
  minWorkers: number;
  maxWorkers: number;
  batchSize: number;
  maxBatchDelay: number;
  responseTimeout: number;
  startupTimeout: number;
  runtimeType: string;
  /** onnxserve's: the archive's SHA-256 when saved; a restore refuses an archive that changed. */
  sha256?: string;
}

export interface ModelSnapshot {
  name: string;
  /** Number of model versions. */
  modelCount: number;
  /** ms since the epoch. */
  created: number;
  models: Record<string, Record<string, SavedVersion>>;
  /** onnxserve's: the Wallaroo-style API's ids, UUIDs and model configurations (src/wallaroo). */
  wallaroo?: CatalogJSON;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `yyyyMMddHHmmssSSS-<type>.cfg` in local time, as TorchServe names them. */
export function snapshotFileName(date: Date, type: SnapshotType): string {
  const stamp =
    `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}${pad(date.getMilliseconds(), 3)}`;
  return `${stamp}-${type}.cfg`;
}

const FILE_NAME = /^(\d{17})-(startup|snapshot|shutdown)\.cfg$/;

/** The timestamp prefix of a snapshot file name, or undefined for any other file. */
export function snapshotStamp(fileName: string): string | undefined {
  return FILE_NAME.exec(fileName)?.[1];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** java.util.Date.toString(): `EEE MMM dd HH:mm:ss zzz yyyy` in local time. */
export function javaDateString(date: Date): string {
  const zone = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
  return (
    `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${zone} ${date.getFullYear()}`
  );
}

/** Gson pretty printing (2-space indent) of the model snapshot. */
export function modelSnapshotJson(snapshot: ModelSnapshot): string {
  return JSON.stringify(snapshot, null, 2);
}

/** The whole file: comments, every property (in their order) and `model_snapshot` last. */
export function renderSnapshotFile(properties: Readonly<Record<string, string>>, snapshot: ModelSnapshot, date: Date): string {
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(properties)) if (k !== 'model_snapshot') props[k] = v;
  props.model_snapshot = modelSnapshotJson(snapshot);
  return stringifyProperties(props, `Saving snapshot\n${javaDateString(date)}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SnapshotError(`${where} must be a number`);
  return v;
}

/** Parses and checks a `model_snapshot` value; every problem is a SnapshotError naming where. */
export function parseModelSnapshot(text: string): ModelSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(`model_snapshot is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw) || !isObject(raw.models)) throw new SnapshotError('model_snapshot has no "models" object');
  const models: ModelSnapshot['models'] = {};
  let count = 0;
  for (const [name, versions] of Object.entries(raw.models)) {
    if (!isObject(versions)) throw new SnapshotError(`model_snapshot: model ${name} has no versions object`);
    models[name] = {};
    for (const [version, v] of Object.entries(versions)) {
      const where = `model_snapshot: ${name} version ${version}`;
      if (!isObject(v)) throw new SnapshotError(`${where} is not an object`);
      if (typeof v.marName !== 'string' || v.marName === '') throw new SnapshotError(`${where}: marName must be a non-empty string`);
      models[name][version] = {
        defaultVersion: v.defaultVersion === true,
        marName: v.marName,
        minWorkers: num(`${where}: minWorkers`, v.minWorkers),
        maxWorkers: num(`${where}: maxWorkers`, v.maxWorkers),
        batchSize: num(`${where}: batchSize`, v.batchSize),
        maxBatchDelay: num(`${where}: maxBatchDelay`, v.maxBatchDelay),
        responseTimeout: num(`${where}: responseTimeout`, v.responseTimeout ?? 120),
        startupTimeout: num(`${where}: startupTimeout`, v.startupTimeout ?? 120),
        runtimeType: typeof v.runtimeType === 'string' ? v.runtimeType : 'python',
        ...(typeof v.sha256 === 'string' && /^[0-9a-f]{64}$/.test(v.sha256) ? { sha256: v.sha256 } : {}),
      };
      count++;
    }
  }
  let wallaroo: CatalogJSON | undefined;
  if (raw.wallaroo !== undefined) {
    try {
      wallaroo = parseCatalogJSON(raw.wallaroo);
    } catch (e) {
      throw new SnapshotError(`model_snapshot: ${(e as Error).message}`);
    }
  }
  return {
    name: typeof raw.name === 'string' ? raw.name : '',
    modelCount: typeof raw.modelCount === 'number' ? raw.modelCount : count,
    created: typeof raw.created === 'number' ? raw.created : 0,
    models,
    ...(wallaroo === undefined ? {} : { wallaroo }),
  };
}

/**
 * Reads a whole snapshot file: its properties, and its model snapshot (SnapshotError when the
 * file is not a complete snapshot — e.g. cut short — so the caller can fall back to an older one).
 */
export function parseSnapshotFile(text: string): { properties: Record<string, string>; snapshot: ModelSnapshot } {
  let properties: Record<string, string>;
  try {
    properties = parseProperties(text);
  } catch (e) {
    throw new SnapshotError(`not a properties file: ${(e as Error).message}`);
  }
  const json = properties.model_snapshot;
  if (json === undefined) throw new SnapshotError('no model_snapshot property (incomplete file?)');
  return { properties, snapshot: parseModelSnapshot(json) };
}
