/**
 * The Wallaroo view of the registered models (issue 8, part 4): stable numeric model ids, UUID
 * version ids with their own numeric ids, SHA-256, file name, status, timestamps, and one model
 * configuration per version. The registry stays the truth about what is loaded; the integrator
 * tells the catalog about each version (`recordVersion` / `removeVersion` / `setStatus`) and
 * persists `toJSON()` in config snapshots so ids survive restarts.
 *
 * Pure: no I/O. Records handed out are frozen and replaced (never mutated) on change, so callers —
 * the inference path reads `configFor` on every request — may keep references without copying.
 */
import { randomUUID } from 'node:crypto';
import { SHA256_HEX, parseCatalogJSON, type CatalogJSON, type CatalogModelJSON } from './catalog-json.js';
import { wallarooTimestamp } from './timestamps.js';

export { CatalogFormatError, SHA256_HEX, parseCatalogJSON, type CatalogJSON, type CatalogModelJSON, type CatalogVersionJSON } from './catalog-json.js';

export type VersionStatus = 'ready' | 'error';
/** `"single"`: one row per inference request; null: any number of rows. */
export type BatchConfig = 'single' | null;

/** onnxserve runs ONNX only; Wallaroo's `runtime` field. */
export const WALLAROO_RUNTIME = 'onnx';

export interface Workspace {
  readonly id: number;
  readonly name: string;
}

/** The one workspace every model lives in. */
export const DEFAULT_WORKSPACE: Workspace = Object.freeze({ id: 1, name: 'default' });

/** What `insert_model_config` sets (every field, each null when not given: it inserts, not patches). */
export interface ModelConfigFields {
  /** Request-facing names for the model's inputs, by position (`tensorFields[i]` feeds ONNX input i). */
  readonly tensorFields: readonly string[] | null;
  readonly batchConfig: BatchConfig;
  readonly filterThreshold: number | null;
  /** Stored and returned as given (Wallaroo: a serialized pyarrow schema). */
  readonly inputSchema: string | null;
  readonly outputSchema: string | null;
}

export interface ModelConfig extends ModelConfigFields {
  /** The configuration's own id: a new one per insert, as Wallaroo inserts a row. */
  readonly id: number;
  /** The numeric id of the version it configures. */
  readonly modelVersionId: number;
  readonly runtime: typeof WALLAROO_RUNTIME;
}

export interface CatalogVersion {
  /** Numeric version id (`id` in list_versions, `model_version_id` in insert_model_config). */
  readonly id: number;
  /** `model_version`: a UUID per uploaded artefact. */
  readonly uuid: string;
  readonly model: string;
  /** onnxserve's (TorchServe's) version string, e.g. "1.0". */
  readonly version: string;
  /** SHA-256 of the archive, lower-case hex. */
  readonly sha: string;
  readonly fileName: string;
  readonly status: VersionStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly config: ModelConfig;
}

export interface CatalogModel {
  readonly id: number;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Ascending numeric id (registration order). */
  readonly versions: readonly CatalogVersion[];
}

export interface RecordVersion {
  model: string;
  version: string;
  fileName: string;
  sha256: string;
  status: VersionStatus;
  /** When the version was registered (default: now). */
  createdAt?: Date;
}

export interface CatalogOptions {
  now?: () => Date;
  uuid?: () => string;
}

/** Mutable per model; its versions map keeps ascending id order (replacements re-inserted). */
interface ModelEntry {
  readonly id: number;
  readonly name: string;
  readonly createdAt: string;
  updatedAt: string;
  readonly versions: Map<string, CatalogVersion>;
}

const NO_CONFIG: ModelConfigFields = { tensorFields: null, batchConfig: null, filterThreshold: null, inputSchema: null, outputSchema: null };

function freezeConfig(c: ModelConfig): ModelConfig {
  return Object.freeze({ ...c, tensorFields: c.tensorFields === null ? null : Object.freeze([...c.tensorFields]) });
}

export class ModelCatalog {
  private readonly byName = new Map<string, ModelEntry>();
  private readonly byId = new Map<number, ModelEntry>();
  private readonly versionsById = new Map<number, CatalogVersion>();
  private nextModelId = 1;
  private nextVersionId = 1;
  private nextConfigId = 1;
  private workspaceValue: Workspace = DEFAULT_WORKSPACE;
  private readonly now: () => Date;
  private readonly uuid: () => string;

  constructor(opts: CatalogOptions = {}) {
    this.now = opts.now ?? (() => new Date());
    this.uuid = opts.uuid ?? randomUUID;
  }

  get workspace(): Workspace {
    return this.workspaceValue;
  }

  /**
   * A version was registered (or re-announced). Idempotent: the same model, version and SHA-256
   * keep their ids and UUID (only file name and status follow). A different SHA-256 under the same
   * version string is a new artefact (a poll reload, a re-registration): new numeric id and UUID,
   * the configuration's fields carried over (new config id) so `tensor_fields` keep applying.
   */
  recordVersion(e: RecordVersion): CatalogVersion {
    const sha = e.sha256.toLowerCase();
    if (!SHA256_HEX.test(sha)) throw new TypeError(`recordVersion: sha256 of ${e.model} ${e.version} is not a SHA-256 hex digest`);
    const stamp = wallarooTimestamp(e.createdAt ?? this.now());
    let entry = this.byName.get(e.model);
    if (!entry) {
      entry = { id: this.nextModelId++, name: e.model, createdAt: stamp, updatedAt: stamp, versions: new Map() };
      this.byName.set(entry.name, entry);
      this.byId.set(entry.id, entry);
    }
    const existing = entry.versions.get(e.version);
    if (existing && existing.sha === sha) {
      if (existing.fileName === e.fileName && existing.status === e.status) return existing;
      return this.replace(entry, { ...existing, fileName: e.fileName, status: e.status, updatedAt: this.stamp() });
    }
    if (existing) this.dropVersion(entry, existing);
    const id = this.nextVersionId++;
    const fields = existing?.config ?? NO_CONFIG;
    const version: CatalogVersion = Object.freeze({
      id,
      uuid: this.uuid(),
      model: e.model,
      version: e.version,
      sha,
      fileName: e.fileName,
      status: e.status,
      createdAt: stamp,
      updatedAt: stamp,
      config: this.newConfig(id, fields),
    });
    entry.versions.set(version.version, version);
    this.versionsById.set(id, version);
    entry.updatedAt = stamp;
    return version;
  }

  /** A version was unregistered. The model keeps its id (hidden while it has no versions). */
  removeVersion(model: string, version: string): boolean {
    const entry = this.byName.get(model);
    const v = entry?.versions.get(version);
    if (!entry || !v) return false;
    this.dropVersion(entry, v);
    entry.updatedAt = this.stamp();
    return true;
  }

  setStatus(model: string, version: string, status: VersionStatus): boolean {
    const entry = this.byName.get(model);
    const v = entry?.versions.get(version);
    if (!entry || !v) return false;
    if (v.status !== status) this.replace(entry, { ...v, status, updatedAt: this.stamp() });
    return true;
  }

  /** Keeps only the versions in `live` (after a snapshot restore, where some may not have come back). */
  reconcile(live: Iterable<{ model: string; version: string }>): void {
    const keep = new Set<string>();
    for (const l of live) keep.add(`${l.model}\u0000${l.version}`);
    for (const entry of this.byName.values()) {
      for (const v of [...entry.versions.values()]) if (!keep.has(`${entry.name}\u0000${v.version}`)) this.removeVersion(entry.name, v.version);
    }
  }

  /** The configuration in effect for a version (part 5), or undefined for a version not recorded. */
  configFor(model: string, version: string): ModelConfig | undefined {
    return this.byName.get(model)?.versions.get(version)?.config;
  }

  /** `insert_model_config`: a new configuration (new id) for the version; undefined if no such version. */
  insertConfig(modelVersionId: number, fields: ModelConfigFields): ModelConfig | undefined {
    const v = this.versionsById.get(modelVersionId);
    const entry = v ? this.byName.get(v.model) : undefined;
    if (!v || !entry) return undefined;
    const stamp = this.stamp();
    const updated = this.replace(entry, { ...v, config: this.newConfig(v.id, fields), updatedAt: stamp });
    entry.updatedAt = stamp;
    return updated.config;
  }

  /** Models with at least one version, ascending id. */
  models(): CatalogModel[] {
    return [...this.byId.values()].filter((e) => e.versions.size > 0).sort((a, b) => a.id - b.id).map(view);
  }

  model(id: number): CatalogModel | undefined {
    const entry = this.byId.get(id);
    return entry && entry.versions.size > 0 ? view(entry) : undefined;
  }

  modelByName(name: string): CatalogModel | undefined {
    const entry = this.byName.get(name);
    return entry && entry.versions.size > 0 ? view(entry) : undefined;
  }

  version(model: string, version: string): CatalogVersion | undefined {
    return this.byName.get(model)?.versions.get(version);
  }

  versionById(id: number): CatalogVersion | undefined {
    return this.versionsById.get(id);
  }

  toJSON(): CatalogJSON {
    return {
      format: 1,
      workspace: { id: this.workspaceValue.id, name: this.workspaceValue.name },
      next: { model: this.nextModelId, version: this.nextVersionId, config: this.nextConfigId },
      models: [...this.byId.values()].sort((a, b) => a.id - b.id).map((e) => ({
        id: e.id,
        name: e.name,
        createdAt: e.createdAt,
        updatedAt: e.updatedAt,
        versions: [...e.versions.values()].map((v) => ({
          id: v.id,
          uuid: v.uuid,
          version: v.version,
          sha: v.sha,
          fileName: v.fileName,
          status: v.status,
          createdAt: v.createdAt,
          updatedAt: v.updatedAt,
          config: {
            id: v.config.id,
            tensorFields: v.config.tensorFields === null ? null : [...v.config.tensorFields],
            batchConfig: v.config.batchConfig,
            filterThreshold: v.config.filterThreshold,
            inputSchema: v.config.inputSchema,
            outputSchema: v.config.outputSchema,
          },
        })),
      })),
    };
  }

  /** Restores a catalog from `toJSON()` output (parsed JSON); CatalogFormatError naming the problem. */
  static fromJSON(value: unknown, opts: CatalogOptions = {}): ModelCatalog {
    const json = parseCatalogJSON(value);
    const c = new ModelCatalog(opts);
    c.workspaceValue = Object.freeze({ ...json.workspace });
    c.nextModelId = json.next.model;
    c.nextVersionId = json.next.version;
    c.nextConfigId = json.next.config;
    for (const m of json.models) c.adopt(m);
    return c;
  }

  private stamp(): string {
    return wallarooTimestamp(this.now());
  }

  private newConfig(modelVersionId: number, f: ModelConfigFields): ModelConfig {
    return freezeConfig({
      id: this.nextConfigId++,
      modelVersionId,
      runtime: WALLAROO_RUNTIME,
      tensorFields: f.tensorFields,
      batchConfig: f.batchConfig,
      filterThreshold: f.filterThreshold,
      inputSchema: f.inputSchema,
      outputSchema: f.outputSchema,
    });
  }

  /** Swaps in a changed record (same numeric id, so its place in the versions map is kept). */
  private replace(entry: ModelEntry, next: CatalogVersion): CatalogVersion {
    const frozen = Object.freeze({ ...next, config: freezeConfig(next.config) });
    entry.versions.set(frozen.version, frozen);
    this.versionsById.set(frozen.id, frozen);
    if (frozen.updatedAt > entry.updatedAt) entry.updatedAt = frozen.updatedAt;
    return frozen;
  }

  private dropVersion(entry: ModelEntry, v: CatalogVersion): void {
    entry.versions.delete(v.version);
    this.versionsById.delete(v.id);
  }

  /** For `fromJSON` only: adopts one model as persisted, ids and all. */
  private adopt(m: CatalogModelJSON): void {
    const entry: ModelEntry = { id: m.id, name: m.name, createdAt: m.createdAt, updatedAt: m.updatedAt, versions: new Map() };
    for (const v of m.versions) {
      const version: CatalogVersion = Object.freeze({
        id: v.id,
        uuid: v.uuid,
        model: m.name,
        version: v.version,
        sha: v.sha,
        fileName: v.fileName,
        status: v.status,
        createdAt: v.createdAt,
        updatedAt: v.updatedAt,
        config: freezeConfig({ ...v.config, modelVersionId: v.id, runtime: WALLAROO_RUNTIME }),
      });
      entry.versions.set(version.version, version);
      this.versionsById.set(version.id, version);
    }
    this.byName.set(entry.name, entry);
    this.byId.set(entry.id, entry);
  }
}

function view(e: ModelEntry): CatalogModel {
  return { id: e.id, name: e.name, createdAt: e.createdAt, updatedAt: e.updatedAt, versions: [...e.versions.values()] };
}
