/**
 * Drives the real CLI (`dist/cli/main.js`, built by `npm test`) as a user would: a sandbox folder
 * with its own model store, logs and TMPDIR (so PID files of parallel tests never collide), and
 * loopback port 0 everywhere (the CLI prints where each API bound).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request, type IncomingHttpHeaders } from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');

export interface Sandbox {
  dir: string;
  store: string;
  tmp: string;
  env: NodeJS.ProcessEnv;
  /** Writes config.properties: loopback port-0 addresses and tokens off unless `props` says otherwise (undefined drops a key). */
  writeConfig(props: Record<string, string | number | boolean | undefined>): string;
  remove(): void;
}

export function makeSandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-e2e-'));
  const store = path.join(dir, 'model_store');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(store);
  fs.mkdirSync(tmp);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, TEMP: undefined, LOG_LOCATION: path.join(dir, 'logs') };
  for (const k of Object.keys(env)) if (k.startsWith('TS_')) delete env[k];
  return {
    dir,
    store,
    tmp,
    env,
    writeConfig(props) {
      const file = path.join(dir, 'config.properties');
      const base = {
        inference_address: 'http://127.0.0.1:0',
        management_address: 'http://127.0.0.1:0',
        metrics_address: 'http://127.0.0.1:0',
        // Token authorization (on by default, as in TorchServe) has its own tests; the rest call without keys.
        disable_token_authorization: true,
        grpc_inference_port: 0,
        grpc_management_port: 0,
        ...props,
      };
      const lines = Object.entries(base).filter(([, v]) => v !== undefined);
      fs.writeFileSync(file, lines.map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n');
      return file;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (e.g. a daemon `--start`, `--stop`, `--version`). */
export function runCli(sandbox: Sandbox, args: string[], opts: { timeoutMs?: number; argv0?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const script = opts.argv0 ? path.join(sandbox.dir, opts.argv0) : CLI;
    if (opts.argv0 && !fs.existsSync(script)) fs.symlinkSync(CLI, script);
    const child = spawn(process.execPath, [script, ...args], { cwd: sandbox.dir, env: sandbox.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} timed out; stdout: ${stdout}`));
    }, opts.timeoutMs ?? 60_000);
    // 'exit', not 'close': a daemon child must not keep the test waiting on shared pipes.
    child.on('exit', (code) => {
      clearTimeout(timer);
      setTimeout(() => resolve({ code, stdout, stderr }), 20);
    });
  });
}

export interface Endpoints {
  inference: string;
  management: string;
  metrics?: string;
  /** `host:port` of the gRPC listeners ("gRPC Inference API bind to: 127.0.0.1:7070"). */
  grpcInference?: string;
  grpcManagement?: string;
}

/** Reads "<kind> API bind to: http://host:port" lines. */
export function parseEndpoints(output: string): Endpoints {
  const find = (kind: string) => new RegExp(`${kind} API bind to: (https?://[^\\s]+)`, 'i').exec(output)?.[1];
  const inference = find('inference');
  const management = find('management');
  if (!inference || !management) throw new Error(`No endpoints in output:\n${output}`);
  const grpc = (kind: string) => new RegExp(`gRPC ${kind} API bind to: (\\S+)`).exec(output)?.[1];
  const grpcInference = grpc('Inference');
  const grpcManagement = grpc('Management');
  return { inference, management, metrics: find('metrics'), ...(grpcInference ? { grpcInference } : {}), ...(grpcManagement ? { grpcManagement } : {}) };
}

export interface ForegroundServer {
  child: ChildProcess;
  endpoints: Endpoints;
  output: () => string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** Starts `--foreground` and waits for "Model server started.". */
export function startForeground(sandbox: Sandbox, args: string[], timeoutMs = 60_000): Promise<ForegroundServer> {
  const child = spawn(process.execPath, [CLI, '--start', '--foreground', ...args], {
    cwd: sandbox.dir,
    env: sandbox.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Model server started.')) {
        clearTimeout(timer);
        resolve({
          child,
          endpoints: parseEndpoints(out),
          output: () => out,
          exited,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      onData(d);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before starting:\n${out}`));
    });
  });
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function http(url: string, init: RequestInit = {}): Promise<JsonResponse> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Polls until `check` passes (e.g. workers ready), failing after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

export interface Streamed {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body chunks in arrival order (one per HTTP chunk the server flushed). */
  chunks: string[];
}

/** POSTs with node:http (not fetch, which hides chunk boundaries) and records each chunk as it arrives. */
export function streamed(url: string, body: string | Buffer, contentType = 'text/plain'): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': contentType } }, (res) => {
      const chunks: string[] = [];
      res.on('data', (d: Buffer) => chunks.push(d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
