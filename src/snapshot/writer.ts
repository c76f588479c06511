/**
 * Writes config snapshots (spec §8) on start, on every model change and on shutdown: the server's
 * resolved properties plus the registry's model versions. A failed write is logged, never thrown:
 * a full disk must not fail a registration that already happened.
 */
import { renderSnapshotFile, snapshotFileName, type ModelSnapshot, type SnapshotType } from './format.js';
import { writeSnapshot } from './store.js';
import type { CatalogJSON } from '../wallaroo/catalog.js';

export interface SnapshotWriterOptions {
  dir: string;
  properties: Readonly<Record<string, string>>;
  /** The registered model versions, as they are now. */
  models: () => ModelSnapshot['models'];
  /** The Wallaroo catalog, saved alongside so its ids survive restarts. */
  wallaroo?: () => CatalogJSON;
  log: { info(message: string): void; error(message: string): void };
  now?: () => Date;
}

export class SnapshotWriter {
  constructor(private readonly options: SnapshotWriterOptions) {}

  /** Writes one snapshot; returns its file name, or undefined when none was written. */
  write(type: SnapshotType): string | undefined {
    const date = (this.options.now ?? (() => new Date()))();
    const name = snapshotFileName(date, type);
    const models = this.options.models();
    const modelCount = Object.values(models).reduce((n, versions) => n + Object.keys(versions).length, 0);
    const wallaroo = this.options.wallaroo?.();
    const snapshot: ModelSnapshot = { name, modelCount, created: date.getTime(), models, ...(wallaroo ? { wallaroo } : {}) };
    const content = renderSnapshotFile(this.options.properties, snapshot, date);
    try {
      if (!writeSnapshot(this.options.dir, name, content)) return undefined;
      this.options.log.info(`Snapshot saved: ${name}`);
      return name;
    } catch (e) {
      this.options.log.error(`Could not save the config snapshot ${name}: ${(e as Error).message}`);
      return undefined;
    }
  }
}
