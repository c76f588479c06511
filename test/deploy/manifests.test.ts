/**
 * The deployment files, statically (no container engine or cluster here): every YAML under deploy/
 * and docker-compose.yml parses; probes point at health routes on the port the container's config
 * really listens on; the security context is the locked-down one (non-root uid 1000, read-only root
 * with writable working folder, logs and tmp, no capabilities, no privilege escalation); the grace
 * period outlasts the drain; Prometheus finds the metrics port; the HPA scales an existing
 * Deployment on a metric the server exports; the KServe runtime declares its formats and protocols
 * and its arguments are accepted by the KServe entry and the CLI. The Dockerfile is multi-stage,
 * installs production dependencies from the lock file, runs as uid 1000 with an exec-form entry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { kserveLaunchArgs, type LayoutFs } from '../../src/cli/kserve-layout.js';
import { ENV_OVERRIDES, parseBindAddress, parseProperties, resolveConfig, type ConfigSources } from '../../src/config/index.js';
import {
  containerConfig,
  dockerfileInstructions,
  HEALTH_ROUTES,
  kindsOf,
  loadYamlDocs,
  probedRoutes,
  REPO_ROOT,
  runtimeEnv,
  type YamlDoc,
} from './helpers.js';

const docs = loadYamlDocs();
const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

function only(kind: string): YamlDoc {
  const found = kindsOf(docs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as YamlDoc;
}

/** The Deployment's ConfigMap-mounted config.properties, resolved as the server would. */
function k8sConfig() {
  const cm = only('ConfigMap').doc;
  const text = cm.data['config.properties'] as string;
  const props = parseProperties(text);
  const src: ConfigSources = {
    cli: { tsConfig: '/home/model-server/config.properties', ncs: true },
    env: {},
    cwd: '/home/model-server',
    cpuCount: 4,
    readFile: () => text,
    fileExists: () => true,
    isDirectory: () => true,
  };
  return { props, config: resolveConfig(src), name: cm.metadata.name as string };
}

const deployment = () => only('Deployment').doc;
const podSpec = () => deployment().spec.template.spec;
const container = () => {
  const cs = podSpec().containers;
  expect(cs).toHaveLength(1);
  return cs[0];
};

/** A probe's port as a number: a named port resolves through the container's ports. */
function probePort(c: { ports?: Array<{ name?: string; containerPort: number }> }, port: number | string): number {
  if (typeof port === 'number') return port;
  const named = c.ports?.find((p) => p.name === port);
  expect(named, `port name ${port} declared on the container`).toBeDefined();
  return named!.containerPort;
}

/** The route a probe checks: httpGet path, or the healthcheck script's route argument. */
function probeRoute(probe: { httpGet?: { path: string }; exec?: { command: string[] } }): string {
  if (probe.httpGet) return probe.httpGet.path;
  const cmd = probe.exec?.command ?? [];
  expect(cmd.some((a) => a.endsWith('healthcheck.mjs')), `exec probe runs docker/healthcheck.mjs: ${cmd.join(' ')}`).toBe(true);
  return cmd.find((a) => a.startsWith('/') && !a.endsWith('.mjs')) ?? '/ping';
}

describe('deployment files parse', () => {
  it('every YAML under deploy/ and docker-compose.yml is valid YAML with the expected objects', () => {
    const kinds = docs.map((d) => d.doc.kind ?? `compose:${d.file}`).sort();
    for (const k of ['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'ClusterServingRuntime', 'InferenceService']) {
      expect(kinds).toContain(k);
    }
    expect(kinds).toContain('compose:docker-compose.yml');
    for (const d of docs.filter((x) => x.doc.kind)) {
      expect(d.doc.apiVersion, `${d.file} ${d.doc.kind} apiVersion`).toMatch(/^(v1|[a-z0-9.]+\/v[0-9a-z]+)$/);
      expect(d.doc.metadata?.name, `${d.file} ${d.doc.kind} has a name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('every probed route is one of the server\'s health routes', () => {
    const routes = probedRoutes(docs);
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(HEALTH_ROUTES as readonly string[]).toContain(r);
  });
});

describe('Kubernetes Deployment', () => {
  it('the ConfigMap config resolves: inference and metrics on all interfaces, management on loopback, prometheus metrics', () => {
    const { config, props } = k8sConfig();
    expect(config.inferenceAddress).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.metricsAddress).toMatchObject({ host: '0.0.0.0', port: 8082 });
    expect(config.managementAddress.host).toBe('127.0.0.1');
    expect(config.metricsMode).toBe('prometheus');
    expect(config.enableModelApi).toBe(false);
    expect(config.enableEnvvarsConfig).toBe(true);
    expect(props.drain_timeout_s).toBeDefined();
  });

  it('probes: startup, readiness and liveness on health routes at the port the config listens on', () => {
    const c = container();
    const { config } = k8sConfig();
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const probe = c[kind];
      expect(probe, kind).toBeDefined();
      expect(HEALTH_ROUTES as readonly string[]).toContain(probeRoute(probe));
      if (probe.httpGet) {
        expect(probePort(c, probe.httpGet.port), `${kind} port`).toBe(config.inferenceAddress.port);
        // An HTTP probe sends no key: it only works with token authorization off.
        expect(config.disableTokenAuthorization, `${kind} is httpGet, so the config must disable tokens`).toBe(true);
      }
    }
    expect(probeRoute(c.readinessProbe)).toBe('/v2/health/ready');
    // Loading models can take long: the startup probe gives it at least a minute.
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(60);
  });

  it('token authorization off is compensated: NetworkPolicy on the pods, management on loopback, no management port published', () => {
    const { config } = k8sConfig();
    if (!config.disableTokenAuthorization) return;
    const labels = deployment().spec.template.metadata.labels;
    const np = only('NetworkPolicy').doc;
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(labels[k]).toBe(v);
    const ports = np.spec.ingress.flatMap((r: { ports: Array<{ port: number }> }) => r.ports.map((p) => p.port));
    expect(ports).toContain(config.inferenceAddress.port);
    expect(ports).toContain(config.metricsAddress.port);
    expect(ports).not.toContain(config.managementAddress.port);
    expect(config.managementAddress.host).toBe('127.0.0.1');
    expect(read('deploy/k8s/configmap.yaml')).toMatch(/TOKEN AUTHORIZATION IS OFF/);
  });

  it('security context: non-root uid 1000, read-only root, no capabilities, no privilege escalation', () => {
    const pod = podSpec().securityContext;
    const sc = container().securityContext;
    expect(pod.runAsNonRoot ?? sc.runAsNonRoot).toBe(true);
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser ?? pod.runAsUser).toBe(1000);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities.drop).toContain('ALL');
    expect(sc.capabilities.add ?? []).toEqual([]);
    expect(podSpec().automountServiceAccountToken).toBe(false);
  });

  it('writable emptyDir volumes cover the working folder, LOG_LOCATION and TEMP of the image', () => {
    const env = runtimeEnv();
    const workdir = dockerfileInstructions().filter((i) => i.op === 'WORKDIR').at(-1)?.args;
    expect(workdir).toBe('/home/model-server');
    const volumes = new Map<string, { emptyDir?: object }>(podSpec().volumes.map((v: { name: string }) => [v.name, v]));
    const mounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> = container().volumeMounts;
    const writableAt = (p: string) => {
      const m = mounts.find((x) => x.mountPath === p);
      expect(m, `a volume is mounted at ${p}`).toBeDefined();
      expect(m!.readOnly ?? false, `${p} writable`).toBe(false);
      expect(volumes.get(m!.name)?.emptyDir, `${p} is an emptyDir`).toBeDefined();
    };
    for (const p of [workdir!, env.LOG_LOCATION!, env.TEMP!, env.TMPDIR!]) writableAt(p);
    // Each emptyDir is bounded, so a runaway log or extraction evicts the pod instead of filling the node.
    for (const v of volumes.values()) if (v.emptyDir) expect((v.emptyDir as { sizeLimit?: string }).sizeLimit).toBeDefined();
  });

  it('config and model store are mounted read-only where the image and the config expect them', () => {
    const { config, name } = k8sConfig();
    const mounts: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }> = container().volumeMounts;
    const volumes: Array<{ name: string; configMap?: { name: string }; persistentVolumeClaim?: { claimName: string } }> = podSpec().volumes;
    // The image's config path (Dockerfile COPY target) and the entrypoint's default agree.
    const copied = dockerfileInstructions().find((i) => i.op === 'COPY' && i.args.startsWith('docker/config.properties'))?.args.split(/\s+/)[1];
    expect(read('docker/entrypoint.sh')).toContain(`TS_CONFIG_FILE:-${copied}`);
    const cfgMount = mounts.find((m) => m.mountPath === copied);
    expect(cfgMount?.readOnly).toBe(true);
    expect(volumes.find((v) => v.name === cfgMount?.name)?.configMap?.name).toBe(name);
    const storeMount = mounts.find((m) => m.mountPath === config.modelStore);
    expect(storeMount?.readOnly).toBe(true);
    const claim = volumes.find((v) => v.name === storeMount?.name)?.persistentVolumeClaim?.claimName;
    expect(kindsOf(docs, 'PersistentVolumeClaim').map((d) => d.doc.metadata.name)).toContain(claim);
  });

  it('graceful drain: terminationGracePeriodSeconds outlasts preStop + drain_timeout_s', () => {
    const { config } = k8sConfig();
    const preStop = container().lifecycle?.preStop?.exec?.command as string[] | undefined;
    const sleep = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    expect(podSpec().terminationGracePeriodSeconds).toBeGreaterThan(config.drainTimeoutS + sleep);
  });

  it('Prometheus annotations point at the metrics port of the config', () => {
    const { config } = k8sConfig();
    const a = deployment().spec.template.metadata.annotations;
    expect(a['prometheus.io/scrape']).toBe('true');
    expect(Number(a['prometheus.io/port'])).toBe(config.metricsAddress.port);
    expect(a['prometheus.io/path']).toBe('/metrics');
  });

  it('resources, env overrides that the server knows, Service and PDB selecting the pods', () => {
    const c = container();
    for (const k of ['cpu', 'memory']) {
      expect(c.resources.requests[k]).toBeDefined();
      expect(c.resources.limits[k]).toBeDefined();
    }
    for (const e of c.env ?? []) expect(ENV_OVERRIDES.has(e.name), `${e.name} is a TS_* override the server reads`).toBe(true);
    const labels = deployment().spec.template.metadata.labels;
    for (const [k, v] of Object.entries(deployment().spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    const svc = only('Service').doc;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    const containerPorts = c.ports.map((p: { containerPort: number }) => p.containerPort);
    for (const p of svc.spec.ports) expect(containerPorts).toContain(probePort(c, p.targetPort));
    expect(svc.spec.ports.map((p: { port: number }) => p.port)).not.toContain(8081);
    const pdb = only('PodDisruptionBudget').doc;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
  });

  it('the HPA scales the Deployment on a queue metric the server exports, through the Prometheus adapter', () => {
    const hpa = only('HorizontalPodAutoscaler');
    const ref = hpa.doc.spec.scaleTargetRef;
    expect(ref).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata.name });
    const metrics = hpa.doc.spec.metrics.map((m: { type: string; pods?: { metric: { name: string } } }) => m.pods?.metric.name);
    expect(metrics).toContain('onnxserve_queue_depth');
    expect(read('src/metrics/model-metrics.ts')).toContain("'onnxserve_queue_depth'");
    expect(read(hpa.file)).toMatch(/Prometheus Adapter/i);
    expect(hpa.doc.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.doc.spec.maxReplicas).toBeGreaterThan(hpa.doc.spec.minReplicas);
  });
});

describe('KServe', () => {
  const runtime = () => only('ClusterServingRuntime').doc;
  const fakeModelDir: LayoutFs = {
    exists: (p) => p === '/mnt/models/model.onnx',
    isDirectory: (p) => p === '/mnt/models',
    listDir: () => ['model.onnx'],
    readFile: () => undefined,
  };

  it('ClusterServingRuntime: onnx and pytorch (.mar) formats, protocols v1, v2 and grpc-v2, metrics annotations', () => {
    const spec = runtime().spec;
    expect(spec.supportedModelFormats.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['onnx', 'pytorch']));
    expect(spec.protocolVersions).toEqual(expect.arrayContaining(['v1', 'v2']));
    expect(spec.protocolVersions).toContain('grpc-v2');
    expect(spec.annotations['prometheus.kserve.io/port']).toBe('8082');
    expect(spec.annotations['prometheus.kserve.io/path']).toBe('/metrics');
  });

  it('its container: KServe hardening, probes on health routes at the HTTP port, arguments the entry and the CLI accept', () => {
    const [c, ...others] = runtime().spec.containers;
    expect(others).toHaveLength(0);
    expect(c.name).toBe('kserve-container');
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, privileged: false });
    expect(c.securityContext.capabilities.drop).toContain('ALL');
    expect(c.args[0]).toBe('kserve');
    expect(c.args).toContain('--model_name={{.Name}}');
    expect(c.args).toContain('--model_dir=/mnt/models');
    const args = (c.args as string[]).slice(1).map((a) => a.replace('{{.Name}}', 'iris'));
    const plan = kserveLaunchArgs({ argv: args, env: {}, fs: fakeModelDir, workDir: '/home/model-server/tmp/onnxserve-kserve' });
    expect(plan.httpPort).toBe(8080);
    // grpc-v2: the generated config opens gRPC inference on the port the example InferenceService names h2c.
    const generated = plan.files.find((f) => f.path.endsWith('config.properties'))!.content;
    const grpcPort = Number(/^grpc_inference_port=(\d+)$/m.exec(generated)?.[1]);
    expect(generated).toMatch(/^grpc_inference_address=0\.0\.0\.0$/m);
    const grpcIsvc = kindsOf(docs, 'InferenceService').find(({ doc }) => doc.spec.predictor.model.protocolVersion === 'grpc-v2');
    expect(grpcIsvc, 'an example InferenceService for grpc-v2').toBeDefined();
    expect(grpcIsvc!.doc.spec.predictor.model.ports).toEqual([{ name: 'h2c', protocol: 'TCP', containerPort: grpcPort }]);
    expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([plan.httpPort]);
    for (const kind of ['readinessProbe', 'livenessProbe']) {
      expect(HEALTH_ROUTES as readonly string[]).toContain(probeRoute(c[kind]));
      expect(c[kind].httpGet.port).toBe(plan.httpPort);
    }
    // httpGet probes send no key: the runtime turns token authorization off.
    expect(plan.args).toContain('--disable-token-auth');
    const parsed = parseArgs(plan.args, 'onnxserve', () => undefined);
    expect(parsed).not.toBe('help');
    if (parsed !== 'help') expect(parsed.options).toMatchObject({ foreground: true, disableTokenAuth: true, ncs: true });
    for (const e of c.env ?? []) expect(ENV_OVERRIDES.has(e.name), `${e.name} is a TS_* override`).toBe(true);
  });

  it('example InferenceServices use the runtime with a format and protocol it declares', () => {
    const spec = runtime().spec;
    const isvcs = kindsOf(docs, 'InferenceService');
    expect(isvcs.length).toBeGreaterThan(0);
    for (const { doc } of isvcs) {
      const model = doc.spec.predictor.model;
      expect(model.runtime).toBe(runtime().metadata.name);
      expect(spec.supportedModelFormats.map((f: { name: string }) => f.name)).toContain(model.modelFormat.name);
      expect(spec.protocolVersions).toContain(model.protocolVersion ?? 'v1');
      expect(model.storageUri).toMatch(/^[a-z0-9]+:\/\//);
    }
  });
});

describe('Docker image', () => {
  const ins = dockerfileInstructions();
  const ops = (op: string) => ins.filter((i) => i.op === op);

  it('multi-stage, production dependencies from the lock file, onnxruntime-node download skipped', () => {
    expect(ops('FROM').length).toBeGreaterThanOrEqual(2);
    const runs = ops('RUN').map((i) => i.args);
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /npm pack\b/.test(r))).toBe(true);
    expect(ops('COPY').some((i) => /package-lock\.json/.test(i.args) && /\.npmrc/.test(i.args))).toBe(true);
    expect(runtimeEnv().ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    // The runtime stage copies the installed app from an earlier stage, not the build context.
    const lastFrom = ins.map((i) => i.op).lastIndexOf('FROM');
    expect(ins.slice(lastFrom).some((i) => i.op === 'COPY' && /--from=/.test(i.args) && /\/opt\/onnxserve/.test(i.args))).toBe(true);
  });

  it('runs as uid 1000 with an exec-form entrypoint, exposes 8080 8081 8082 and gRPC 7070 7071, HEALTHCHECK on /ping', () => {
    expect(ops('USER').at(-1)?.args).toMatch(/^1000(:1000)?$/);
    expect(ops('EXPOSE').flatMap((i) => i.args.split(/\s+/)).sort()).toEqual(['7070', '7071', '8080', '8081', '8082']);
    const entry = ops('ENTRYPOINT').at(-1)?.args ?? '';
    expect(() => JSON.parse(entry)).not.toThrow();
    expect(JSON.parse(entry)).toEqual(['/usr/local/bin/onnxserve-entrypoint.sh']);
    expect(JSON.parse(ops('CMD').at(-1)?.args ?? '')).toEqual(['serve']);
    const hc = ops('HEALTHCHECK').at(-1)?.args ?? '';
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim()) as string[];
    expect(cmd).toEqual(['node', '/opt/onnxserve/docker/healthcheck.mjs', '/ping']);
    expect(ops('COPY').some((i) => /docker\/healthcheck\.mjs\s+\/opt\/onnxserve\/docker\/healthcheck\.mjs/.test(i.args))).toBe(true);
  });

  it('the entrypoint execs node for every server command (node keeps the PID, signals reach it)', () => {
    const sh = read('docker/entrypoint.sh');
    expect(sh.startsWith('#!/bin/sh')).toBe(true);
    for (const branch of ['serve)', 'kserve)', 'torchserve|onnxserve)']) {
      // The outer case's branches end in a `;;` on its own line, indented 4 spaces.
      const body = sh.slice(sh.indexOf(`  ${branch}`), sh.indexOf('\n    ;;', sh.indexOf(`  ${branch}`)));
      expect(body, branch).toMatch(/\bexec node /);
    }
    expect(fs.statSync(path.join(REPO_ROOT, 'docker/entrypoint.sh')).mode & 0o111).not.toBe(0);
  });

  it('container config: explicit 0.0.0.0 binds, env overrides on, tokens on, the image\'s model store', () => {
    const props = containerConfig();
    for (const key of ['inference_address', 'management_address', 'metrics_address']) {
      expect(parseBindAddress(key, props[key] ?? '').host, key).toBe('0.0.0.0');
    }
    expect(props.enable_envvars_config).toBe('true');
    expect(props.disable_token_authorization ?? 'false').toBe('false');
    expect(props.enable_model_api).toBe('false');
    expect(ops('RUN').some((i) => i.args.includes(`mkdir -p ${props.model_store}`))).toBe(true);
    expect(read('docker/config.properties')).toMatch(/127\.0\.0\.1 is the container's own loopback/);
  });

  it('.dockerignore is an allow-list that keeps secrets and build output out of the context', () => {
    const lines = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('**');
    for (const needed of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'src/**', 'docker/**']) {
      expect(lines).toContain(`!${needed}`);
    }
    expect(lines.some((l) => /key_file|node_modules|dist|logs/.test(l) && l.startsWith('!'))).toBe(false);
  });

  it('docker-compose: mounted model store at the config\'s model_store, grace period over the drain, hardening', () => {
    const compose = docs.find((d) => d.file === 'docker-compose.yml')?.doc;
    const svc = compose.services.onnxserve;
    const props = containerConfig();
    const volumes: string[] = svc.volumes;
    expect(volumes.some((v) => v.split(':')[1] === props.model_store)).toBe(true);
    expect(volumes.some((v) => v.split(':')[1] === runtimeEnv().LOG_LOCATION)).toBe(true);
    const grace = /^(\d+)s$/.exec(svc.stop_grace_period)?.[1];
    expect(Number(grace)).toBeGreaterThan(Number(props.drain_timeout_s ?? 30));
    expect(svc.user).toBe('1000:1000');
    expect(svc.cap_drop).toContain('ALL');
    expect(svc.ports).toContain('127.0.0.1:8081:8081');
    for (const k of Object.keys(svc.environment ?? {})) expect(ENV_OVERRIDES.has(k), k).toBe(true);
  });
});
