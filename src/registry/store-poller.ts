/**
 * `model_control_mode=poll` (issue 8, Triton's poll mode): the model store is scanned every
 * `model_store_poll_secs`. A new archive is registered, a changed one reloaded (the old version
 * keeps serving until the new one's workers are ready, and keeps serving if it fails), a removed
 * one unregistered. A file is acted on only once it looked the same (size and mtime — for a
 * folder, over all its files) on two scans in a row, so a half-written archive is never loaded.
 * Every action is logged and audited (remote `local`).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ServeError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { AuditLog } from '../security/audit.js';
import { defaultRegisterRequest, type ModelRegistry } from './registry.js';
import type { ServerConfig } from '../config/types.js';

interface Known {
  /** Size/mtime signature it was last acted on with. */
  sig: string;
  /** The model it registered (absent when the load failed). */
  name?: string;
}

async function signature(file: string): Promise<string | undefined> {
  try {
    const st = await fsp.stat(file);
    if (st.isFile()) return `${st.size}:${st.mtimeMs}`;
    let size = 0;
    let mtime = st.mtimeMs;
    let count = 0;
    for (const e of await fsp.readdir(file, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const s = await fsp.stat(path.join(e.parentPath, e.name));
      size += s.size;
      mtime = Math.max(mtime, s.mtimeMs);
      count++;
    }
    return `${count}:${size}:${mtime}`;
  } catch {
    return undefined;
  }
}

export class StorePoller {
  private readonly known = new Map<string, Known>();
  /** Signatures seen on the previous scan: a file must look the same twice before it is touched. */
  private previous = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly config: ServerConfig,
    private readonly log: Logger,
    private readonly audit: AuditLog,
  ) {}

  /** Takes what start-up loaded as known, then scans every model_store_poll_secs. */
  async start(): Promise<void> {
    const store = this.config.modelStore ?? '';
    for (const v of this.registry.allRegistered()) {
      const sig = await signature(path.join(store, v.url));
      if (sig !== undefined) this.known.set(v.url, { sig, name: v.name });
    }
    const tick = () => {
      this.scanning = this.scan()
        .catch((e: unknown) => this.log.error(`Model store poll failed: ${String(e)}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.config.modelStorePollSecs * 1000);
        });
    };
    this.timer = setTimeout(tick, this.config.modelStorePollSecs * 1000);
    this.log.info(`Model control mode poll: scanning ${store} every ${this.config.modelStorePollSecs} s`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning;
  }

  /** One scan (public for tests). */
  async scan(): Promise<void> {
    const store = this.config.modelStore ?? '';
    const entries = await this.registry.storeEntries();
    const seen = new Map<string, string>();
    for (const { file } of entries) {
      const sig = await signature(path.join(store, file));
      if (sig === undefined) continue;
      seen.set(file, sig);
      if (this.previous.get(file) !== sig || this.stopped) continue; // new or still changing
      const k = this.known.get(file);
      // A file whose earlier load failed is loaded afresh once it changes; a loaded one is reloaded.
      if (!k || (k.sig !== sig && !k.name)) await this.load(file, sig);
      else if (k.sig !== sig) await this.reload(file, sig, k);
    }
    for (const [file, k] of [...this.known]) {
      if (seen.has(file) || this.stopped) continue;
      this.known.delete(file);
      if (k.name && this.registry.has(k.name)) await this.unload(file, k.name);
    }
    this.previous = seen;
  }

  private workers(): number {
    return this.config.startupWorkersPerModel;
  }

  private async load(file: string, sig: string): Promise<void> {
    try {
      await this.registry.register({ ...defaultRegisterRequest(file, this.config), initialWorkers: this.workers(), synchronous: true });
      const name = this.registry.allRegistered().find((v) => v.url === file)?.name;
      this.known.set(file, { sig, ...(name ? { name } : {}) });
      this.log.info(`Model store poll: loaded ${file}${name ? ` as ${name}` : ''}`);
      this.record('poll-load', name ?? file, 200, null);
    } catch (e) {
      // Remembered with this signature: retried only once the file changes again.
      this.known.set(file, { sig });
      this.failed('poll-load', file, file, e);
    }
  }

  private async reload(file: string, sig: string, k: Known): Promise<void> {
    try {
      const v = await this.registry.replaceVersion(file, this.workers());
      this.known.set(file, { sig, name: v.name });
      this.log.info(`Model store poll: reloaded ${file} (${v.name} ${v.version})`);
      this.record('poll-reload', v.name, 200, null, v.version);
    } catch (e) {
      this.known.set(file, { ...k, sig });
      this.failed('poll-reload', file, k.name ?? file, e, ' (the loaded version keeps serving)');
    }
  }

  private async unload(file: string, name: string): Promise<void> {
    try {
      await this.registry.unloadAll(name);
      this.log.info(`Model store poll: ${file} removed, unloaded ${name}`);
      this.record('poll-unload', name, 200, null);
    } catch (e) {
      this.failed('poll-unload', file, name, e);
    }
  }

  private failed(action: string, file: string, model: string, e: unknown, suffix = ''): void {
    const status = e instanceof ServeError ? e.status : 500;
    const why = e instanceof ServeError ? e.message : String(e);
    this.log.error(`Model store poll: ${action} of ${file} failed: ${why}${suffix}`);
    this.record(action, model, status, e instanceof ServeError ? e.message : 'internal error');
  }

  private record(action: string, model: string, status: number, reason: string | null, version?: string): void {
    this.audit.append({
      remote: 'local',
      key: 'none',
      action,
      model,
      version: version ?? null,
      outcome: status < 400 ? 'success' : status < 500 ? 'refused' : 'failed',
      status,
      reason,
    });
  }
}
