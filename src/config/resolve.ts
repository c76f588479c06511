/**
 * Builds the one frozen ServerConfig from CLI flags, environment and config.properties.
 * Does the checks of the Python launcher (spec §1.4) and then ConfigManager's merge (spec §2.1),
 * in that order, so the first problem reported is the one TorchServe would report.
 * Pure: all I/O goes through the callbacks in ConfigSources.
 */
import path from 'node:path';
import { StartupError } from '../errors.js';
import { parseBindAddress } from './address.js';
import { applyEnvOverrides, substitutePlaceholders } from './env.js';
import { parseProperties, PropertiesSyntaxError } from './properties.js';
import type { ServerConfig } from './types.js';
import { parseModelSnapshot, SnapshotError, type ModelSnapshot } from '../snapshot/format.js';
import type { SnapshotSearch } from '../snapshot/store.js';
import { LogConfigError, parseLogConfig, type LogConfig } from '../logging/config.js';
import { allowedUrls, boolProp, intProp, metricsMode, modelsJson, serviceEnvelope, tokenExpirationMin } from './values.js';

/** The start-up flags that shape the configuration (see spec §1.1). */
export interface CliOptions {
  tsConfig?: string;
  modelStore?: string;
  models?: string[];
  ncs?: boolean;
  enableModelApi?: boolean;
  /** `--model-control-mode none|explicit|poll`. */
  modelControlMode?: string;
  disableTokenAuth?: boolean;
  logConfig?: string;
  foreground?: boolean;
}

export interface ConfigSources {
  cli: CliOptions;
  env: Readonly<Record<string, string | undefined>>;
  /** Absolute; relative paths are resolved against it. */
  cwd: string;
  cpuCount: number;
  /** File contents (UTF-8), or undefined when it can't be read. */
  readFile(path: string): string | undefined;
  isDirectory(path: string): boolean;
  /** True for an existing regular file (not a directory). */
  fileExists(path: string): boolean;
  /** The newest complete config snapshot under `<cwd>/<logLocation>/config` (spec §8). */
  latestSnapshot?(logLocation: string): SnapshotSearch;
}

interface ConfigFile {
  /** As named (env, flag or `config.properties`); TorchServe stores this as `tsConfigFile`. */
  raw: string;
  abs: string;
  props: Record<string, string>;
}

const emptyProps = (): Record<string, string> => Object.create(null) as Record<string, string>;

/**
 * Env TS_CONFIG_FILE > --ts-config > ./config.properties. A named file must exist; the implicit
 * one is optional. As in TorchServe, TS_CONFIG_FILE set but empty means "no file at all", and an
 * empty --ts-config falls back to ./config.properties.
 */
function loadConfigFile(src: ConfigSources, warnings: string[]): ConfigFile | undefined {
  const fromEnv = src.env.TS_CONFIG_FILE;
  const named = fromEnv ?? (src.cli.tsConfig === '' ? undefined : src.cli.tsConfig);
  if (named === '') return undefined;
  // Spec §2.1: with no file named and snapshots on, the newest snapshot replaces config.properties.
  if (named === undefined && src.cli.ncs !== true && src.latestSnapshot) {
    const search = src.latestSnapshot(src.env.LOG_LOCATION ?? 'logs');
    for (const s of search.skipped) warnings.push(`Skipping a damaged config snapshot, ${s}`);
    if (search.found) return { raw: search.found.file, abs: search.found.file, props: search.found.properties };
  }
  const raw = named ?? 'config.properties';
  const abs = path.resolve(src.cwd, raw);
  const text = src.fileExists(abs) ? src.readFile(abs) : undefined;
  if (text === undefined) {
    if (named !== undefined) throw new StartupError(`--ts-config file not found: ${raw}`);
    return undefined;
  }
  try {
    return { raw, abs, props: parseProperties(text) };
  } catch (e) {
    if (e instanceof PropertiesSyntaxError) throw new StartupError(`Invalid configuration: ${e.message} (${raw})`);
    throw e;
  }
}

/** Recursively freezes plain data (and the RegExps, which stay usable: none has g/y flags). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** Integer keys TorchServe parses at start-up that we don't otherwise use: checked, so typos surface. */
/**
 * `model_control_mode` (Triton's none|explicit|poll) and TorchServe's `enable_model_api`:
 * explicit ≡ model API on, none ≡ off (the default), poll ≡ off with the model store watched. A mode
 * alone decides the model API; enable_model_api alone decides the mode; both set must agree —
 * e.g. `none` with enable_model_api=true is a start-up error, never a silent override.
 */
function controlMode(props: Record<string, string>): Pick<ServerConfig, 'enableModelApi' | 'modelControlMode' | 'modelStorePollSecs'> {
  const raw = props.model_control_mode?.trim().toLowerCase();
  const modelStorePollSecs = intProp(props, 'model_store_poll_secs', 10, true);
  const apiSet = props.enable_model_api !== undefined;
  const api = boolProp(props, 'enable_model_api', false);
  if (raw === undefined || raw === '') return { enableModelApi: api, modelControlMode: api ? 'explicit' : 'none', modelStorePollSecs };
  if (raw !== 'none' && raw !== 'explicit' && raw !== 'poll') {
    throw new StartupError(`Invalid configuration: model_control_mode must be none, explicit or poll, got "${props.model_control_mode}"`);
  }
  const wants = raw === 'explicit';
  if (apiSet && api !== wants) {
    throw new StartupError(
      `Invalid configuration: model_control_mode=${raw} conflicts with enable_model_api=${api} (${raw === 'explicit' ? 'explicit needs the model API on' : `${raw} keeps the model API off`}); set one of them, or both consistently`,
    );
  }
  return { enableModelApi: wants, modelControlMode: raw, modelStorePollSecs };
}

/** A byte count that may pass Java's int range (a positive whole number up to 2^53). */
function longProp(props: Record<string, string>, key: string, def: number): number {
  const raw = props[key];
  if (raw === undefined) return def;
  const t = raw.trim();
  const n = /^\+?\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new StartupError(`Invalid configuration: ${key} must be a positive integer, got "${raw}"`);
  return n;
}

/**
 * `<prefix>_max_connection_age_ms` / `<prefix>_max_connection_age_grace_ms` (TorchServe: Long.MAX,
 * i.e. never). A value past a timer's range (2^31-1 ms, about 24 days) also means never.
 */
function connectionAge(props: Record<string, string>, prefix: string): { ageMs?: number; graceMs?: number } {
  const read = (key: string): number | undefined => {
    const raw = props[key];
    if (raw === undefined) return undefined;
    const t = raw.trim();
    if (!/^\+?\d+$/.test(t)) throw new StartupError(`Invalid configuration: ${key} must be a non-negative integer, got "${raw}"`);
    const n = Number(t);
    return n > 0 && n <= 2 ** 31 - 1 ? n : undefined;
  };
  const ageMs = read(`${prefix}_max_connection_age_ms`);
  const graceMs = read(`${prefix}_max_connection_age_grace_ms`);
  return { ...(ageMs === undefined ? {} : { ageMs }), ...(graceMs === undefined ? {} : { graceMs }) };
}

/** Covers a worker wake-up plus a tiny model's run on the 2-core VM (docs/architecture.md, "Busy polling"). */
export const DEFAULT_BUSY_POLL_US = 300;

const CHECKED_ONLY_INT_KEYS = ['number_of_netty_threads', 'netty_client_threads', 'initial_worker_port', 'metric_time_interval'];

export function resolveConfig(src: ConfigSources): ServerConfig {
  const { cli, env, cwd } = src;

  // --- The launcher's checks (spec §1.4), in its order. ---
  let logConfig: LogConfig | undefined;
  if (cli.logConfig !== undefined && cli.logConfig !== '') {
    const abs = path.resolve(cwd, cli.logConfig);
    if (!src.fileExists(abs)) throw new StartupError(`--log-config file not found: ${abs}`);
    const text = src.readFile(abs);
    if (text === undefined) throw new StartupError(`--log-config: cannot read ${abs}`);
    try {
      logConfig = parseLogConfig(text, abs);
    } catch (e) {
      if (e instanceof LogConfigError) throw new StartupError(e.message);
      throw e;
    }
  }
  // TorchServe passes TEMP to the JVM as java.io.tmpdir: where archives are extracted.
  const temp = env.TEMP;
  if (temp !== undefined && !src.isDirectory(path.resolve(cwd, temp))) {
    throw new StartupError(`Invalid temp directory: ${temp}, please check TEMP environment variable.`);
  }
  const warnings: string[] = [];
  const file = loadConfigFile(src, warnings);
  const props = file ? file.props : emptyProps();

  // Deviation: model_store is also taken from an implicit ./config.properties.
  const flagStore = nonEmpty(cli.modelStore);
  if (flagStore !== undefined) {
    if (!src.isDirectory(path.resolve(cwd, flagStore))) {
      throw new StartupError(`--model-store directory not found: ${flagStore}`);
    }
  } else if (nonEmpty(props.model_store) === undefined) {
    throw new StartupError('Missing mandatory parameter --model-store');
  }

  // --- ConfigManager's merge (spec §2.1): file → $$VAR$$ → CLI → env. ---
  substitutePlaceholders(props, env);
  if (file) props.tsConfigFile = file.raw;
  if (flagStore === undefined) {
    const fileStore = props.model_store ?? '';
    if (fileStore === '' || !src.isDirectory(path.resolve(cwd, fileStore))) {
      throw new StartupError(`--model-store directory not found: ${fileStore}`);
    }
  }

  if (flagStore !== undefined) props.model_store = flagStore;
  if (cli.models !== undefined && cli.models.length > 0) props.load_models = cli.models.join(',');
  // These two flags can only switch on; env (below) may still switch off.
  if (cli.enableModelApi === true) props.enable_model_api = 'true';
  if (cli.modelControlMode !== undefined) props.model_control_mode = cli.modelControlMode;
  if (cli.disableTokenAuth === true) props.disable_token_authorization = 'true';
  if (props.workflow_store === undefined) props.workflow_store = props.model_store as string;
  // number_of_gpu := min(detected, configured); we never detect accelerators.
  intProp(props, 'number_of_gpu', 0);
  props.number_of_gpu = '0';

  const storeBeforeEnv = props.model_store as string;
  const enableEnvvarsConfig = boolProp(props, 'enable_envvars_config', false);
  if (enableEnvvarsConfig) applyEnvOverrides(props, env);
  const modelStore = props.model_store ?? '';
  if (modelStore !== storeBeforeEnv && (modelStore === '' || !src.isDirectory(path.resolve(cwd, modelStore)))) {
    throw new StartupError(`Invalid configuration: model_store directory not found: ${modelStore}`);
  }

  // --- Typed values with TorchServe's defaults (spec §2.3). ---
  const inferenceAddress = parseBindAddress('inference_address', props.inference_address ?? 'http://127.0.0.1:8080');
  const managementAddress = parseBindAddress('management_address', props.management_address ?? 'http://127.0.0.1:8081');
  const metricsAddress = parseBindAddress('metrics_address', props.metrics_address ?? 'http://127.0.0.1:8082');

  const defaultWorkersPerModel = intProp(props, 'default_workers_per_model', 0);
  const jobQueueSize = intProp(props, 'job_queue_size', 100, true);
  const maxRequestSize = intProp(props, 'max_request_size', 6553500, true);
  const maxResponseSize = intProp(props, 'max_response_size', 6553500);
  const defaultResponseTimeout = intProp(props, 'default_response_timeout', 120);
  const defaultStartupTimeout = intProp(props, 'default_startup_timeout', 120);
  const unregisterModelTimeout = intProp(props, 'unregister_model_timeout', 120);
  const ortIntraOpThreads = intProp(props, 'ort_intra_op_threads', 0);
  const busyPollUs = intProp(props, 'busy_poll_us', DEFAULT_BUSY_POLL_US);
  const requestTimeoutS = intProp(props, 'request_timeout_s', 60, true);
  const keepAliveTimeoutS = intProp(props, 'keep_alive_timeout_s', 72, true);
  const maxHeaderSize = intProp(props, 'max_header_size', 8192, true);
  const drainTimeoutS = intProp(props, 'drain_timeout_s', 30);
  // TorchServe's gRPC inference listener: 127.0.0.1:7070 by default (CVE-2024-35199: never all interfaces).
  const grpcInferenceAddress = nonEmpty(props.grpc_inference_address) ?? '127.0.0.1';
  const grpcInferencePort = intProp(props, 'grpc_inference_port', 7070);
  const grpcManagementAddress = nonEmpty(props.grpc_management_address) ?? '127.0.0.1';
  const grpcManagementPort = intProp(props, 'grpc_management_port', 7071);
  const grpcConnectionAge = {
    inference: connectionAge(props, 'grpc_inference'),
    management: connectionAge(props, 'grpc_management'),
  };
  const loadLimits = {
    maxDownloadBytes: longProp(props, 'max_model_download_size', 4 * 1024 ** 3),
    downloadTimeoutMs: intProp(props, 'model_download_timeout', 600, true) * 1000,
    maxUnpackedBytes: longProp(props, 'max_model_unpacked_size', 4 * 1024 ** 3),
    maxEntries: intProp(props, 'max_model_archive_entries', 10_000, true),
  };
  for (const key of CHECKED_ONLY_INT_KEYS) intProp(props, key, 0);

  const envelope = serviceEnvelope(props.service_envelope);
  const debug = boolProp(props, 'debug', false);
  const cpuCount = Number.isFinite(src.cpuCount) ? Math.max(1, Math.floor(src.cpuCount)) : 1;
  // ConfigManager.getDefaultWorkers: debug wins, then the configured value, then (no GPUs) #CPUs.
  const startupWorkersPerModel = debug ? 1 : defaultWorkersPerModel > 0 ? defaultWorkersPerModel : cpuCount;

  let modelSnapshot: ModelSnapshot | undefined;
  if (props.model_snapshot !== undefined) {
    try {
      modelSnapshot = parseModelSnapshot(props.model_snapshot);
    } catch (e) {
      if (e instanceof SnapshotError) throw new StartupError(`Invalid configuration: ${e.message}`);
      throw e;
    }
  }

  const config: ServerConfig = {
    ...(file ? { tsConfigFile: file.abs } : {}),
    inferenceAddress,
    managementAddress,
    metricsAddress,
    modelStore: path.resolve(cwd, modelStore),
    loadModels: (props.load_models ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    models: modelsJson(props.models),
    defaultWorkersPerModel,
    startupWorkersPerModel,
    jobQueueSize,
    maxRequestSize,
    maxResponseSize,
    defaultResponseTimeout,
    defaultStartupTimeout,
    unregisterModelTimeout,
    ...optional('corsAllowedOrigin', props.cors_allowed_origin),
    ...optional('corsAllowedMethods', props.cors_allowed_methods),
    ...optional('corsAllowedHeaders', props.cors_allowed_headers),
    allowedUrls: allowedUrls(props.allowed_urls),
    allowedUrlsConfigured: props.allowed_urls !== undefined,
    ...optional('defaultServiceHandler', props.default_service_handler),
    ...(envelope === undefined ? {} : { serviceEnvelope: envelope }),
    enableMetricsApi: boolProp(props, 'enable_metrics_api', true),
    metricsMode: metricsMode(props.metrics_mode),
    enableEnvvarsConfig,
    ...controlMode(props),
    disableTokenAuthorization: boolProp(props, 'disable_token_authorization', false),
    tokenExpirationMin: tokenExpirationMin(props.token_expiration_min),
    noConfigSnapshots: cli.ncs === true,
    ...(modelSnapshot ? { modelSnapshot } : {}),
    startupWarnings: warnings,
    ...(logConfig ? { logConfig } : {}),
    debug,
    ortIntraOpThreads,
    busyPollUs,
    requestTimeoutS,
    keepAliveTimeoutS,
    maxHeaderSize,
    drainTimeoutS,
    grpcInferenceAddress,
    grpcInferencePort,
    grpcManagementAddress,
    grpcManagementPort,
    enableGrpcSsl: boolProp(props, 'enable_grpc_ssl', false),
    grpcConnectionAge,
    loadLimits,
    tls: {
      ...(nonEmpty(props.certificate_file) ? { certificateFile: props.certificate_file } : {}),
      ...(nonEmpty(props.private_key_file) ? { privateKeyFile: props.private_key_file } : {}),
      ...(nonEmpty(props.keystore) ? { keystore: props.keystore } : {}),
      ...(nonEmpty(props.keystore_pass) ? { keystorePass: props.keystore_pass } : {}),
      ...(nonEmpty(props.keystore_type) ? { keystoreType: props.keystore_type } : {}),
    },
    cpuCount,
    // Read even without enable_envvars_config, as TorchServe does.
    logLocation: env.LOG_LOCATION ?? 'logs',
    tempDir: temp !== undefined ? path.resolve(cwd, temp) : undefined,
    properties: props,
  };
  return deepFreeze(config);
}

/** `{ [name]: value }` when set, else nothing — keeps optional fields absent rather than undefined. */
function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}
