/**
 * Environment-variable inputs to the configuration (spec §2.1 steps 2 and 4).
 */
import { StartupError } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Keys that ConfigManager declares as `TS_*` constants, i.e. the only keys env can override
 * (env name = constant name, usually TS_ + UPPER(key)). Keys absent here — enable_envvars_config,
 * use_env_allowed_urls, models, model_snapshot, version, system_metrics_cmd, use_native_io,
 * io_ratio, metric_time_interval, vmargs, plugins_path, python — can't come from env.
 */
const PLAIN_ENV_KEYS = [
  'debug',
  'inference_address',
  'management_address',
  'metrics_address',
  'load_models',
  'blacklist_env_vars',
  'default_workers_per_model',
  'default_response_timeout',
  'default_startup_timeout',
  'unregister_model_timeout',
  'number_of_netty_threads',
  'netty_client_threads',
  'job_queue_size',
  'number_of_gpu',
  'metrics_config',
  'metrics_mode',
  'model_metrics_auto_detect',
  'disable_system_metrics',
  'ipex_enable',
  'cpu_launcher_enable',
  'cpu_launcher_args',
  'ipex_gpu_enable',
  'async_logging',
  'cors_allowed_origin',
  'cors_allowed_methods',
  'cors_allowed_headers',
  'decode_input_request',
  'keystore',
  'keystore_pass',
  'keystore_type',
  'certificate_file',
  'private_key_file',
  'max_request_size',
  'max_response_size',
  'limit_max_image_pixels',
  'default_service_handler',
  'service_envelope',
  'model_server_home',
  'model_store',
  'prefer_direct_buffer',
  'allowed_urls',
  'install_py_dep_per_model',
  'enable_metrics_api',
  'grpc_inference_address',
  'grpc_management_address',
  'grpc_inference_port',
  'grpc_management_port',
  'grpc_inference_max_connection_age_ms',
  'grpc_management_max_connection_age_ms',
  'grpc_inference_max_connection_age_grace_ms',
  'grpc_management_max_connection_age_grace_ms',
  'enable_grpc_ssl',
  'initial_worker_port',
  'initial_distribution_port',
  'workflow_store',
  'cpp_log_config',
  'disable_token_authorization',
  'enable_model_api',
  // onnxserve's own key.
  'ort_intra_op_threads',
  'busy_poll_us',
  'request_timeout_s',
  'keep_alive_timeout_s',
  'max_header_size',
  'drain_timeout_s',
  'model_control_mode',
  'model_store_poll_secs',
  'max_model_download_size',
  'model_download_timeout',
  'max_model_unpacked_size',
  'max_model_archive_entries',
] as const;

/** env var name → property key. */
export const ENV_OVERRIDES: ReadonlyMap<string, string> = new Map<string, string>([
  ...PLAIN_ENV_KEYS.map((k): [string, string] => [`TS_${k.toUpperCase()}`, k]),
  // Constants whose name is not TS_ + UPPER(key).
  ['TS_OPEN_INFERENCE_PROTOCOL', 'ts_open_inference_protocol'],
  ['TS_TOKEN_EXPIRATION_TIME_MIN', 'token_expiration_min'],
  ['TS_HEADER_KEY_SEQUENCE_ID', 'ts_header_key_sequence_id'],
  ['TS_HEADER_KEY_SEQUENCE_START', 'ts_header_key_sequence_start'],
  ['TS_HEADER_KEY_SEQUENCE_END', 'ts_header_key_sequence_end'],
]);

/** ConfigManager's placeholder pattern: `$$NAME$$`, NAME at least two non-`$` chars. */
const PLACEHOLDER = /\$\$([^$]+[^$])\$\$/g;

/**
 * Replaces `$$NAME$$` in every value with env NAME, in place. Applied to file values only, before
 * CLI overrides, as TorchServe does. The env value is inserted literally (Java would choke on `$`).
 */
export function substitutePlaceholders(props: Record<string, string>, env: Env): void {
  for (const [key, value] of Object.entries(props)) {
    props[key] = value.replace(PLACEHOLDER, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new StartupError(`Invalid configuration: Invalid Environment Variable ${name}`);
      return v;
    });
  }
}

/**
 * Env beats everything when enable_envvars_config=true: every set (even empty) override var
 * replaces its key. TS_ALLOWED_URLS only counts when the file says use_env_allowed_urls=true,
 * so a stray env var cannot widen where models are downloaded from.
 */
export function applyEnvOverrides(props: Record<string, string>, env: Env): void {
  const envAllowedUrls = (props.use_env_allowed_urls ?? 'false').toLowerCase() === 'true';
  for (const [name, key] of ENV_OVERRIDES) {
    if (name === 'TS_ALLOWED_URLS' && !envAllowedUrls) continue;
    const v = env[name];
    if (v !== undefined) props[key] = v;
  }
}
