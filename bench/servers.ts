/**
 * Server processes for the bench: the bare node:http floor and the real onnxserve CLI, each in a
 * private sandbox folder. Every child is tracked so that it is killed whatever happens: normal
 * stop (SIGTERM, then SIGKILL after a grace period), an error in the bench, Ctrl-C, or exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  /** Everything printed up to readiness (e.g. the other APIs' addresses). */
  startupOutput: string;
  /** The last few KB of stdout+stderr (the pipes are always drained so the server never blocks). */
  output(): string;
  stop(): Promise<void>;
}

interface SpawnSpec {
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Returns the base URL once the output shows the server is ready. */
  ready: (output: string) => string | undefined;
  timeoutMs: number;
}

function start(spec: SpawnSpec): Promise<RunningServer> {
  hookExit();
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

/** bench/bare-server.mjs in its own plain node process. */
export function startBare(): Promise<RunningServer> {
  return start({
    args: [path.join(REPO_ROOT, 'bench/bare-server.mjs')],
    cwd: REPO_ROOT,
    env: process.env,
    ready: (o) => {
      const port = /listening (\d+)/.exec(o)?.[1];
      return port ? `http://127.0.0.1:${port}` : undefined;
    },
    timeoutMs: 20_000,
  });
}

/**
 * `onnxserve --start --foreground --ncs` over a model store, everything on loopback port 0, with a
 * private TMPDIR (its PID file) and LOG_LOCATION. Resolves with the inference API's base URL.
 */
export function startOnnxserve(sandbox: string, modelStore: string, extraConfig: Record<string, string | number> = {}): Promise<RunningServer> {
  const tmp = path.join(sandbox, 'tmp');
  const logs = path.join(sandbox, 'logs');
  fs.mkdirSync(tmp, { recursive: true });
  const config = path.join(sandbox, 'config.properties');
  fs.writeFileSync(
    config,
    [
      'inference_address=http://127.0.0.1:0',
      'management_address=http://127.0.0.1:0',
      'metrics_address=http://127.0.0.1:0',
      `model_store=${modelStore}`,
      'load_models=all',
      ...Object.entries(extraConfig).map(([k, v]) => `${k}=${v}`),
    ].join('\n') + '\n',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, LOG_LOCATION: logs };
  delete env.TEMP;
  for (const k of Object.keys(env)) if (k.startsWith('TS_')) delete env[k];
  return start({
    args: [CLI, '--start', '--foreground', '--ncs', '--ts-config', config],
    cwd: sandbox,
    env,
    ready: (o) => (o.includes('Model server started.') ? /Inference API bind to: (http:\/\/\S+)/i.exec(o)?.[1] : undefined),
    timeoutMs: 60_000,
  });
}

export interface ProcMemory {
  vmRssKB: number;
  vmHwmKB: number;
  threads: number;
}

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
