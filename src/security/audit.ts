/**
 * The audit trail of model operations (issue 8): one JSON line per management action — allowed,
 * refused or failed — appended to `${LOG_LOCATION:-logs}/audit.log`. Each line is written and
 * fsynced before the reply goes out (management calls are rare; a crash must not lose a line), the
 * file is opened append-only and never truncated, and keys are never written: only which kind
 * of key the caller presented.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface AuditEntry {
  /** ISO-8601 with milliseconds, UTC. */
  time: string;
  /** Client address (`127.0.0.1`), or `local` for the server's own actions (start-up, poll). */
  remote: string;
  /** Which key the caller presented: `management`, `inference`, `API`, `none` (no/unknown key) or `disabled` (token auth off). */
  key: string;
  action: string;
  model: string | null;
  version: string | null;
  outcome: 'success' | 'refused' | 'failed';
  status: number;
  reason: string | null;
}

export class AuditLog {
  readonly file: string;
  private fd: number | undefined;

  constructor(logLocation: string) {
    this.file = path.resolve(logLocation, 'audit.log');
  }

  append(entry: Omit<AuditEntry, 'time'> & { time?: string }): void {
    const line = `${JSON.stringify({ ...entry, time: entry.time ?? new Date().toISOString() })}\n`;
    try {
      if (this.fd === undefined) {
        fs.mkdirSync(path.dirname(this.file), { recursive: true });
        this.fd = fs.openSync(this.file, 'a', 0o600);
      }
      fs.writeSync(this.fd, line);
      fs.fsyncSync(this.fd);
    } catch (err) {
      // The audit trail must not take the server down; the failure itself goes to stderr.
      process.stderr.write(`audit.log: could not append: ${(err as Error).message}\n`);
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The management action a request is, or undefined for reads (list, describe, metrics…). */
export function auditedAction(method: string, segments: readonly string[]): string | undefined {
  const [first, second, third, fourth] = segments;
  if (first === 'token') return 'rotate-key';
  if (first === 'models') {
    if (method === 'POST' && segments.length === 1) return 'register';
    if (segments.length >= 2 && segments.length <= 3 && method === 'DELETE') return 'unregister';
    if (segments.length >= 2 && segments.length <= 3 && method === 'PUT') return 'scale';
    if (segments.length === 4 && fourth === 'set-default' && (method === 'PUT' || method === 'DELETE' || method === 'GET')) return 'set-default';
    return undefined;
  }
  if (first === 'v2' && second === 'repository' && third === 'models' && segments.length === 5) return segments[4] === 'load' ? 'load' : segments[4] === 'unload' ? 'unload' : undefined;
  // /v1/api/models/insert_model_config is audited by the Wallaroo router itself (it knows the model).
  return undefined;
}
