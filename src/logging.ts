/**
 * Logging through pino, written as TorchServe's log4j2 layout writes it, so the lines people grep
 * for (ACCESS_LOG, "Model server started.") look the same:
 *   console / ts_log.log:  2026-11-24T10:00:00,123 [INFO ] main ACCESS_LOG - <message>
 *   access_log.log:        2026-11-24T10:00:00,123 - <message>
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger as PinoLogger } from 'pino';

/** The logging surface every room receives; nothing else imports pino. */
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
  /** Flushes and closes the log files. */
  close(): Promise<void>;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** log4j2's ISO8601 pattern: local time, comma before milliseconds. */
export function log4jTimestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`
  );
}

interface PinoLine {
  level: number;
  msg?: string;
  name?: string;
}

/** A pino destination that re-renders each JSON record as a text line. */
function textStream(render: (rec: PinoLine) => string | undefined, sinks: Array<(line: string) => void>): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const raw of chunk.toString('utf8').split('\n')) {
        if (!raw) continue;
        let rec: PinoLine;
        try {
          rec = JSON.parse(raw) as PinoLine;
        } catch {
          continue;
        }
        const line = render(rec);
        if (line !== undefined) for (const sink of sinks) sink(line);
      }
      cb();
    },
  });
}

/** A buffered, append-only log file: request paths never wait on a synchronous write. */
function fileSink(file: string): { write: (line: string) => void; close: () => Promise<void> } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const stream = fs.createWriteStream(file, { flags: 'a' });
  let open = true;
  return {
    write: (line) => {
      if (open) stream.write(line);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!open) return resolve();
        open = false;
        stream.end(resolve);
      }),
  };
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (m) => p.debug(m),
    info: (m) => p.info(m),
    warn: (m) => p.warn(m),
    error: (m) => p.error(m),
  };
}

export interface LoggingOptions {
  logLocation: string;
  /** Echo to stdout (false for quiet tests). */
  console: boolean;
  debug?: boolean;
}

export function createLoggers(opts: LoggingOptions): Loggers {
  const tsLog = fileSink(path.join(opts.logLocation, 'ts_log.log'));
  const accessLog = fileSink(path.join(opts.logLocation, 'access_log.log'));
  const consoleSink = (line: string) => {
    if (opts.console) process.stdout.write(line);
  };
  const full = (rec: PinoLine) =>
    `${log4jTimestamp()} [${(LEVEL_NAMES[rec.level] ?? 'INFO').padEnd(5)}] main ${rec.name ?? 'org.onnxserve.ModelServer'} - ${rec.msg ?? ''}\n`;

  const mainStream = textStream(full, [consoleSink, tsLog.write]);
  const accessStream = textStream(
    (rec) => {
      accessLog.write(`${log4jTimestamp()} - ${rec.msg ?? ''}\n`);
      return full(rec);
    },
    [consoleSink, tsLog.write],
  );
  const level = opts.debug ? 'debug' : 'info';
  const base = { base: undefined, timestamp: false, level };
  const main = pino(base, mainStream);
  const access = pino({ ...base, name: 'ACCESS_LOG' }, accessStream);
  return {
    main: wrap(main),
    access: wrap(access),
    close: async () => {
      await Promise.all([tsLog.close(), accessLog.close()]);
    },
  };
}
