/**
 * The real-world ConfigSources: Node's fs, process.env and the machine's CPU count.
 * Kept apart from resolve.ts so that stays pure and tests can inject fakes.
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { latestSnapshot, snapshotDir } from '../snapshot/store.js';
import type { CliOptions, ConfigSources } from './resolve.js';

const stat = (p: string) => {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined; // e.g. EACCES or ENOTDIR: treat as missing
  }
};

/**
 * CPUs this process may use: the machine's, capped by a cgroup CPU quota (a container's
 * `limits.cpu`), so worker and thread counts do not oversubscribe a pod.
 */
function containerCpuCount(): number {
  const cpus = os.availableParallelism();
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  let quota: number | undefined;
  const v2 = read('/sys/fs/cgroup/cpu.max')?.split(/\s+/);
  if (v2 && v2[0] !== 'max') quota = Number(v2[0]) / Number(v2[1]);
  else if (!v2) {
    const q = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
    const p = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
    if (q > 0 && p > 0) quota = q / p;
  }
  return quota !== undefined && Number.isFinite(quota) && quota > 0 ? Math.max(1, Math.min(cpus, Math.ceil(quota))) : cpus;
}

export function nodeConfigSources(
  cli: CliOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): ConfigSources {
  return {
    cli,
    env,
    cwd: path.resolve(cwd),
    cpuCount: containerCpuCount(),
    readFile(p) {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
    isDirectory: (p) => stat(p)?.isDirectory() ?? false,
    fileExists: (p) => stat(p)?.isFile() ?? false,
    latestSnapshot: (logLocation) => latestSnapshot(snapshotDir(path.resolve(cwd), logLocation)),
  };
}
