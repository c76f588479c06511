/**
 * TorchServe's PID file, `<tmpdir>/.model_server.pid` (spec §1.2): the decimal PID, no newline.
 * A PID counts as ours only if that process is alive and its command line is an onnxserve one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function pidFilePath(): string {
  return path.join(os.tmpdir(), '.model_server.pid');
}

export function readPid(): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync(pidFilePath(), 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function writePid(pid: number): void {
  fs.writeFileSync(pidFilePath(), String(pid));
}

/** Removes the PID file, but only when it still names `pid` (a newer server may own it). */
export function removePid(pid?: number): void {
  if (pid !== undefined && readPid() !== pid) return;
  fs.rmSync(pidFilePath(), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const MARKERS = ['onnxserve', 'torchserve', 'cli/main.js', 'cli/main.ts'];

function looksLikeOurs(pid: number): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return MARKERS.some((m) => cmdline.includes(m));
  } catch {
    return true; // No /proc (macOS): trust a live PID.
  }
}

export type ServerState = { running: true; pid: number } | { running: false };

/**
 * The pre-check every invocation runs (spec §1.2): a dead PID's file is removed with
 * "Removing orphan pid file."; a live PID that is not ours is treated as not running.
 */
export function checkRunning(print: (line: string) => void): ServerState {
  if (!fs.existsSync(pidFilePath())) return { running: false };
  const pid = readPid();
  // Our own PID: a file left by a killed server whose restart got the same PID (PID 1 in a container).
  if (pid === undefined || pid === process.pid || !isAlive(pid)) {
    print('Removing orphan pid file.');
    removePid();
    return { running: false };
  }
  return looksLikeOurs(pid) ? { running: true, pid } : { running: false };
}
