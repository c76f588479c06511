/** Shared by the logging tests: temporary log directories, file reads, a child process that logs. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import type { LogConfig } from '../../src/logging.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export function logDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-log-'));
  dirs.push(d);
  return d;
}

export const read = (dir: string, file: string): string =>
  fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), 'utf8') : '';

export const lines = (dir: string, file: string): string[] => read(dir, file).split('\n').filter(Boolean);

/** A fixed local time: every stamp is `2026-11-24T10:00:00,123`, whatever the time zone. */
export const FIXED_MS = new Date(2026, 10, 24, 10, 0, 0, 123).getTime();
export const FIXED_STAMP = '2026-11-24T10:00:00,123';
export const STAMP = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d{3}`;

export interface ChildScript {
  logLocation: string;
  console?: boolean;
  config?: LogConfig;
  /** Lines of each kind to log, per turn. */
  count?: number;
  /** Event-loop turns to log in (default 1): later turns log while earlier lines are being written. */
  turns?: number;
  /** How the process ends: process.exit() at once, the event loop running dry, or close() first. */
  end: 'exit' | 'natural' | 'close' | 'throw';
  fixedTime?: boolean;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'log-child.ts');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs fixtures/log-child.ts in its own node process; its stdout, stderr and exit status. */
export function runChild(script: ChildScript): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(script)], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}
