/**
 * Per-model settings, resolved with TorchServe's precedence (spec §3.2 "Value resolution",
 * §1.6 start-up workers): API value > model-config.yaml > `models` JSON > global default.
 * Pure, so the odd rules (yaml timeouts beating the API) are unit-tested in one place.
 */
import type { ModelYamlConfig } from '../archive/types.js';
import type { ModelsJsonParams } from '../config/types.js';

/** Sentinels TorchServe uses for "not given" on the register API. */
export const UNSET_BATCH_SIZE = -1;
export const UNSET_MAX_BATCH_DELAY = -100;
export const UNSET_TIMEOUT = -1;

export interface ModelSettings {
  minWorkers: number;
  maxWorkers: number;
  batchSize: number;
  maxBatchDelay: number;
  responseTimeout: number;
  startupTimeout: number;
  jobQueueSize: number;
  maxRetryTimeoutInSec: number;
  clientTimeoutInMills: number;
  deviceType: 'cpu' | 'gpu';
}

export interface SettingsInput {
  /** Register-API values, with the sentinels above when not given. */
  api: { batchSize: number; maxBatchDelay: number; responseTimeout: number; startupTimeout: number };
  /** Workers asked for before yaml: `initial_workers` (API) or the start-up default. */
  workers: number;
  yaml?: ModelYamlConfig;
  json?: ModelsJsonParams;
  defaults: { responseTimeout: number; startupTimeout: number; jobQueueSize: number };
}

const positive = (v: number | undefined): v is number => v !== undefined && Number.isInteger(v) && v > 0;

export function resolveModelSettings(input: SettingsInput): ModelSettings {
  const { api, yaml, json, defaults } = input;

  const batchSize =
    api.batchSize !== UNSET_BATCH_SIZE ? api.batchSize : positive(yaml?.batchSize) ? yaml.batchSize : positive(json?.batchSize) ? json.batchSize : 1;
  const maxBatchDelay =
    api.maxBatchDelay !== UNSET_MAX_BATCH_DELAY
      ? api.maxBatchDelay
      : positive(yaml?.maxBatchDelay)
        ? yaml.maxBatchDelay
        : positive(json?.maxBatchDelay)
          ? json.maxBatchDelay
          : 100;

  // ⚠ TorchServe: whenever an archive has a yaml, its timeouts (default 120) win over the API.
  const timeout = (apiValue: number, yamlValue: number | undefined, jsonValue: number | undefined, global: number) =>
    yamlValue !== undefined ? yamlValue : positive(jsonValue) ? jsonValue : apiValue !== UNSET_TIMEOUT && apiValue > 0 ? apiValue : global;

  let minWorkers = input.workers;
  let maxWorkers = input.workers;
  if (positive(json?.minWorkers)) minWorkers = json.minWorkers;
  if (positive(json?.maxWorkers)) maxWorkers = json.maxWorkers;
  if (maxWorkers < minWorkers) maxWorkers = minWorkers;
  if (yaml?.minWorkers !== undefined && yaml.maxWorkers !== undefined && yaml.minWorkers > 0 && yaml.maxWorkers >= yaml.minWorkers) {
    minWorkers = yaml.minWorkers;
    maxWorkers = yaml.maxWorkers;
  }

  return {
    minWorkers: Math.max(0, minWorkers),
    maxWorkers: Math.max(0, maxWorkers),
    batchSize: Math.max(1, batchSize),
    maxBatchDelay: Math.max(0, maxBatchDelay),
    responseTimeout: timeout(api.responseTimeout, yaml?.responseTimeout, json?.responseTimeout, defaults.responseTimeout),
    startupTimeout: timeout(api.startupTimeout, yaml?.startupTimeout, json?.startupTimeout, defaults.startupTimeout),
    jobQueueSize: positive(yaml?.jobQueueSize) ? yaml.jobQueueSize : defaults.jobQueueSize,
    maxRetryTimeoutInSec: yaml?.maxRetryTimeoutInSec ?? 300,
    clientTimeoutInMills: yaml?.clientTimeoutInMills ?? 0,
    deviceType: 'cpu',
  };
}

/**
 * ONNX Runtime intra-op threads per worker: configured, else the cores shared out among the
 * model's workers, so workers × threads does not oversubscribe the machine.
 */
export function intraOpThreadsFor(configured: number, cpuCount: number, workers: number): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.floor(cpuCount / Math.max(1, workers)));
}
