import type { ModelSnapshot } from '../snapshot/format.js';
import type { LogConfig } from '../logging/config.js';
/** Where a listener binds. `unix` addresses carry a socket path instead of host/port. */
export interface BindAddress {
  scheme: 'http' | 'https' | 'unix';
  host: string;
  port: number;
  /** Socket path for `unix:` addresses. */
  path?: string;
  /** The address exactly as configured, for logs. */
  raw: string;
}

/** Per-model settings from the `models` JSON property: {name: {version: params}}. */
export interface ModelsJsonParams {
  minWorkers?: number;
  maxWorkers?: number;
  batchSize?: number;
  maxBatchDelay?: number;
  responseTimeout?: number;
  startupTimeout?: number;
  runtimeType?: string;
  defaultVersion?: boolean;
  marName?: string;
  /** onnxserve's: the expected SHA-256 of this version's archive (integrity pinning). */
  sha256?: string;
}

/** TorchServe's request envelopes (`service_envelope`, manifest `model.envelope`): how `/predictions` bodies are read and written. */
export type ServiceEnvelope = 'kserve' | 'kservev2' | 'json' | 'body';

export const SERVICE_ENVELOPES: readonly ServiceEnvelope[] = ['kserve', 'kservev2', 'json', 'body'];

/** The resolved, frozen server configuration. Built once by `resolveConfig`, then passed down. */
export interface ServerConfig {
  /** Path of the properties file that was read, if any (TorchServe's `tsConfigFile`). */
  tsConfigFile?: string;
  inferenceAddress: BindAddress;
  managementAddress: BindAddress;
  metricsAddress: BindAddress;
  modelStore?: string;
  /** `load_models` split on ',' (CLI `--models` values are joined the same way). Empty ⇒ none. */
  loadModels: string[];
  /** Parsed `models` property. */
  models: Record<string, Record<string, ModelsJsonParams>>;
  defaultWorkersPerModel: number;
  /** Workers per model when default_workers_per_model is 0 (TorchServe: #GPUs else #CPUs). */
  startupWorkersPerModel: number;
  jobQueueSize: number;
  maxRequestSize: number;
  maxResponseSize: number;
  defaultResponseTimeout: number;
  defaultStartupTimeout: number;
  unregisterModelTimeout: number;
  corsAllowedOrigin?: string;
  corsAllowedMethods?: string;
  corsAllowedHeaders?: string;
  /** Compiled allowed_urls, each to be full-matched case-insensitively. */
  allowedUrls: RegExp[];
  /** Whether allowed_urls was configured (else TorchServe logs a warning). */
  allowedUrlsConfigured: boolean;
  defaultServiceHandler?: string;
  /** `service_envelope` (env `TS_SERVICE_ENVELOPE`): applies to every model, over the manifest's `envelope`. */
  serviceEnvelope?: ServiceEnvelope;
  enableMetricsApi: boolean;
  metricsMode: 'log' | 'prometheus' | 'legacy';
  enableEnvvarsConfig: boolean;
  enableModelApi: boolean;
  /** Triton-style model control (issue 8): none (fixed at start), explicit (model API on), poll (the store is watched). */
  modelControlMode: 'none' | 'explicit' | 'poll';
  /** poll mode: how often the model store is scanned. */
  modelStorePollSecs: number;
  disableTokenAuthorization: boolean;
  tokenExpirationMin: number;
  noConfigSnapshots: boolean;
  /** `model_snapshot` of the file or snapshot read: the models to restore instead of load_models (spec §8). */
  modelSnapshot?: ModelSnapshot;
  /** Parsed --log-config (src/logging/config.ts); absent: TorchServe's files and layouts. */
  logConfig?: LogConfig;
  /** Problems found while resolving that do not stop start-up (logged as WARN). */
  startupWarnings: readonly string[];
  debug: boolean;
  /** onnxserve's own: ONNX Runtime intra-op threads per worker (0 ⇒ chosen from cores/workers). */
  ortIntraOpThreads: number;
  /**
   * `busy_poll_us` (onnxserve's own): while a single request is in flight on the whole server, the
   * main thread and its worker busy-poll for each other's reply up to this many µs instead of
   * sleeping (runtime/lane.ts); 0 turns it off.
   */
  busyPollUs: number;
  /**
   * onnxserve's connection limits (TorchServe's Netty has fixed ones): a request's headers must
   * arrive within min(10 s, this) and the whole request within `request_timeout_s` (slow-client
   * / slowloris protection); an idle keep-alive connection closes after `keep_alive_timeout_s`
   * (72 s: longer than the 60 s of common load balancers, so they close first); request line plus
   * headers may take `max_header_size` bytes (Netty's 8192), beyond which the reply is 400
   * "Invalid HTTP message." as TorchServe's.
   */
  requestTimeoutS: number;
  keepAliveTimeoutS: number;
  maxHeaderSize: number;
  /** `drain_timeout_s` (onnxserve's, Triton's 30 s): how long a graceful stop waits for requests in progress. */
  drainTimeoutS: number;
  /** gRPC inference listener (`grpc_inference_address`, `grpc_inference_port`; 127.0.0.1:7070). */
  grpcInferenceAddress: string;
  grpcInferencePort: number;
  /** gRPC management listener (`grpc_management_address`, `grpc_management_port`; 127.0.0.1:7071). */
  grpcManagementAddress: string;
  grpcManagementPort: number;
  /** `enable_grpc_ssl`: both gRPC listeners serve TLS with `certificate_file`/`private_key_file` (or `keystore`). */
  enableGrpcSsl: boolean;
  /** `grpc_{inference,management}_max_connection_age_ms` and `..._grace_ms`; absent = never (TorchServe's Long.MAX). */
  grpcConnectionAge: {
    inference: { ageMs?: number; graceMs?: number };
    management: { ageMs?: number; graceMs?: number };
  };
  /**
   * What one registration may download and unpack (onnxserve's keys `max_model_download_size`,
   * `model_download_timeout` in seconds, `max_model_unpacked_size`, `max_model_archive_entries`).
   */
  loadLimits: { maxDownloadBytes: number; downloadTimeoutMs: number; maxUnpackedBytes: number; maxEntries: number };
  /** Key material for `https://` addresses (read only when one is configured; http/tls.ts). */
  tls: {
    certificateFile?: string;
    privateKeyFile?: string;
    keystore?: string;
    keystorePass?: string;
    keystoreType?: string;
  };
  /** Number of CPU cores seen at start-up. */
  cpuCount: number;
  /** LOG_LOCATION env or `logs` (relative to cwd). */
  logLocation: string;
  /** TEMP env (TorchServe's java.io.tmpdir): where archives are extracted; unset ⇒ the OS temp folder. */
  tempDir?: string;
  /** All properties as finally resolved (file + CLI + env), for snapshots and diagnostics. */
  properties: Readonly<Record<string, string>>;
}
