/**
 * Server processes for the bench: the bare node:http floor and the real onnxserve CLI, each in a
 * private sandbox folder. Every child is tracked so that it is killed whatever happens: normal
 * stop (SIGTERM, then SIGKILL after a grace period), an error in the bench, Ctrl-C, or exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');

const children = new Set<ChildProcess>();
const sandboxes = new Set<string>();

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Synchronous last resort: SIGKILL every child still running, remove every sandbox. */
export function killAllSync(): void {
  for (const child of children) {
    if (alive(child)) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of sandboxes) fs.rmSync(dir, { recursive: true, force: true });
  sandboxes.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAllSync();
      process.exit(130);
    });
  }
}

export function makeSandbox(prefix: string): string {
  hookExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `onnxserve-bench-${prefix}-`));
  sandboxes.add(dir);
  return dir;
}

export function removeSandbox(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  sandboxes.delete(dir);
}

export interface RunningServer {
  pid: number;
  /** Base URL of the API the bench drives. */
  url: string;
  /** performance.now() when the process was spawned, and when its output said it was ready. */
  spawnedAt: number;
  readyAt: number;
  /** Everything printed up to readiness (e.g. the other APIs' addresses). */
  startupOutput: string;
  /** The last few KB of stdout+stderr (the pipes are always drained so the server never blocks). */
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnSpec {
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Returns the base URL once the output shows the server is ready. */
  ready: (output: string) => string | undefined;
  timeoutMs: number;
}

/** Spawns `node <args>`, tracked (killed whatever happens); resolves once `spec.ready` finds its URL. */
export function startProcess(spec: SpawnSpec): Promise<RunningServer> {
  hookExit();
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  let head = '';
  const TAIL = 16_384;
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2 * TAIL) out = out.slice(-TAIL);
  };
  const server: RunningServer = {
    pid: child.pid ?? -1,
    url: '',
    spawnedAt,
    readyAt: NaN,
    startupOutput: '',
    output: () => out,
    stop: async () => {
      if (alive(child)) {
        child.kill('SIGTERM');
        const grace = setTimeout(() => alive(child) && child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(grace);
      }
      children.delete(child);
    },
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (alive(child)) child.kill('SIGKILL');
      reject(new Error(`${why}\n--- server output ---\n${head || out}`));
    };
    const timer = setTimeout(() => fail(`server did not start within ${spec.timeoutMs} ms`), spec.timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      append(d);
      if (done) return;
      head += d.toString();
      const url = spec.ready(head);
      if (url) {
        done = true;
        clearTimeout(timer);
        server.url = url;
        server.readyAt = performance.now();
        server.startupOutput = head;
        head = '';
        resolve(server);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      append(d);
      if (!done) head += d.toString();
    });
    child.once('error', (e) => fail(`could not spawn: ${e.message}`));
    void exited.then(() => fail(`server exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready`));
  });
}

/** bench/bare-server.mjs (or `script`, e.g. bare-grpc-server.mjs: its url is then `http://host:port`) in its own plain node process. */
export function startBare(script = 'bare-server.mjs'): Promise<RunningServer> {
  return startProcess({
    args: [path.join(REPO_ROOT, 'bench', script)],
    cwd: REPO_ROOT,
    env: process.env,
    ready: (o) => {
      const port = /listening (\d+)/.exec(o)?.[1];
      return port ? `http://127.0.0.1:${port}` : undefined;
    },
    timeoutMs: 20_000,
  });
}

/** Folder of a sandbox's onnxserve logs (LOG_LOCATION). */
export const sandboxLogs = (sandbox: string) => path.join(sandbox, 'logs');

/**
 * The config.properties, environment and arguments of `onnxserve --start --foreground --ncs` over
 * a model store: every API on loopback port 0, a private TMPDIR (its PID file) and LOG_LOCATION,
 * `load_models=all` unless `extraConfig` says otherwise (its keys override the defaults).
 */
/** `--config key=value` of bench/run.ts: added to every onnxserve start's config.properties (last, so it wins). */
const configOverrides: Record<string, string> = {};
export function overrideConfig(key: string, value: string): void {
  configOverrides[key] = value;
}
export const configOverridesInUse = (): Readonly<Record<string, string>> => ({ ...configOverrides });

export function onnxserveSpec(sandbox: string, modelStore: string, extraConfig: Record<string, string | number> = {}): SpawnSpec {
  const tmp = path.join(sandbox, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const config = path.join(sandbox, 'config.properties');
  const props: Record<string, string | number> = {
    inference_address: 'http://127.0.0.1:0',
    management_address: 'http://127.0.0.1:0',
    metrics_address: 'http://127.0.0.1:0',
    model_store: modelStore,
    load_models: 'all',
    // The clients send no keys; a key check is one header regex and a 16-byte compare per request.
    disable_token_authorization: 'true',
    grpc_inference_port: 0,
    grpc_management_port: 0,
    ...extraConfig,
    ...configOverrides,
  };
  fs.writeFileSync(config, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  // As the daemon and the image start it (see src/cli/main.ts startDaemon).
  const env: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '2', ...process.env, TMPDIR: tmp, LOG_LOCATION: sandboxLogs(sandbox) };
  delete env.TEMP;
  for (const k of Object.keys(env)) if (k.startsWith('TS_')) delete env[k];
  return {
    args: [CLI, '--start', '--foreground', '--ncs', '--ts-config', config],
    cwd: sandbox,
    env,
    ready: (o) => (o.includes('Model server started.') ? /Inference API bind to: (http:\/\/\S+)/i.exec(o)?.[1] : undefined),
    timeoutMs: 120_000,
  };
}

/** Starts the real CLI (see onnxserveSpec). Resolves with the inference API's base URL once it listens. */
export function startOnnxserve(sandbox: string, modelStore: string, extraConfig: Record<string, string | number> = {}): Promise<RunningServer> {
  return startProcess(onnxserveSpec(sandbox, modelStore, extraConfig));
}

/** The management API's base URL, from the start-up output. */
export function managementUrl(server: RunningServer): string {
  const url = /Management API bind to: (http:\/\/\S+)/i.exec(server.startupOutput)?.[1];
  if (!url) throw new Error('no management address in the start-up output');
  return url;
}

export interface ModelDescription {
  modelName: string;
  minWorkers: number;
  maxWorkers: number;
  batchSize: number;
  maxBatchDelay: number;
  /** Workers with status READY. */
  ready: number;
  workers: number;
}

/** GET /models/<name> on the management API. */
export async function describeModel(mgmt: string, name: string): Promise<ModelDescription> {
  const res = await fetch(`${mgmt}/models/${encodeURIComponent(name)}`);
  if (res.status !== 200) throw new Error(`GET /models/${name}: HTTP ${res.status} ${await res.text()}`);
  const d = ((await res.json()) as Array<Record<string, unknown>>)[0] ?? {};
  const workers = Array.isArray(d.workers) ? (d.workers as Array<{ status?: string }>) : [];
  return {
    modelName: String(d.modelName),
    minWorkers: Number(d.minWorkers),
    maxWorkers: Number(d.maxWorkers),
    batchSize: Number(d.batchSize),
    maxBatchDelay: Number(d.maxBatchDelay),
    ready: workers.filter((w) => w.status === 'READY').length,
    workers: workers.length,
  };
}

/** Names of every registered model (GET /models, all pages). */
export async function listModels(mgmt: string): Promise<string[]> {
  const res = await fetch(`${mgmt}/models?limit=1000`);
  if (res.status !== 200) throw new Error(`GET /models: HTTP ${res.status}`);
  const body = (await res.json()) as { models?: Array<{ modelName: string }> };
  return (body.models ?? []).map((m) => m.modelName);
}

/** Polls until every named model has at least minWorkers READY workers; returns their descriptions. */
export async function waitWorkersReady(mgmt: string, names: string[], timeoutMs = 120_000, pollMs = 20): Promise<ModelDescription[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await Promise.all(names.map((n) => describeModel(mgmt, n)));
    if (all.every((d) => d.ready >= Math.max(1, d.minWorkers))) return all;
    if (Date.now() > deadline) throw new Error(`workers not ready after ${timeoutMs} ms: ${JSON.stringify(all)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** What the bench shows when a server misbehaves: the tail of its output, access log left out. */
export function outputTail(server: RunningServer, lines = 40): string {
  return server
    .output()
    .split('\n')
    .filter((l) => !l.includes('ACCESS_LOG'))
    .slice(-lines)
    .join('\n');
}

export interface ProcMemory {
  vmRssKB: number;
  vmHwmKB: number;
  threads: number;
}

export const rssMB = (pid: number) => (procMemory(pid)?.vmRssKB ?? NaN) / 1024;

/** VmRSS / VmHWM (peak RSS) / Threads from /proc/<pid>/status (Linux only; undefined elsewhere). */
export function procMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { vmRssKB: field('VmRSS'), vmHwmKB: field('VmHWM'), threads: field('Threads') };
}

export interface ServeSession {
  server: RunningServer;
  /** Management API base URL. */
  mgmt: string;
  sandbox: string;
  store: string;
}

/**
 * A sandbox with a model store filled by `fill`, the real CLI started over it, `fn` run against
 * it; on an error the server's output tail is attached; the server is always stopped and the
 * sandbox removed.
 */
export async function withOnnxserve<T>(
  prefix: string,
  fill: (store: string) => Promise<void>,
  extraConfig: Record<string, string | number>,
  fn: (s: ServeSession) => Promise<T>,
): Promise<T> {
  const sandbox = makeSandbox(prefix);
  try {
    const store = path.join(sandbox, 'model_store');
    fs.mkdirSync(store);
    await fill(store);
    const server = await startOnnxserve(sandbox, store, extraConfig);
    try {
      return await fn({ server, mgmt: managementUrl(server), sandbox, store });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const err = new Error(`${msg}\n--- onnxserve output (tail, access log left out) ---\n${outputTail(server)}`);
      if (e instanceof Error && e.stack) err.stack = `${err.message}\n${e.stack.split('\n').slice(1).join('\n')}`;
      throw err;
    } finally {
      await server.stop();
    }
  } finally {
    removeSandbox(sandbox);
  }
}
