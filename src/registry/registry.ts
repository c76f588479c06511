/**
 * The model registry: the only place that knows what is loaded. Names → versions → one default.
 * Management routes mutate it; inference routes resolve through it. Texts and status codes
 * follow TorchServe (spec §3.2-3.6).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { modelNameFromFile, resolveModelFile } from '../archive/index.js';
import type { ModelArchive } from '../archive/types.js';
import { SERVICE_ENVELOPES, type ServerConfig, type ServiceEnvelope } from '../config/types.js';
import {
  ServeError,
  StartupError,
  badRequest,
  conflict,
  invalidModel,
  internalError,
  invalidModelVersion,
  modelNotFound,
  modelVersionNotFound,
  requestTimeout,
} from '../errors.js';
import type { Logger } from '../logging.js';
import { WorkerPool } from '../runtime/pool.js';
import { parseOrtSection } from '../runtime/session.js';
import type { ArrivalHint, OrtSessionSettings, PoolObserver } from '../runtime/types.js';
import { checkHandler, handlerYamlConfig } from './handlers.js';
import { locateModel } from './model-source.js';
import { integrityError } from './integrity.js';
import type { AuditLog } from '../security/audit.js';
import type { ModelSnapshot } from '../snapshot/format.js';
import { ModelVersion } from './model-version.js';
import { intraOpThreadsFor, resolveModelSettings, UNSET_BATCH_SIZE, UNSET_MAX_BATCH_DELAY, UNSET_TIMEOUT } from './settings.js';

export const RUNTIMES = ['python', 'python3', 'LSP'] as const;

/** What `--models all` and the repository API see in the model store. */
const STORE_ARCHIVE = /\.(mar|model|tar\.gz)$/i;

/** Names the repository API loads by (the archiver's model-name rule): no path separators, no `..`. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_\-.]*$/;

export interface StoreEntry {
  /** File or folder name in the model store. */
  file: string;
  /** The model name it loads as through the repository API (file name without `.mar`/`.model`/`.tar.gz`). */
  name: string;
}

/** Register parameters after HTTP decoding; sentinels as TorchServe's (see settings.ts). */
export interface RegisterRequest {
  url: string;
  /** Expected SHA-256 of the archive (a restored snapshot's); a mismatch refuses the load. */
  sha256?: string;
  /** Poll mode's reload: the version may already exist (replaceVersion). */
  replace?: boolean;
  modelName?: string;
  handler?: string;
  runtime?: string;
  batchSize: number;
  maxBatchDelay: number;
  initialWorkers: number;
  synchronous: boolean;
  responseTimeout: number;
  startupTimeout: number;
}

export interface StatusOutcome {
  status: number;
  message: string;
}

interface ModelEntry {
  versions: Map<string, ModelVersion>;
  defaultVersion: string;
}

export interface RegistryOptions {
  tempRoot: string;
  cwd: string;
  /** Handed to every pool: whether more requests may be on their way (the batching rule). */
  arrivals?: ArrivalHint;
  /** The metrics' observer for a model version's pool (src/metrics). */
  observerFor?: (model: string, version: string) => PoolObserver;
  /** Download and extraction limits (defaults: model-source's and the archive module's). */
  loadLimits?: LoadLimits;
  /** MODEL_LOG: what handlers log and print (logging.ts). */
  modelLog?: import('../logging.js').ModelLog;
  /** Where the server's own model loads (start-up, snapshot restore) are audited when they fail. */
  audit?: AuditLog;
  /** Told when a version becomes resolvable, and when it is no longer (the Wallaroo catalog). */
  onVersionAdded?: (v: ModelVersion) => void;
  onVersionRemoved?: (v: ModelVersion) => void;
  /** Told when a version's workers failed to start after its registration answered. */
  onVersionFailed?: (v: ModelVersion) => void;
}

/** Limits on what one registration may download and unpack. */
export interface LoadLimits {
  /** Bytes one download may bring (default DEFAULT_MAX_DOWNLOAD_BYTES, 4 GiB). */
  maxDownloadBytes?: number;
  /** Wall-clock limit of one download in ms (default DEFAULT_DOWNLOAD_TIMEOUT_MS, 10 min). */
  downloadTimeoutMs?: number;
  /** Total bytes an archive may unpack to (default 4 GiB). */
  maxUnpackedBytes?: number;
  /** Entries an archive may hold (default 10000). */
  maxEntries?: number;
}

/** How often an unregister checks whether the version's accepted requests are done. */
const UNREGISTER_POLL_MS = 20;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function defaultRegisterRequest(url: string, config: ServerConfig): RegisterRequest {
  return {
    url,
    batchSize: UNSET_BATCH_SIZE,
    maxBatchDelay: UNSET_MAX_BATCH_DELAY,
    initialWorkers: config.defaultWorkersPerModel,
    synchronous: true,
    responseTimeout: UNSET_TIMEOUT,
    startupTimeout: UNSET_TIMEOUT,
  };
}

export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry>();

  constructor(
    private readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly options: RegistryOptions,
  ) {}

  /** Register a model (spec §3.2). `startup` marks `--models` loads, which use start-up workers. */
  async register(req: RegisterRequest, startup?: { workers: number }): Promise<StatusOutcome> {
    const outcome = await this.registerVersion(req, startup);
    this.changed();
    return outcome;
  }

  /** Told after every change of the registered models (config snapshots); set once start-up is done. */
  onChange?: () => void;

  private changed(): void {
    try {
      this.onChange?.();
    } catch (err) {
      this.logger.error(`Model change listener failed: ${String(err)}`);
    }
  }

  private async registerVersion(req: RegisterRequest, startup?: { workers: number }): Promise<StatusOutcome> {
    if (req.runtime !== undefined && !(RUNTIMES as readonly string[]).includes(req.runtime)) {
      throw badRequest(`Invalid RuntimeType value: ${req.runtime}`);
    }
    const limits = this.options.loadLimits ?? {};
    const located = await locateModel(req.url, {
      ...(req.sha256 === undefined ? {} : { expectedSha256: { value: req.sha256, where: 'the config snapshot' } }),
      modelStore: this.config.modelStore,
      allowedUrls: this.config.allowedUrls,
      tempRoot: this.options.tempRoot,
      cwd: this.options.cwd,
      ...(limits.maxDownloadBytes === undefined ? {} : { maxDownloadBytes: limits.maxDownloadBytes }),
      ...(limits.downloadTimeoutMs === undefined ? {} : { downloadTimeoutMs: limits.downloadTimeoutMs }),
      extractLimits: {
        ...(limits.maxUnpackedBytes === undefined ? {} : { maxUnpackedBytes: limits.maxUnpackedBytes }),
        ...(limits.maxEntries === undefined ? {} : { maxEntries: limits.maxEntries }),
      },
      onOpenFailure: (url, err) => this.logger.error(`Failed to open model archive ${url}: ${String(err)}`),
      onDownloadFailure: (url, err) => this.logger.error(`Failed to download archive from ${url}: ${String(err)}`),
    });
    const { archive } = located;
    let version: ModelVersion;
    try {
      version = this.createVersion(req, archive, located.fileName, located.downloadedTo, startup, located.sha256);
      const pinned = this.config.models[version.name]?.[version.version]?.sha256;
      if (pinned !== undefined && pinned !== located.sha256) {
        await version.pool.shutdown();
        throw integrityError(`${located.fileName} (model ${version.name}, version ${version.version})`, located.sha256, pinned, 'the models config');
      }
    } catch (err) {
      await archive.cleanup().catch((e: unknown) => this.logger.warn(`Cleanup of ${archive.dir} failed: ${String(e)}`));
      if (located.downloadedTo) {
        const file = located.downloadedTo;
        await fsp.rm(file, { force: true }).catch((e: unknown) => this.logger.warn(`Removing ${file} failed: ${String(e)}`));
      }
      if (err instanceof ServeError) throw err;
      // A file-system error here (a name too long, a link loop...) would name the private
      // extraction folder: the log gets it, the client TorchServe's fixed text.
      this.logger.error(`Failed to register model ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      throw internalError(`Failed to save model: ${req.url}`);
    }
    for (const w of archive.warnings) this.logger.warn(`${version.name}: ${w}`);
    this.add(version);

    const { minWorkers, maxWorkers } = version.settings;
    if (minWorkers <= 0) {
      return {
        status: 200,
        message: `Model "${version.name}" Version: ${version.version} registered with 0 initial workers. Use scale workers API to add workers for the model.`,
      };
    }
    const scaling = version.pool.scale(minWorkers, maxWorkers);
    if (!req.synchronous || startup) {
      void scaling.then((r) => {
        if (!r.failure) return;
        this.logger.error(`${r.failure.message}: workers failed to start`);
        this.options.onVersionFailed?.(version);
      });
      return { status: 202, message: 'Processing worker updates...' };
    }
    const result = await scaling;
    if (result.failure) {
      await this.removeVersion(version).catch(() => undefined);
      throw internalError(`Failed to start workers for model ${version.name} version: ${version.version}`, result.failure.status === 413 ? 507 : 500);
    }
    if (result.running < minWorkers) return { status: 206, message: 'Workers scaling in progress...' };
    return { status: 200, message: `Model "${version.name}" Version: ${version.version} registered with ${minWorkers} initial workers` };
  }

  private createVersion(
    req: RegisterRequest,
    archive: ModelArchive,
    fileName: string,
    downloadedTo: string | undefined,
    startup: { workers: number } | undefined,
    sha256: string,
  ): ModelVersion {
    const manifest = archive.manifest;
    const name = req.modelName || manifest.model.modelName || modelNameFromFile(fileName);
    const versionId = manifest.model.modelVersion || '1.0';
    const existing = this.models.get(name);
    if (existing?.versions.has(versionId) && !req.replace) throw conflict(`Model version ${versionId} is already registered for model ${name}`);

    const handler = checkHandler(req.handler ?? manifest.model.handler ?? this.config.defaultServiceHandler, archive.dir);
    const envelope = this.envelopeFor(manifest.model.envelope);
    const modelFile = resolveModelFile(archive);
    const json = this.config.models[name]?.[versionId];
    const runtimeFromJson = json?.runtimeType && (RUNTIMES as readonly string[]).includes(json.runtimeType) ? json.runtimeType : undefined;
    const settings = resolveModelSettings({
      api: { batchSize: req.batchSize, maxBatchDelay: req.maxBatchDelay, responseTimeout: req.responseTimeout, startupTimeout: req.startupTimeout },
      workers: startup ? startup.workers : req.initialWorkers,
      yaml: archive.config,
      json: startup ? json : undefined,
      defaults: {
        responseTimeout: this.config.defaultResponseTimeout,
        startupTimeout: this.config.defaultStartupTimeout,
        jobQueueSize: this.config.jobQueueSize,
      },
    });
    const ort = ortSettingsOf(archive);
    const pool = new WorkerPool(
      {
        modelName: name,
        modelVersion: versionId,
        modelFile,
        modelDir: archive.dir,
        handler,
        manifest,
        modelYamlConfig: handlerYamlConfig(archive.config),
        batchSize: settings.batchSize,
        maxBatchDelayMs: settings.maxBatchDelay,
        responseTimeoutSec: settings.responseTimeout,
        startupTimeoutSec: settings.startupTimeout,
        jobQueueSize: settings.jobQueueSize,
        intraOpThreads: ort.intraOpThreads ?? intraOpThreadsFor(this.config.ortIntraOpThreads, this.config.cpuCount, settings.maxWorkers),
        ort,
        ...(this.options.arrivals === undefined ? {} : { arrivals: this.options.arrivals }),
        busyPollUs: this.config.busyPollUs,
        ...(this.options.observerFor ? { observer: this.options.observerFor(name, versionId) } : {}),
        ...(this.options.modelLog ? { modelLog: this.options.modelLog } : {}),
      },
      this.logger,
    );
    return new ModelVersion({
      name,
      version: versionId,
      url: req.url,
      runtime: runtimeFromJson ?? req.runtime ?? manifest.runtime,
      handler,
      archive,
      modelFile,
      settings,
      pool,
      loadedAtStartup: startup !== undefined,
      downloadedTo,
      sha256,
      ...(envelope === undefined ? {} : { envelope }),
    });
  }

  /**
   * `service_envelope` applies to every model; else the manifest's `model.envelope`. (TorchServe
   * overwrites the manifest's value with the config's even when that is unset; we keep the manifest's
   * then.) An envelope onnxserve does not know is refused at registration.
   */
  private envelopeFor(fromManifest: string | undefined): ServiceEnvelope | undefined {
    if (this.config.serviceEnvelope !== undefined) return this.config.serviceEnvelope;
    if (fromManifest === undefined || fromManifest === '') return undefined;
    const known = SERVICE_ENVELOPES.find((e) => e === fromManifest);
    if (!known) throw invalidModel(`Envelope "${fromManifest}" in MANIFEST.json is not supported; supported: ${SERVICE_ENVELOPES.join(', ')}`);
    return known;
  }

  /**
   * Inserts a version. createVersion's conflict check runs in the same synchronous stretch, so two
   * concurrent registrations of one name and version cannot both get here.
   */
  private add(v: ModelVersion): void {
    const entry = this.models.get(v.name);
    if (!entry) this.models.set(v.name, { versions: new Map([[v.version, v]]), defaultVersion: v.version });
    else entry.versions.set(v.version, v);
    this.options.onVersionAdded?.(v);
  }

  /** Resolve a model (default version when `version` is undefined); 404s as TorchServe. */
  resolve(name: string, version?: string): ModelVersion {
    const entry = this.models.get(name);
    if (!entry) throw modelNotFound(`Model not found: ${name}`);
    const id = version ?? entry.defaultVersion;
    const v = entry.versions.get(id);
    if (!v) throw modelVersionNotFound(`Model version: ${id} does not exist for model: ${name}`);
    return v;
  }

  /** All versions of a model, in registration order. */
  allVersions(name: string): ModelVersion[] {
    const entry = this.models.get(name);
    if (!entry) throw modelNotFound(`Model not found: ${name}`);
    return [...entry.versions.values()];
  }

  /** Default version of every model, sorted by name (Java string order = UTF-16 code units). */
  listDefaults(): ModelVersion[] {
    return [...this.models.keys()]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((n) => this.resolve(n));
  }

  /** Names of models loaded at start-up (for `/invocations` without a model name). */
  startupModels(): string[] {
    return [...this.models.values()].flatMap((e) => [...e.versions.values()].filter((v) => v.loadedAtStartup).map((v) => v.name));
  }

  isHealthy(): boolean {
    return [...this.models.keys()].every((n) => this.resolve(n).isHealthy());
  }

  /** Scale workers (spec §3.3). `version` undefined ⇒ default version. */
  async scale(name: string, version: string | undefined, min: number, max: number, synchronous: boolean): Promise<StatusOutcome> {
    const v = this.resolve(name, version);
    v.settings = { ...v.settings, minWorkers: min, maxWorkers: max };
    this.changed();
    const scaling = v.pool.scale(min, max);
    if (!synchronous) {
      void scaling.then((r) => {
        if (r.failure) this.logger.error(`Failed to scale model ${name}: ${r.failure.message}`);
      });
      return { status: 202, message: 'Processing worker updates...' };
    }
    const result = await scaling;
    if (result.failure) {
      throw internalError(`Failed to start workers for model ${name} version: ${version ?? 'null'}`, result.failure.status === 413 ? 507 : 500);
    }
    if (result.running < min) return { status: 206, message: 'Workers scaling in progress...' };
    return {
      status: 200,
      message: version === undefined ? `Workers scaled to ${min} for model: ${name}` : `Workers scaled to ${min} for model: ${name}, version: ${version}`,
    };
  }

  /** Unregister (spec §3.4). */
  async unregister(name: string, version?: string): Promise<StatusOutcome> {
    const entry = this.models.get(name);
    const v = this.resolve(name, version);
    if (entry && entry.versions.size > 1 && v.version === entry.defaultVersion) {
      throw invalidModelVersion(`Cannot remove default version for model ${name}`);
    }
    try {
      await this.removeVersion(v);
    } finally {
      this.changed();
    }
    return { status: 200, message: `Model "${name}" unregistered` };
  }

  private async removeVersion(v: ModelVersion): Promise<void> {
    const entry = this.models.get(v.name);
    if (entry?.versions.get(v.version) === v) {
      entry.versions.delete(v.version);
      if (entry.versions.size === 0) this.models.delete(v.name);
      this.options.onVersionRemoved?.(v);
    }
    const timeoutMs = this.config.unregisterModelTimeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    // The version is unreachable now (new requests get 404); let what it already accepted finish.
    const drained = (async () => {
      while (!v.pool.isIdle()) await sleep(UNREGISTER_POLL_MS);
      await v.pool.shutdown();
      return 'done' as const;
    })();
    try {
      const r = await Promise.race([drained, timedOut]);
      if (r === 'timeout') {
        void v.pool.shutdown();
        throw requestTimeout(`Timed out while cleaning resources: ${v.name}`);
      }
    } finally {
      clearTimeout(timer);
      await v.archive.cleanup().catch((err: unknown) => this.logger.warn(`Cleanup of ${v.archive.dir} failed: ${String(err)}`));
      // A file-system error would name the model store: the log gets it, the client nothing.
      if (v.downloadedTo) {
        await fsp.rm(v.downloadedTo, { force: true }).catch((err: unknown) => this.logger.warn(`Removing ${v.downloadedTo} failed: ${String(err)}`));
      }
    }
  }

  /** Set the default version (spec §3.5; note its version-not-found text has no colons). */
  setDefault(name: string, version: string): StatusOutcome {
    const entry = this.models.get(name);
    if (!entry) throw modelNotFound(`Model not found: ${name}`);
    if (!entry.versions.has(version)) throw modelVersionNotFound(`Model version ${version} does not exist for model ${name}`);
    entry.defaultVersion = version;
    this.changed();
    return { status: 200, message: `Default version successfully updated for model "${name}" to "${version}"` };
  }

  /** Whether a model of that name is registered (any version). */
  has(name: string): boolean {
    return this.models.has(name);
  }

  /** Every registered version, models sorted by name, versions in registration order. */
  allRegistered(): ModelVersion[] {
    return [...this.models.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).flatMap((n) => this.allVersions(n));
  }

  /** Archives and folders in the model store (`--models all` loads these): file name and the model name it loads as. */
  async storeEntries(): Promise<StoreEntry[]> {
    const store = this.config.modelStore;
    if (!store) return [];
    const entries = await fsp.readdir(store, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => !e.name.startsWith('.'))
      .filter((e) => e.isDirectory() || STORE_ARCHIVE.test(e.name))
      .map((e) => ({ file: e.name, name: e.isDirectory() ? e.name : e.name.replace(STORE_ARCHIVE, '') }))
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  /**
   * Repository-API load: registers `<name>.mar`, `<name>.tar.gz` or folder `<name>` from the model
   * store as `name` with one worker, synchronously. Already registered ⇒ nothing to do (false).
   */
  async loadFromStore(name: string): Promise<boolean> {
    if (!MODEL_NAME.test(name)) throw badRequest(`Invalid model name "${name}": expected letters, digits, "_", "-" or "." (not starting with those)`);
    if (this.models.has(name)) return false;
    const store = this.config.modelStore;
    const candidates = [`${name}.mar`, `${name}.tar.gz`, name];
    let file: string | undefined;
    for (const c of candidates) {
      const st = store ? await fsp.stat(path.join(store, c)).catch(() => undefined) : undefined;
      if (st && (c === name ? st.isDirectory() : st.isFile())) {
        file = c;
        break;
      }
    }
    if (!file) throw modelNotFound(`Model not found in the model store: ${name} (looked for ${candidates.map((c, i) => (i === 2 ? `folder ${c}` : c)).join(', ')})`);
    try {
      await this.register({ ...defaultRegisterRequest(file, this.config), modelName: name, initialWorkers: 1, synchronous: true });
    } catch (err) {
      // Two loads racing: the other one registered it.
      if (err instanceof ServeError && err.status === 409 && this.models.has(name)) return false;
      throw err;
    }
    return true;
  }

  /**
   * Poll mode's reload of a changed archive: the new copy is opened and its workers started
   * beside the old version, which keeps serving; only once they are ready does the new one take
   * the version's place, and the old one drains (its accepted requests finish). A failure leaves
   * the old version serving. Returns the version now serving.
   */
  async replaceVersion(url: string, workers: number): Promise<ModelVersion> {
    const req: RegisterRequest = { ...defaultRegisterRequest(url, this.config), initialWorkers: workers, synchronous: true, replace: true };
    const located = await locateModel(url, {
      modelStore: this.config.modelStore,
      allowedUrls: this.config.allowedUrls,
      tempRoot: this.options.tempRoot,
      cwd: this.options.cwd,
      onOpenFailure: (u, err) => this.logger.error(`Failed to open model archive ${u}: ${String(err)}`),
    });
    let fresh: ModelVersion;
    try {
      fresh = this.createVersion(req, located.archive, located.fileName, undefined, undefined, located.sha256);
    } catch (err) {
      await located.archive.cleanup().catch(() => undefined);
      throw err;
    }
    const { minWorkers, maxWorkers } = fresh.settings;
    const started = minWorkers > 0 ? await fresh.pool.scale(minWorkers, maxWorkers) : { running: 0 };
    if ('failure' in started && started.failure) {
      await fresh.pool.shutdown();
      await fresh.archive.cleanup().catch(() => undefined);
      throw internalError(`Failed to start workers for model ${fresh.name} version: ${fresh.version}`);
    }
    const old = this.models.get(fresh.name)?.versions.get(fresh.version);
    this.add(fresh);
    if (old) await this.removeVersion(old).catch((e: unknown) => this.logger.warn(`Draining the replaced ${old.name} ${old.version}: ${String(e)}`));
    this.changed();
    return fresh;
  }

  /** Repository-API unload: every version of the model, the default one included. */
  async unloadAll(name: string): Promise<void> {
    const versions = this.allVersions(name);
    try {
      await Promise.all(versions.map((v) => this.removeVersion(v)));
    } finally {
      this.changed();
    }
  }

  /** The registered versions as a config snapshot records them (spec §8). */
  snapshotModels(): ModelSnapshot['models'] {
    const out: ModelSnapshot['models'] = {};
    for (const [name, entry] of this.models) {
      out[name] = {};
      for (const v of entry.versions.values()) {
        const s = v.settings;
        out[name][v.version] = {
          defaultVersion: v.version === entry.defaultVersion,
          marName: path.basename(v.url),
          minWorkers: s.minWorkers,
          maxWorkers: s.maxWorkers,
          batchSize: s.batchSize,
          maxBatchDelay: s.maxBatchDelay,
          responseTimeout: s.responseTimeout,
          startupTimeout: s.startupTimeout,
          runtimeType: v.runtime,
          ...(v.sha256 === undefined ? {} : { sha256: v.sha256 }),
        };
      }
    }
    return out;
  }

  /**
   * Start-up from a snapshot (spec §8), instead of load_models: every archive must be in the model
   * store (else start-up stops), then each version is registered with its saved settings and
   * worker counts, and the saved defaults are set. Restored models are not "loaded at startup".
   */
  async restoreSnapshot(snapshot: ModelSnapshot): Promise<void> {
    const store = this.config.modelStore;
    const entries = Object.entries(snapshot.models).flatMap(([name, versions]) => Object.entries(versions).map(([version, saved]) => ({ name, version, saved })));
    if (entries.length === 0) {
      this.logger.warn('Model snapshot is empty. Starting TorchServe without initial models.');
      return;
    }
    for (const { name, version, saved } of entries) {
      const st = store ? await fsp.stat(path.join(store, saved.marName)).catch(() => undefined) : undefined;
      if (!st || path.basename(saved.marName) !== saved.marName) {
        throw new StartupError(`InvalidSnapshotException: Model archive file for model :${name}, version :${version} not found in model store`);
      }
    }
    for (const { name, version, saved } of entries) {
      const req: RegisterRequest = {
        ...defaultRegisterRequest(saved.marName, this.config),
        modelName: name,
        runtime: saved.runtimeType,
        batchSize: saved.batchSize,
        maxBatchDelay: saved.maxBatchDelay,
        responseTimeout: saved.responseTimeout,
        startupTimeout: saved.startupTimeout,
        ...(saved.sha256 === undefined ? {} : { sha256: saved.sha256 }),
        initialWorkers: 0,
        synchronous: false,
      };
      try {
        await this.registerVersion(req);
      } catch (err) {
        this.auditLocalFailure('restore', name, err, version);
        const why = err instanceof ServeError ? err.message : String(err);
        throw new StartupError(`Failed to restore model ${name}, version ${version} from the config snapshot: ${why}`);
      }
      const got = this.models.get(name)?.versions.get(version);
      if (!got) {
        this.logger.warn(`Snapshot: ${saved.marName} now holds another version of ${name} than the saved ${version}`);
        continue;
      }
      got.settings = { ...got.settings, minWorkers: saved.minWorkers, maxWorkers: saved.maxWorkers };
      if (saved.minWorkers > 0) {
        void got.pool.scale(saved.minWorkers, saved.maxWorkers).then((r) => {
          if (r.failure) this.logger.error(`${r.failure.message}: workers failed to start`);
        });
      }
    }
    for (const { name, version, saved } of entries) {
      const entry = this.models.get(name);
      if (saved.defaultVersion && entry?.versions.has(version)) entry.defaultVersion = version;
    }
    this.logger.info(`Restored ${entries.length} model version(s) from the config snapshot`);
  }

  /** Load `load_models` at start-up (spec §1.6): failures are logged and skipped. */
  async loadStartupModels(items: readonly string[], storeEntries: () => Promise<string[]>): Promise<void> {
    const specs: Array<{ name?: string; url: string }> = [];
    for (const item of items) {
      if (item.toLowerCase() === 'all') {
        for (const url of await storeEntries()) specs.push({ url });
        continue;
      }
      const eq = item.indexOf('=');
      const spec = eq >= 0 ? { name: item.slice(0, eq).trim() || undefined, url: item.slice(eq + 1).trim() } : { url: item.trim() };
      if (spec.url) specs.push(spec);
    }
    for (const spec of specs) {
      try {
        const req = { ...defaultRegisterRequest(spec.url, this.config), modelName: spec.name };
        await this.register(req, { workers: this.config.startupWorkersPerModel });
        this.logger.info(`Model ${spec.name ?? spec.url} loaded.`);
      } catch (err) {
        const why = err instanceof ServeError ? err.message : String(err);
        this.logger.error(`Failed to load model: ${spec.url} (${why})`);
        this.auditLocalFailure('load', spec.name ?? spec.url, err);
      }
    }
  }

  private auditLocalFailure(action: string, model: string, err: unknown, version?: string): void {
    const status = err instanceof ServeError ? err.status : 500;
    this.options.audit?.append({
      remote: 'local',
      key: 'none',
      action,
      model,
      version: version ?? null,
      outcome: status < 500 ? 'refused' : 'failed',
      status,
      reason: err instanceof ServeError ? err.message : 'internal error',
    });
  }

  async shutdown(): Promise<void> {
    const all = [...this.models.values()].flatMap((e) => [...e.versions.values()]);
    this.models.clear();
    await Promise.all(
      all.map(async (v) => {
        await v.pool.shutdown().catch(() => undefined);
        await v.archive.cleanup().catch(() => undefined);
      }),
    );
  }
}

/** model-config.yaml's `onnxruntime:` session settings; a bad one refuses the model (400, naming the key). */
function ortSettingsOf(archive: ModelArchive): OrtSessionSettings {
  try {
    return parseOrtSection(archive.config?.extra['onnxruntime']);
  } catch (e) {
    throw invalidModel(e instanceof Error ? e.message : String(e));
  }
}
