/**
 * The persisted form of the Wallaroo catalog (kept in config snapshots) and its checks: every
 * field is verified, so a damaged snapshot fails loudly instead of serving wrong ids. Pure.
 */
import type { BatchConfig, VersionStatus } from './catalog.js';
import { TIMESTAMP_WITH_OFFSET } from './timestamps.js';

export const SHA256_HEX = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The persisted form (config snapshots). Field order is fixed so `toJSON` text round-trips. */
export interface CatalogJSON {
  format: 1;
  workspace: { id: number; name: string };
  /** The next ids to hand out; ids of removed models and versions are never reused. */
  next: { model: number; version: number; config: number };
  models: CatalogModelJSON[];
}

export interface CatalogModelJSON {
  id: number;
  name: string;
  createdAt: string;
  updatedAt: string;
  versions: CatalogVersionJSON[];
}

export interface CatalogVersionJSON {
  id: number;
  uuid: string;
  version: string;
  sha: string;
  fileName: string;
  status: VersionStatus;
  createdAt: string;
  updatedAt: string;
  config: {
    id: number;
    tensorFields: string[] | null;
    batchConfig: BatchConfig;
    filterThreshold: number | null;
    inputSchema: string | null;
    outputSchema: string | null;
  };
}

/** A `fromJSON` input that is not a catalog; the message names where. */
export class CatalogFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogFormatError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, what: string): never {
  throw new CatalogFormatError(`Wallaroo catalog: ${where} ${what}`);
}

function obj(v: unknown, where: string): Record<string, unknown> {
  return isObject(v) ? v : fail(where, 'must be an object');
}

function posInt(v: unknown, where: string): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : fail(where, 'must be a positive integer');
}

function str(v: unknown, where: string, pattern?: RegExp): string {
  if (typeof v !== 'string' || v === '') fail(where, 'must be a non-empty string');
  if (pattern && !pattern.test(v)) fail(where, `has an unexpected format: ${JSON.stringify(v)}`);
  return v;
}

function nullable<T>(v: unknown, where: string, check: (v: unknown, where: string) => T): T | null {
  return v === null ? null : check(v, where);
}

function restoreConfig(v: unknown, where: string): CatalogVersionJSON['config'] {
  const c = obj(v, where);
  const batch = c.batchConfig;
  if (batch !== null && batch !== 'single') fail(`${where}.batchConfig`, 'must be "single" or null');
  return {
    id: posInt(c.id, `${where}.id`),
    tensorFields: nullable(c.tensorFields, `${where}.tensorFields`, (t, w) =>
      Array.isArray(t) ? t.map((s, i) => str(s, `${w}[${i}]`)) : fail(w, 'must be a list of strings or null'),
    ),
    batchConfig: batch,
    filterThreshold: nullable(c.filterThreshold, `${where}.filterThreshold`, (n, w) =>
      typeof n === 'number' && Number.isFinite(n) ? n : fail(w, 'must be a number or null'),
    ),
    inputSchema: nullable(c.inputSchema, `${where}.inputSchema`, (s, w) => (typeof s === 'string' ? s : fail(w, 'must be a string or null'))),
    outputSchema: nullable(c.outputSchema, `${where}.outputSchema`, (s, w) => (typeof s === 'string' ? s : fail(w, 'must be a string or null'))),
  };
}

function restoreVersion(v: unknown, where: string): CatalogVersionJSON {
  const o = obj(v, where);
  const status = o.status;
  if (status !== 'ready' && status !== 'error') fail(`${where}.status`, 'must be "ready" or "error"');
  return {
    id: posInt(o.id, `${where}.id`),
    uuid: str(o.uuid, `${where}.uuid`, UUID),
    version: str(o.version, `${where}.version`),
    sha: str(o.sha, `${where}.sha`, SHA256_HEX),
    fileName: str(o.fileName, `${where}.fileName`),
    status,
    createdAt: str(o.createdAt, `${where}.createdAt`, TIMESTAMP_WITH_OFFSET),
    updatedAt: str(o.updatedAt, `${where}.updatedAt`, TIMESTAMP_WITH_OFFSET),
    config: restoreConfig(o.config, `${where}.config`),
  };
}

function restoreModel(v: unknown, where: string): CatalogModelJSON {
  const o = obj(v, where);
  if (!Array.isArray(o.versions)) fail(`${where}.versions`, 'must be a list');
  return {
    id: posInt(o.id, `${where}.id`),
    name: str(o.name, `${where}.name`),
    createdAt: str(o.createdAt, `${where}.createdAt`, TIMESTAMP_WITH_OFFSET),
    updatedAt: str(o.updatedAt, `${where}.updatedAt`, TIMESTAMP_WITH_OFFSET),
    versions: o.versions.map((x, i) => restoreVersion(x, `${where}.versions[${i}]`)),
  };
}

/** Unique ids everywhere and counters past every id used: what keeps new ids from colliding. */
function checkIds(json: CatalogJSON): void {
  const seen = { model: new Set<number>(), name: new Set<string>(), version: new Set<number>(), config: new Set<number>(), uuid: new Set<string>() };
  const once = <T>(set: Set<T>, value: T, what: string) => {
    if (set.has(value)) fail(what, `${JSON.stringify(value)} appears twice`);
    set.add(value);
  };
  for (const m of json.models) {
    once(seen.model, m.id, 'model id');
    once(seen.name, m.name, 'model name');
    const versionStrings = new Set<string>();
    let last = 0;
    for (const v of m.versions) {
      once(versionStrings, v.version, `model ${m.name}: version`);
      once(seen.version, v.id, 'version id');
      once(seen.uuid, v.uuid, 'version uuid');
      once(seen.config, v.config.id, 'config id');
      if (v.id <= last) fail(`model ${m.name}: versions`, 'must be in ascending id order');
      last = v.id;
    }
  }
  const below = (set: Set<number>, next: number, what: string) => {
    for (const id of set) if (id >= next) fail(`next.${what}`, `must be greater than every ${what} id (found ${id})`);
  };
  below(seen.model, json.next.model, 'model');
  below(seen.version, json.next.version, 'version');
  below(seen.config, json.next.config, 'config');
}

/** Checks a persisted catalog (parsed JSON) field by field; CatalogFormatError naming the first problem. */
export function parseCatalogJSON(value: unknown): CatalogJSON {
  const o = obj(value, 'the catalog');
  if (o.format !== 1) fail('format', 'must be 1');
  const ws = obj(o.workspace, 'workspace');
  const next = obj(o.next, 'next');
  if (!Array.isArray(o.models)) fail('models', 'must be a list');
  const json: CatalogJSON = {
    format: 1,
    workspace: { id: posInt(ws.id, 'workspace.id'), name: str(ws.name, 'workspace.name') },
    next: { model: posInt(next.model, 'next.model'), version: posInt(next.version, 'next.version'), config: posInt(next.config, 'next.config') },
    models: o.models.map((m, i) => restoreModel(m, `models[${i}]`)),
  };
  checkIds(json);
  return json;
}
