/**
 * Runs the real archiver CLI: `node --import tsx src/archiver/main.ts …` (the TypeScript source,
 * so these tests need no build), or the compiled `dist/archiver/main.js` (built by `npm test`)
 * through a link with the bin name, for the end-to-end test.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openArchive, type ModelArchive } from '../../src/archive/index.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN_TS = path.join(REPO_ROOT, 'src/archiver/main.ts');
export const MAIN_JS = path.join(REPO_ROOT, 'dist/archiver/main.js');
/** tsx's ESM loader, by absolute URL: the CLI runs in temp folders where `tsx` does not resolve. */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** 14/11/2023 22:13:20 UTC. */
export const EPOCH = '1700000000';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** The entry point to run (default: src/archiver/main.ts), e.g. a link named torch-model-archiver. */
  entry?: string;
  /** Run `entry` with plain node (compiled JavaScript) instead of through tsx. */
  compiled?: boolean;
  timeoutMs?: number;
}

export function archiver(args: string[], opts: RunOptions): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', SOURCE_DATE_EPOCH: EPOCH, ...opts.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const entry = opts.entry ?? MAIN_TS;
  const argv = opts.compiled ? [entry, ...args] : ['--import', TSX_LOADER, entry, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`archiver ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function tempDir(prefix = 'onnxserve-archiver-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Opens an archive with the server's own reader, hands it to `check`, then removes the extraction. */
export async function withArchive<T>(source: string, tempRoot: string, check: (a: ModelArchive) => Promise<T> | T): Promise<T> {
  const archive = await openArchive(source, { tempRoot });
  try {
    return await check(archive);
  } finally {
    await archive.cleanup();
  }
}

/** Every file under `dir`, as sorted POSIX paths relative to it. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const name of fs.readdirSync(d)) {
      const full = path.join(d, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      if (fs.statSync(full).isDirectory()) walk(full, rel);
      else out.push(rel);
    }
  };
  walk(dir, '');
  return out.sort();
}
