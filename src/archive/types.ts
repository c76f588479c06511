/** MAR-INF/MANIFEST.json, as written by torch-model-archiver (spec §7.2). */
export interface Manifest {
  createdOn?: string;
  runtime: string;
  description?: string;
  archiverVersion?: string;
  model: {
    modelName?: string;
    modelVersion?: string;
    serializedFile?: string;
    handler?: string;
    modelFile?: string;
    requirementsFile?: string;
    configFile?: string;
    envelope?: string;
    description?: string;
  };
}

/** model-config.yaml frontend keys (spec §7.3), validated; unknown keys kept in `extra`. */
export interface ModelYamlConfig {
  minWorkers?: number;
  maxWorkers?: number;
  batchSize?: number;
  maxBatchDelay?: number;
  responseTimeout: number;
  startupTimeout: number;
  deviceType?: 'cpu' | 'gpu';
  deviceIds?: number[];
  parallelType?: string;
  parallelLevel?: number;
  maxRetryTimeoutInSec: number;
  clientTimeoutInMills: number;
  jobQueueSize?: number;
  useJobTicket?: boolean;
  continuousBatching?: boolean;
  sequenceBatching?: boolean;
  asyncCommunication?: boolean;
  useVenv?: boolean;
  sequenceMaxIdleMSec?: number;
  sequenceTimeoutMSec?: number;
  maxSequenceJobQueueSize?: number;
  maxNumSequence?: number;
  /** Every top-level key that is not a frontend key (handler settings etc.). */
  extra: Record<string, unknown>;
}

/** An opened model archive: files on disk in a private folder, plus its parsed metadata. */
export interface ModelArchive {
  /** Folder holding the archive's files (a private temp copy for .mar/.tar.gz). */
  dir: string;
  manifest: Manifest;
  /** Parsed model-config.yaml, when the manifest names one (or one is at the root). */
  config?: ModelYamlConfig;
  /** Warnings worth logging (e.g. ignored yaml keys). */
  warnings: string[];
  /** Removes the private temp folder (no-op for plain folders used in place). */
  cleanup(): Promise<void>;
}
