/**
 * Both gRPC listeners from the resolved config: which services each serves, its limits, TLS.
 * A bind or key failure is a StartupError naming the config keys, as for the HTTP listeners.
 */
import type { ServerConfig } from '../config/types.js';
import { StartupError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { AuditLog } from '../security/audit.js';
import type { TokenAuthority } from '../security/tokens.js';
import type { ModelConfig } from '../wallaroo/catalog.js';
import type { GrpcArrivals } from './call.js';
import { serverReady } from '../http/oip/routes.js';
import { loadTlsMaterial } from '../http/tls.js';
import { healthService } from './health-service.js';
import { inferenceService } from './inference-service.js';
import { managementServices } from './management-service.js';
import { oipServices } from './oip-service.js';
import type { GrpcServiceEntry } from './protos.js';
import { startGrpcListener, type GrpcGate, type GrpcHandle, type GrpcTls } from './server.js';

export interface GrpcListenerDeps {
  registry: ModelRegistry;
  config: ServerConfig;
  cwd: string;
  tokens?: TokenAuthority | undefined;
  audit?: AuditLog | undefined;
  modelConfig?: ((model: string, version: string) => ModelConfig | undefined) | undefined;
  /** The batcher's arrival tracker (busy polling counts gRPC requests in flight). */
  arrivals?: GrpcArrivals | undefined;
  /** The graceful drain: new calls refused, unary calls counted in flight. */
  gate?: GrpcGate | undefined;
  log: Logger;
}

export interface GrpcListeners {
  inference: GrpcHandle;
  management: GrpcHandle;
  close(): Promise<void>;
}

/**
 * `enable_grpc_ssl`: the PEM pair of `certificate_file`/`private_key_file` (gRPC cannot use a PKCS12
 * keystore), read and checked as the HTTPS listeners' (a mismatched or unreadable key stops start-up
 * naming the file).
 */
export function grpcTls(config: ServerConfig, cwd: string): GrpcTls | undefined {
  if (!config.enableGrpcSsl) return undefined;
  const { certificateFile, privateKeyFile } = config.tls;
  if (!certificateFile || !privateKeyFile) {
    throw new StartupError('Invalid configuration: enable_grpc_ssl=true needs certificate_file and private_key_file (PEM files; a keystore cannot be used for gRPC)');
  }
  const { key, cert } = loadTlsMaterial({ certificateFile, privateKeyFile }, cwd);
  return { key: Buffer.from(key ?? ''), cert: Buffer.from(cert ?? '') };
}

/** `services` plus grpc.health.v1.Health answering for each of them (and for the empty name). */
function withHealth(services: GrpcServiceEntry[], serving: () => boolean): GrpcServiceEntry[] {
  const names = services.map((s) => serviceName(s));
  return [...services, healthService({ services: names, serving })];
}

/** The fully qualified name of a service entry (its methods' paths are `/<name>/<Method>`). */
function serviceName(s: GrpcServiceEntry): string {
  const first = Object.values(s.definition)[0];
  return first ? first.path.split('/')[1] ?? '' : '';
}

async function bind(what: string, keys: string, address: string, port: number, start: () => Promise<GrpcHandle>): Promise<GrpcHandle> {
  try {
    return await start();
  } catch (err) {
    throw new StartupError(`Failed to start the gRPC ${what} API on ${address}:${port} (${keys}): ${(err as Error).message}`);
  }
}

export async function startGrpcListeners(deps: GrpcListenerDeps): Promise<GrpcListeners> {
  const { config, registry, tokens, log } = deps;
  const tls = grpcTls(config, deps.cwd);
  const draining = () => deps.gate?.draining() ?? false;
  const limits = { maxRequestSize: config.maxRequestSize, maxResponseSize: config.maxResponseSize, tls, gate: deps.gate, log };
  const inference = await bind('inference', 'grpc_inference_address, grpc_inference_port', config.grpcInferenceAddress, config.grpcInferencePort, () =>
    startGrpcListener(
      withHealth(
        [
          inferenceService({ registry, maxResponseSize: config.maxResponseSize, tokens, arrivals: deps.arrivals, draining: deps.gate?.draining, log }),
          ...oipServices({ registry, maxRequestSize: config.maxRequestSize, maxResponseSize: config.maxResponseSize, tokens, modelConfig: deps.modelConfig, arrivals: deps.arrivals, draining: deps.gate?.draining, log }),
        ],
        () => !draining() && serverReady(registry),
      ),
      { ...limits, address: config.grpcInferenceAddress, port: config.grpcInferencePort, maxConnectionAgeMs: config.grpcConnectionAge.inference.ageMs, maxConnectionAgeGraceMs: config.grpcConnectionAge.inference.graceMs },
    ),
  );
  let management: GrpcHandle;
  try {
    management = await bind('management', 'grpc_management_address, grpc_management_port', config.grpcManagementAddress, config.grpcManagementPort, () =>
      startGrpcListener(withHealth(managementServices({ registry, config, tokens, audit: deps.audit, log }), () => !draining()), {
        ...limits,
        address: config.grpcManagementAddress,
        port: config.grpcManagementPort,
        maxConnectionAgeMs: config.grpcConnectionAge.management.ageMs,
        maxConnectionAgeGraceMs: config.grpcConnectionAge.management.graceMs,
      }),
    );
  } catch (err) {
    await inference.close();
    throw err;
  }
  return { inference, management, close: async () => void (await Promise.all([inference.close(), management.close()])) };
}
