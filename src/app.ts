/**
 * Composition root: config → registry → startup models → listeners. Also the graceful close.
 * Nothing here knows HTTP routes or worker internals.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerConfig } from './config/types.js';
import type { Loggers } from './logging.js';
import { TS_COMPAT_VERSION } from './http/api-description.js';
import { ArrivalTracker } from './http/arrivals.js';
import { inferenceRouter } from './http/inference.js';
import { createListener, listen, type Listener } from './http/listener.js';
import { isModelApiCall, managementRouter } from './http/management.js';
import { metricsRouter } from './http/metrics.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { snapshotDir } from './snapshot/store.js';
import { SnapshotWriter } from './snapshot/writer.js';
import { methodNotAllowed, serviceUnavailable, SHUTTING_DOWN } from './errors.js';
import { ModelRegistry } from './registry/registry.js';
import { StorePoller } from './registry/store-poller.js';
import type { GrpcListeners } from './grpc/listeners.js';
import { TokenAuthority, tokenBanner } from './security/tokens.js';
import { AuditLog } from './security/audit.js';
import { loadTlsMaterial, type TlsMaterial } from './http/tls.js';
import type { BindAddress } from './config/types.js';
import { StartupError } from './errors.js';
import { oipJson } from './http/oip/errors.js';
import { errorResult, type HttpResult } from './http/reply.js';
import { ModelCatalog, recordRegistered, type WallarooDeps } from './wallaroo/index.js';

export interface ServerHandle {
  registry: ModelRegistry;
  /**
   * Graceful shutdown, first step: stop accepting connections, report not-ready, let every request
   * already received (queued or running) finish — up to `timeoutMs` — then close(). Resolves true
   * when everything finished in time.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Token authorization; undefined when disabled. */
  tokens?: TokenAuthority;
  listeners: Listener[];
  /** The bound gRPC ports (inference: TorchServe's and OIP's services; management). */
  grpc: { inferencePort: number; managementPort: number };
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where archives are extracted (`<tempRoot>/models/<id>`). */
  tempRoot?: string;
  cwd?: string;
}

/** `--models all`: every visible folder or archive in the model store (spec §1.6). */
async function storeEntries(store: string | undefined): Promise<string[]> {
  if (!store) return [];
  const entries = await fsp.readdir(store, { withFileTypes: true });
  return entries
    .filter((e) => !e.name.startsWith('.'))
    .filter((e) => e.isDirectory() || /\.(mar|model|tar\.gz)$/i.test(e.name))
    .map((e) => e.name)
    .sort();
}

function dumpConfiguration(config: ServerConfig, loggers: Loggers, cwd: string): void {
  const lines = [
    `Torchserve version: ${TS_COMPAT_VERSION} (onnxserve)`,
    `Current directory: ${cwd}`,
    `Temp directory: ${config.tempDir ?? os.tmpdir()}`,
    `Number of CPUs: ${config.cpuCount}`,
    `Config file: ${config.tsConfigFile ?? 'N/A'}`,
    `Inference address: ${config.inferenceAddress.raw}`,
    `Management address: ${config.managementAddress.raw}`,
    `Metrics address: ${config.metricsAddress.raw}`,
    `Model Store: ${config.modelStore ?? 'N/A'}`,
    `Initial Models: ${config.loadModels.join(',') || 'N/A'}`,
    `Log dir: ${config.logLocation}`,
    `Default workers per model: ${config.startupWorkersPerModel}`,
    `Maximum Request Size: ${config.maxRequestSize}`,
    `Maximum Response Size: ${config.maxResponseSize}`,
    `Allowed Urls: ${config.allowedUrls.map((r) => r.source).join(',')}`,
    `Enable metrics API: ${config.enableMetricsApi}`,
    `Metrics mode: ${config.metricsMode}`,
    `Model API enabled: ${config.enableModelApi}`,
    `Model control mode: ${config.modelControlMode}`,
    `Service envelope: ${config.serviceEnvelope ?? 'N/A'}`,
  ];
  loggers.main.info(`\n${lines.join('\n')}`);
  if (!config.allowedUrlsConfigured) {
    loggers.main.warn(
      'Your torchserve instance can access any URL to load models. When deploying to production, make sure to limit the set of allowed_urls in config.properties',
    );
  }
}

export async function startServer(config: ServerConfig, loggers: Loggers, options: StartOptions = {}): Promise<ServerHandle> {
  const cwd = options.cwd ?? process.cwd();
  dumpConfiguration(config, loggers, cwd);
  // The inference API's connections tell the batcher whether a partial batch can still grow.
  const arrivals = new ArrivalTracker();
  const audit = new AuditLog(path.resolve(cwd, config.logLocation));
  const metrics = new ServerMetrics({ mode: config.metricsMode, logLine: (line) => loggers.metrics.info(line) });
  // The Wallaroo-style API's ids come back from the snapshot this start restores, if any.
  const catalog = config.modelSnapshot?.wallaroo ? ModelCatalog.fromJSON(config.modelSnapshot.wallaroo) : new ModelCatalog();
  const registry = new ModelRegistry(config, loggers.main, {
    onVersionAdded: (v) => recordRegistered(catalog, v),
    onVersionRemoved: (v) => catalog.removeVersion(v.name, v.version),
    onVersionFailed: (v) => catalog.setStatus(v.name, v.version, 'error'),
    tempRoot: options.tempRoot ?? config.tempDir ?? os.tmpdir(),
    cwd,
    arrivals,
    observerFor: (model, version) => metrics.forModel(model, version),
    loadLimits: config.loadLimits,
    audit,
    modelLog: loggers.model,
  });
  metrics.setModelsSource(() =>
    registry.allRegistered().map((v) => ({
      model: v.name,
      version: v.version,
      queueDepth: v.pool.queueStatus().pendingRequests,
      workers: { ...v.pool.workerCounts(), target: v.pool.workerTarget().minWorkers },
    })),
  );
  const listeners: Listener[] = [];
  let closing: Promise<void> | undefined;
  // Config snapshots (spec §8): on start, on every model change, on shutdown; never with --ncs.
  const snapshots = config.noConfigSnapshots
    ? undefined
    : new SnapshotWriter({ dir: snapshotDir(cwd, config.logLocation), properties: config.properties, models: () => registry.snapshotModels(), wallaroo: () => catalog.toJSON(), log: loggers.main });
  const close = () =>
    (closing ??= (async () => {
      await grpc?.close().catch(() => undefined);
      await Promise.all(listeners.map((l) => l.app.close().catch(() => undefined)));
      await poller?.stop();
      metrics.close();
      audit.close();
      if (started) snapshots?.write('shutdown');
      await registry.shutdown();
    })());
  let started = false;
  let poller: StorePoller | undefined;
  let grpc: GrpcListeners | undefined;
  const onResponse = (status: number) => metrics.httpResponse(status);
  let draining = false;
  const inFlight = { count: 0 };
  const drainingOption = { active: () => draining, reply: drainingReply };
  const drain = async (timeoutMs: number): Promise<boolean> => {
    draining = true;
    loggers.main.info(`Draining: finishing the requests in progress (up to ${Math.round(timeoutMs / 1000)} s)...`);
    // Still listening, so probes get their not-ready answer and new requests a 503 (drainingReply),
    // until every request received before is answered; then the listeners close.
    const deadline = Date.now() + timeoutMs;
    while (inFlight.count > 0 && Date.now() < deadline) await sleep(DRAIN_POLL_MS);
    const inTime = inFlight.count === 0;
    if (!inTime) loggers.main.warn(`Drain timeout reached: ending ${inFlight.count} request(s) still in progress`);
    const closed = Promise.all([...listeners.map((l) => l.app.close().catch(() => undefined)), grpc?.close().catch(() => undefined)]);
    for (const l of listeners) l.app.server.closeAllConnections();
    await closed;
    // Workers stuck in a long native run are not waited for: the process ends them.
    await Promise.race([close(), sleep(inTime ? 10_000 : 1_000)]);
    return inTime;
  };
  let tokens: TokenAuthority | undefined;
  let material: TlsMaterial | undefined;
  const tlsFor = (address: BindAddress) => (address.scheme === 'https' ? { tls: (material ??= loadTlsMaterial(config.tls, cwd)) } : {});
  try {
    tokens = config.disableTokenAuthorization ? undefined : createTokens(config, cwd);
    if (tokens) loggers.main.info(tokenBanner(tokens.file));
    for (const w of config.startupWarnings) loggers.main.warn(w);
    // A config (file or snapshot) with model_snapshot restores those models instead of load_models.
    if (config.modelSnapshot) await registry.restoreSnapshot(config.modelSnapshot);
    else await registry.loadStartupModels(config.loadModels, () => storeEntries(config.modelStore));
    // Versions the snapshot's catalog knew but that did not come back are dropped.
    catalog.reconcile(registry.allRegistered().map((v) => ({ model: v.name, version: v.version })));
    const wallaroo: WallarooDeps = {
      catalog,
      checkMutation: () => (config.enableModelApi ? undefined : methodNotAllowed()),
      currentVersion: (name) => (registry.has(name) ? registry.resolve(name).version : undefined),
      modelInputs: (name, version) => {
        try {
          return registry.resolve(name, version).signature()?.inputs.map((m) => m.name);
        } catch {
          return undefined;
        }
      },
      onChange: () => {
        if (started) snapshots?.write('snapshot');
      },
      audit: (e) =>
        audit.append({
          remote: (e.req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, ''),
          key: tokens ? tokens.presentedKey(e.req.headers.authorization) : 'disabled',
          action: e.action,
          model: e.model,
          version: e.version,
          outcome: e.outcome,
          status: e.status,
          reason: e.reason,
        }),
    };
    const inference = createListener({
      kind: 'inference',
      router: inferenceRouter({
        registry,
        maxRequestSize: config.maxRequestSize,
        maxResponseSize: config.maxResponseSize,
        log: loggers.main,
        modelConfig: (model, version) => catalog.configFor(model, version),
      }),
      config,
      accessLog: loggers.access,
      arrivals,
      draining: drainingOption,
      inFlight,
      onResponse,
      ...tlsFor(config.inferenceAddress),
      ...(tokens ? { auth: { authority: tokens, key: 'inference' as const } } : {}),
    });
    const management = createListener({
      kind: 'management',
      router: managementRouter({ registry, config, wallaroo }),
      config,
      accessLog: loggers.access,
      gate: (method, segments) => (!config.enableModelApi && isModelApiCall(method, segments) ? methodNotAllowed() : undefined),
      draining: drainingOption,
      inFlight,
      onResponse,
      audit,
      ...tlsFor(config.managementAddress),
      ...(tokens ? { auth: { authority: tokens, key: 'management' as const } } : {}),
    });
    listeners.push(await listen(inference, 'inference', 'inference_address', config.inferenceAddress));
    listeners.push(await listen(management, 'management', 'management_address', config.managementAddress));
    if (config.enableMetricsApi) {
      const metricsListener = createListener({
        kind: 'metrics',
        router: metricsRouter(metrics),
        config,
        accessLog: loggers.access,
        draining: drainingOption,
        inFlight,
        onResponse,
        ...tlsFor(config.metricsAddress),
      });
      listeners.push(await listen(metricsListener, 'metrics', 'metrics_address', config.metricsAddress));
    }
    // Loaded here, after the HTTP listeners are up: grpc-js, protobufjs and the protos take ~0.15 s
    // to load, which /ping (and a Kubernetes probe) need not wait for.
    const { startGrpcListeners } = await import('./grpc/listeners.js');
    grpc = await startGrpcListeners({
      registry,
      config,
      cwd,
      tokens,
      audit,
      modelConfig: (model, version) => catalog.configFor(model, version),
      arrivals,
      gate: {
        draining: () => draining,
        enter: () => {
          inFlight.count++;
          let left = false;
          return () => {
            if (left) return;
            left = true;
            inFlight.count--;
          };
        },
      },
      log: loggers.main,
    });
  } catch (err) {
    await close();
    throw err;
  }
  for (const l of listeners) loggers.main.info(`${l.kind[0]?.toUpperCase()}${l.kind.slice(1)} API bind to: ${l.url}`);
  if (grpc) {
    loggers.main.info(`gRPC Inference API bind to: ${config.grpcInferenceAddress}:${grpc.inference.port}`);
    loggers.main.info(`gRPC Management API bind to: ${config.grpcManagementAddress}:${grpc.management.port}`);
  }
  started = true;
  if (config.modelControlMode === 'poll') {
    poller = new StorePoller(registry, config, loggers.main, audit);
    await poller.start();
  }
  if (snapshots) {
    snapshots.write('startup');
    registry.onChange = () => snapshots.write('snapshot');
  }
  loggers.main.info('Model server started.');
  const grpcPorts = { inferencePort: grpc?.inference.port ?? 0, managementPort: grpc?.management.port ?? 0 };
  return { registry, listeners, grpc: grpcPorts, close, drain, ...(tokens ? { tokens } : {}) };
}

const DRAIN_POLL_MS = 25;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * A request that arrives while the server drains: health probes say not ready (TorchServe's and
 * OIP's bodies), so load balancers stop sending; anything else gets 503 and goes elsewhere.
 */
function drainingReply(_method: string, segments: string[]): HttpResult {
  if (segments.length === 1 && segments[0] === 'ping') return { status: 500, json: { status: 'Unhealthy' } };
  if (segments[0] === 'v2') {
    if (segments.length === 3 && segments[1] === 'health' && segments[2] === 'ready') return oipJson({ ready: false }, 503);
    return oipJson({ error: SHUTTING_DOWN }, 503);
  }
  return errorResult(serviceUnavailable(SHUTTING_DOWN));
}


function createTokens(config: ServerConfig, cwd: string): TokenAuthority {
  try {
    return TokenAuthority.create({ dir: cwd, expirationMin: config.tokenExpirationMin });
  } catch (err) {
    throw new StartupError(`Token Authorization setup unsuccessful: ${(err as Error).message}`);
  }
}
