/** One registered model version: its archive, settings and worker pool, and how describe shows it. */
import type { ModelArchive } from '../archive/types.js';
import type { ServiceEnvelope } from '../config/types.js';
import type { WorkerPool } from '../runtime/pool.js';
import type { ModelSignature } from '../runtime/types.js';
import type { ModelSettings } from './settings.js';

export interface ModelVersionInit {
  name: string;
  version: string;
  url: string;
  runtime: string;
  handler?: string;
  archive: ModelArchive;
  modelFile: string;
  settings: ModelSettings;
  pool: WorkerPool;
  loadedAtStartup: boolean;
  downloadedTo?: string;
  /** SHA-256 of the archive it was loaded from (registry/integrity.ts). */
  sha256?: string;
  /** How `/predictions` bodies are read and written (config `service_envelope`, else the manifest's `envelope`). */
  envelope?: ServiceEnvelope;
}

/** TorchServe's describe date: local time, literal `Z` (spec §0.1). */
export function javaDate(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:` +
    `${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}Z`
  );
}

export class ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly url: string;
  readonly runtime: string;
  readonly handler?: string;
  readonly archive: ModelArchive;
  readonly modelFile: string;
  readonly pool: WorkerPool;
  readonly loadedAtStartup: boolean;
  readonly downloadedTo?: string;
  readonly envelope?: ServiceEnvelope;
  readonly sha256?: string;
  settings: ModelSettings;
  /** When ready workers first fell below minWorkers (for /ping's maxRetryTimeoutInSec window). */
  private belowTargetSince: number | undefined;

  constructor(init: ModelVersionInit) {
    this.name = init.name;
    this.version = init.version;
    this.url = init.url;
    this.runtime = init.runtime;
    this.handler = init.handler;
    this.archive = init.archive;
    this.modelFile = init.modelFile;
    this.settings = init.settings;
    this.pool = init.pool;
    this.loadedAtStartup = init.loadedAtStartup;
    this.downloadedTo = init.downloadedTo;
    this.envelope = init.envelope;
    if (init.sha256 !== undefined) this.sha256 = init.sha256;
  }

  /** Whether the model runs the default ONNX handler (which takes tensor-native requests). */
  get defaultHandler(): boolean {
    return this.handler === undefined;
  }

  /**
   * TorchServe: unhealthy when fewer healthy workers than minWorkers, a worker counting as
   * healthy until it has been failing for maxRetryTimeoutInSec. We track the time spent below target.
   */
  isHealthy(now = Date.now()): boolean {
    if (this.pool.readyWorkers() >= this.settings.minWorkers) {
      this.belowTargetSince = undefined;
      return true;
    }
    this.belowTargetSince ??= now;
    return now - this.belowTargetSince <= this.settings.maxRetryTimeoutInSec * 1000;
  }

  signature(): ModelSignature | undefined {
    return this.pool.signature();
  }

  /** The describe element, fields in TorchServe's serialisation order (spec §3.7). */
  describe(customized: boolean): Record<string, unknown> {
    const s = this.settings;
    const yaml = this.archive.config;
    const entry: Record<string, unknown> = {
      modelName: this.name,
      modelVersion: this.version,
      modelUrl: this.url,
      runtime: this.runtime,
      minWorkers: s.minWorkers,
      maxWorkers: s.maxWorkers,
      batchSize: s.batchSize,
      maxBatchDelay: s.maxBatchDelay,
      responseTimeout: s.responseTimeout,
      startupTimeout: s.startupTimeout,
      maxRetryTimeoutInSec: s.maxRetryTimeoutInSec,
      clientTimeoutInMills: s.clientTimeoutInMills,
      parallelType: '',
      parallelLevel: 0,
      deviceType: s.deviceType,
      continuousBatching: yaml?.continuousBatching ?? false,
      useJobTicket: yaml?.useJobTicket ?? false,
      useVenv: yaml?.useVenv ?? false,
      stateful: yaml?.sequenceBatching ?? false,
      sequenceMaxIdleMSec: yaml?.sequenceMaxIdleMSec ?? 0,
      sequenceTimeoutMSec: yaml?.sequenceTimeoutMSec ?? 0,
      maxNumSequence: (yaml?.sequenceMaxIdleMSec ?? 0) > 0 ? (yaml?.maxNumSequence ?? 1) : 0,
      maxSequenceJobQueueSize: (yaml?.sequenceMaxIdleMSec ?? 0) > 0 ? (yaml?.maxSequenceJobQueueSize ?? 1) : 0,
      loadedAtStartup: this.loadedAtStartup,
      // onnxserve's: what the version was loaded from, for integrity checks (absent in TorchServe).
      ...(this.sha256 === undefined ? {} : { sha256: this.sha256 }),
      workers: this.pool.workers().map((w) => ({
        id: w.id,
        startTime: javaDate(w.startTime),
        status: w.status,
        memoryUsage: w.memoryUsage,
        pid: w.pid,
        gpu: w.gpu,
        gpuUsage: 'N/A',
      })),
      jobQueueStatus: this.pool.queueStatus(),
    };
    // TorchServe asks the handler; the ONNX handler's metadata is the model signature.
    if (customized) entry.customizedMetadata = this.signature() ?? {};
    return entry;
  }
}
