/**
 * Where rendered lines go: a log file (size-bounded, rotated) or stdout/stderr, each written through
 * pino's asynchronous destination (`pino.destination({ sync: false })`, sonic-boom), never with a
 * synchronous write on a request's path.
 *
 * Lines are appended to a string buffer per output, handed to the destination in batches: at most
 * once every FLUSH_MS for access-type lines (the first line after a quiet period on the next turn),
 * on the next turn for server-log lines (rare, and people wait for them: "Model server started.",
 * errors). Each write wakes another thread (libuv's pool for a file, the reader of a piped stdout),
 * which on a small machine takes the CPU from the event loop (docs/architecture.md, "Performance
 * notes"). `close()` flushes and ends; a process `exit` writes what is still buffered synchronously.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';

/** sonic-boom, as pino.destination returns it (`destroyed` is public but missing from its types). */
type Destination = ReturnType<typeof pino.destination> & { readonly destroyed: boolean };

export const FLUSH_MS = 50;
const MAX_BUFFERED = 64 * 1024;

/** Every output with buffered text; flushed together. */
const pending = new Set<Output>();
/** Every open output: written synchronously at process exit. */
const live = new Set<Output>();
let flushTimer: NodeJS.Timeout | undefined;
let flushImmediate: NodeJS.Immediate | undefined;
let lastFlush = 0;

function flushAll(): void {
  clearTimeout(flushTimer);
  clearImmediate(flushImmediate);
  flushTimer = flushImmediate = undefined;
  lastFlush = Date.now();
  for (const out of pending) out.flush();
  pending.clear();
}

function schedule(out: Output, prompt: boolean): void {
  pending.add(out);
  if (flushImmediate !== undefined) return;
  const wait = prompt ? 0 : lastFlush + FLUSH_MS - Date.now();
  if (wait > 0) flushTimer ??= setTimeout(flushAll, wait);
  else flushImmediate = setImmediate(flushAll);
}

/**
 * Nothing buffered may be lost when the process ends without close() (process.exit elsewhere):
 * at `exit` the event loop is gone, so every output writes what it holds synchronously.
 */
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    clearTimeout(flushTimer);
    clearImmediate(flushImmediate);
    pending.clear();
    for (const out of live) out.flushSync();
  });
}

/** Write errors are reported once per output, on stderr; logging never takes the server down. */
function reportOnce(out: { reported: boolean }, what: string, err: unknown): void {
  if (out.reported) return;
  out.reported = true;
  try {
    process.stderr.write(`onnxserve: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
  } catch {
    // nowhere left to say it
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Exit path only: writes all of `text` to `fd`, waiting out EAGAIN on a non-blocking pipe. */
function writeAllSync(fd: number, text: string): void {
  let buf = Buffer.from(text);
  for (let tries = 0; buf.length > 0 && tries < 1000; ) {
    try {
      buf = buf.subarray(fs.writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      tries++;
      Atomics.wait(sleepCell, 0, 0, 2);
    }
  }
}

/** pino's async destination on an open fd, with our error handling next to pino's (EPIPE: stop). */
function destination(fd: number, owner: { reported: boolean; broken: boolean }, what: string): Destination {
  const d = pino.destination({ dest: fd, sync: false }) as Destination;
  d.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') owner.broken = true;
    else reportOnce(owner, `cannot write ${what}`, err);
  });
  return d;
}

/** Ends a destination once everything handed to it is written; resolves when its fd is closed. */
function endDestination(d: Destination, broken: boolean): Promise<void> {
  if (d.destroyed || broken) return Promise.resolve();
  return new Promise<void>((resolve) => {
    d.once('close', () => resolve());
    d.once('error', () => resolve()); // reported by destination(); a close must not hang shutdown
    d.end();
  });
}

export abstract class Output {
  reported = false;
  broken = false;
  private buffer = '';
  private open = true;

  /** Subclasses call this once their destination is open: from then on, exit writes what is buffered. */
  protected activate(): void {
    hookExit();
    live.add(this);
  }

  /** `prompt`: written on the next turn, not after the access-log interval. */
  write(line: string, prompt: boolean): void {
    if (!this.open) return;
    if (this.buffer === '' || prompt) schedule(this, prompt);
    this.buffer += line;
    if (this.buffer.length > MAX_BUFFERED) this.flush();
  }

  /** Hands what is buffered to the destination (asynchronous write). */
  flush(): void {
    if (this.buffer === '') return;
    const text = this.buffer;
    this.buffer = '';
    this.emit(text);
  }

  /** Process exit: everything still held, written synchronously. */
  flushSync(): void {
    const text = this.buffer;
    this.buffer = '';
    try {
      this.emitSync(text);
    } catch (e) {
      reportOnce(this, 'cannot write the last log lines', e);
    }
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.flush();
    this.open = false;
    pending.delete(this);
    await this.end();
    live.delete(this);
  }

  protected abstract emit(text: string): void;
  protected abstract emitSync(text: string): void;
  protected abstract end(): Promise<void>;
}

/** stdout or stderr. */
export class StreamOutput extends Output {
  private readonly dest: Destination;

  constructor(
    private readonly fd: 1 | 2,
    readonly isTTY = fd === 1 ? process.stdout.isTTY === true : process.stderr.isTTY === true,
  ) {
    super();
    this.dest = destination(fd, this, fd === 1 ? 'stdout' : 'stderr');
    this.activate();
  }

  protected emit(text: string): void {
    if (this.broken) return;
    if (!this.dest.destroyed) this.dest.write(text);
    else this.emitSync(text); // ended by pino's beforeExit hook: the loop is about to end anyway
  }

  protected emitSync(text: string): void {
    if (this.broken) return;
    if (!this.dest.destroyed) this.dest.flushSync();
    if (text !== '') writeAllSync(this.fd, text);
  }

  protected end(): Promise<void> {
    return endDestination(this.dest, this.broken);
  }
}

const open = promisify(fs.open);
const rename = promisify(fs.rename);
const unlink = promisify(fs.unlink);

export interface FileLimits {
  /** Rotate before the file would grow past this; 0: never. */
  maxBytes: number;
  /** Rotated files kept: `<file>.1` (newest) … `<file>.<maxFiles>`. */
  maxFiles: number;
}

/**
 * An append-only log file. Before a batch would take it past `maxBytes`, the lines that fit are
 * written, the file is closed and renamed `<file>.1` (older ones shifted, the oldest dropped) and a
 * new one is started, all asynchronously; lines logged meanwhile wait in memory. A single line
 * longer than the bound is written whole into a file of its own.
 */
export class FileOutput extends Output {
  private dest: Destination;
  private fd: number;
  private size: number;
  /** While the file rotates: the old destination, still writing, and text for the new file. */
  private rotating: Promise<void> | undefined;
  private ending: Destination | undefined;
  private queued = '';

  constructor(
    readonly file: string,
    private readonly limits: FileLimits,
  ) {
    super();
    // Start-up: synchronous, so a directory that can't be written is reported at once.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
    this.size = fs.fstatSync(this.fd).size;
    this.dest = destination(this.fd, this, file);
    this.activate();
  }

  /** Rotated files, newest first (for tests and tools). */
  static rotatedName(file: string, n: number): string {
    return `${file}.${n}`;
  }

  protected emit(text: string): void {
    if (this.rotating) {
      this.queued += text;
      return;
    }
    const max = this.limits.maxBytes;
    if (max <= 0) return this.put(text);
    const bytes = Buffer.byteLength(text);
    if (this.size + bytes <= max) {
      this.size += bytes;
      return this.put(text);
    }
    // The lines that still fit go to this file; the rest to the next.
    let fit = 0;
    let fitBytes = 0;
    while (fit < text.length) {
      const nl = text.indexOf('\n', fit);
      const end = nl === -1 ? text.length : nl + 1;
      const lineBytes = Buffer.byteLength(text.slice(fit, end));
      if (this.size + fitBytes > 0 && this.size + fitBytes + lineBytes > max) break;
      fitBytes += lineBytes;
      fit = end;
    }
    if (fit > 0) {
      this.size += fitBytes;
      this.put(text.slice(0, fit));
    }
    if (fit < text.length) {
      this.queued = text.slice(fit);
      this.rotate();
    }
  }

  private put(text: string): void {
    if (!this.dest.destroyed) return void this.dest.write(text);
    // Ended by pino's beforeExit hook (the loop is ending), or a failed rotation.
    try {
      fs.appendFileSync(this.file, text);
    } catch (e) {
      reportOnce(this, `cannot write ${this.file}`, e);
    }
  }

  private rotate(): void {
    this.rotating = this.roll()
      .catch((e: unknown) => {
        reportOnce(this, `cannot rotate ${this.file}`, e);
        // Go on appending to the file as it is (or a new one), unrotated.
        try {
          this.fd = fs.openSync(this.file, 'a');
          this.size = 0;
          this.dest = destination(this.fd, this, this.file);
        } catch {
          // put() falls back to appending by name, and reports if that fails too
        }
      })
      .finally(() => {
        this.rotating = undefined;
        this.ending = undefined;
        const text = this.queued;
        this.queued = '';
        if (text !== '') this.emit(text);
      });
  }

  private async roll(): Promise<void> {
    const old = this.dest;
    this.ending = old;
    await endDestination(old, false);
    const { file } = this;
    const { maxFiles } = this.limits;
    const ignoreMissing = (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    };
    if (maxFiles === 0) await unlink(file).catch(ignoreMissing);
    else {
      for (let i = maxFiles - 1; i >= 1; i--) {
        await rename(FileOutput.rotatedName(file, i), FileOutput.rotatedName(file, i + 1)).catch(ignoreMissing);
      }
      await rename(file, FileOutput.rotatedName(file, 1)).catch(ignoreMissing);
    }
    this.fd = await open(file, 'a');
    this.size = 0;
    this.dest = destination(this.fd, this, file);
  }

  protected emitSync(text: string): void {
    if (this.rotating) {
      // Mid-rotation: the old file's last lines, then what waits, wherever the file name points now.
      if (this.ending && !this.ending.destroyed) this.ending.flushSync();
      const rest = this.queued + text;
      this.queued = '';
      if (rest !== '') fs.appendFileSync(this.file, rest);
      return;
    }
    if (this.dest.destroyed) {
      if (text !== '') fs.appendFileSync(this.file, text);
      return;
    }
    this.dest.flushSync();
    if (text !== '') writeAllSync(this.fd, text);
  }

  protected async end(): Promise<void> {
    while (this.rotating) await this.rotating;
    await endDestination(this.dest, false);
  }
}
