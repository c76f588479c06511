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

export function nodeConfigSources(
  cli: CliOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): ConfigSources {
  return {
    cli,
    env,
    cwd: path.resolve(cwd),
    cpuCount: os.availableParallelism(),
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
