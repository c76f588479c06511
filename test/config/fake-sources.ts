/** An in-memory file system and environment for resolveConfig tests. */
import type { CliOptions, ConfigSources } from '../../src/config/resolve.js';

export interface FakeWorld {
  cli?: CliOptions;
  env?: Record<string, string | undefined>;
  /** Absolute path → contents. */
  files?: Record<string, string>;
  /** Absolute directory paths. */
  dirs?: string[];
  cwd?: string;
  cpuCount?: number;
}

/** Defaults: cwd /srv, an existing /srv/store, --model-store store, 4 CPUs, empty env. */
export function fakeSources(world: FakeWorld = {}): ConfigSources {
  const files = world.files ?? {};
  const dirs = new Set(world.dirs ?? ['/srv/store']);
  return {
    cli: world.cli ?? { modelStore: 'store' },
    env: world.env ?? {},
    cwd: world.cwd ?? '/srv',
    cpuCount: world.cpuCount ?? 4,
    readFile: (p) => files[p],
    isDirectory: (p) => dirs.has(p),
    fileExists: (p) => Object.hasOwn(files, p),
  };
}
