/**
 * Logging written as TorchServe's log4j2 layout writes it, so the lines people grep for
 * (ACCESS_LOG, "Model server started.") look the same:
 *   console / ts_log.log:  2026-11-24T10:00:00,123 [INFO ] main ACCESS_LOG - <message>
 *   access_log.log:        2026-11-24T10:00:00,123 - <message>
 *
 * Lines are rendered straight to text (no JSON record in between) and buffered per sink; a sink
 * is written at most once every FLUSH_MS (the first line after a quiet period on the next turn),
 * however many requests finished meanwhile, so the access log costs one string concatenation per
 * request, not three writes. `close()` (and a process `exit`) flushes what is still buffered. Measured: see docs/architecture.md,
 * "Performance notes".
 */
import fs from 'node:fs';
import path from 'node:path';

/** The logging surface every room receives. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface Loggers {
  /** Server log: console and `<logLocation>/ts_log.log`. */
  main: Logger;
  /** One line per HTTP request: console, ts_log.log and `<logLocation>/access_log.log`. */
  access: Logger;
  /** TS_METRICS lines (log/legacy metrics modes): console, ts_log.log and `<metricsLocation>/ts_metrics.log`. */
  metrics: Logger;
  /** Flushes and closes the log files. */
  close(): Promise<void>;
}

/** log4j2's ISO8601 pattern: local time, comma before milliseconds. */
export function log4jTimestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`
  );
}

/** The current timestamp, rendered at most once per millisecond (busy servers log many lines per ms). */
let lastMs = -1;
let lastStamp = '';
function now(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastStamp = log4jTimestamp(new Date(ms));
  }
  return lastStamp;
}

/** Where buffered text goes when a sink flushes. */
interface Sink {
  /** `prompt`: written on the next turn, not after the access-log interval. */
  write(line: string, prompt: boolean): void;
  flush(): void;
  close(): Promise<void>;
}

/**
 * Access lines: at most one write per sink every FLUSH_MS. Each write wakes another thread
 * (libuv's pool for a file, the reader of a piped stdout), which on a small machine takes the CPU
 * from the event loop. The first line after a quiet period, and every server-log line (rare, and
 * people wait for them: "Model server started.", errors), are written on the next turn.
 */
const FLUSH_MS = 50;
const MAX_BUFFERED = 64 * 1024;

/** Every sink with buffered text; flushed together. */
const pending = new Set<Sink>();
let flushTimer: NodeJS.Timeout | undefined;
let flushImmediate: NodeJS.Immediate | undefined;
let lastFlush = 0;

function flushAll(): void {
  clearTimeout(flushTimer);
  clearImmediate(flushImmediate);
  flushTimer = flushImmediate = undefined;
  lastFlush = Date.now();
  for (const sink of pending) sink.flush();
  pending.clear();
}

function schedule(sink: Sink, prompt: boolean): void {
  pending.add(sink);
  if (flushImmediate !== undefined) return;
  const wait = prompt ? 0 : lastFlush + FLUSH_MS - Date.now();
  if (wait > 0) flushTimer ??= setTimeout(flushAll, wait);
  else flushImmediate = setImmediate(flushAll);
}

/** Nothing buffered may be lost when the process ends without close() (process.exit elsewhere). */
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', flushAll);
}

/** A buffering sink over `out`; `out` gets one call per flush with all lines since the last one. */
function bufferedSink(out: (text: string) => void, end: () => Promise<void> = async () => undefined): Sink {
  let buffer = '';
  let open = true;
  const sink: Sink = {
    write(line, prompt) {
      if (!open) return;
      if (buffer === '' || prompt) schedule(sink, prompt);
      buffer += line;
      if (buffer.length > MAX_BUFFERED) sink.flush();
    },
    flush() {
      if (buffer === '') return;
      const text = buffer;
      buffer = '';
      out(text);
    },
    close: async () => {
      if (!open) return;
      sink.flush();
      open = false;
      pending.delete(sink);
      await end();
    },
  };
  return sink;
}

/** A buffered, append-only log file: request paths never wait on a write. */
function fileSink(file: string): Sink {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const stream = fs.createWriteStream(file, { flags: 'a' });
  return bufferedSink(
    (text) => void stream.write(text),
    () => new Promise<void>((resolve) => stream.end(resolve)),
  );
}

export interface LoggingOptions {
  logLocation: string;
  /** Where ts_metrics.log goes (`METRICS_LOCATION`, TorchServe's); default: logLocation. */
  metricsLocation?: string;
  /** Echo to stdout (false for quiet tests). */
  console: boolean;
  debug?: boolean;
}

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export function createLoggers(opts: LoggingOptions): Loggers {
  hookExit();
  const tsLog = fileSink(path.join(opts.logLocation, 'ts_log.log'));
  const accessLog = fileSink(path.join(opts.logLocation, 'access_log.log'));
  const metricsLog = fileSink(path.join(opts.metricsLocation ?? opts.logLocation, 'ts_metrics.log'));
  const consoleSink = opts.console ? bufferedSink((text) => void process.stdout.write(text)) : undefined;

  /** `side`: the logger's own file (`<stamp> - <msg>` lines, written lazily like the access log). */
  const logger = (name: string, side?: Sink): Logger => {
    const prompt = side === undefined;
    const line = (level: Level, msg: string) => {
      const stamp = now();
      const full = `${stamp} [${level.padEnd(5)}] main ${name} - ${msg}\n`;
      consoleSink?.write(full, prompt);
      tsLog.write(full, prompt);
      side?.write(`${stamp} - ${msg}\n`, false);
    };
    return {
      debug: opts.debug ? (m) => line('DEBUG', m) : () => undefined,
      info: (m) => line('INFO', m),
      warn: (m) => line('WARN', m),
      error: (m) => line('ERROR', m),
    };
  };

  return {
    main: logger('org.onnxserve.ModelServer'),
    access: logger('ACCESS_LOG', accessLog),
    metrics: logger('TS_METRICS', metricsLog),
    close: async () => {
      await Promise.all([consoleSink?.close(), tsLog.close(), accessLog.close(), metricsLog.close()]);
    },
  };
}
