/**
 * The server's loggers: pino loggers written as TorchServe's log4j2.xml writes them, so the lines
 * people grep for (ACCESS_LOG, "Model server started.") look the same (spec §0.8, §6.3):
 *   console / ts_log.log:  2026-11-24T10:00:00,123 [INFO ] main ACCESS_LOG - <message>
 *   model_log.log:         2026-11-24T10:00:00,123 [INFO ] W-9000-mlp_1.0 MODEL_LOG - <message>
 *   access_log.log:        2026-11-24T10:00:00,123 - <message>
 *   ts_metrics.log:        2026-11-24T10:00:00,123 - <message>
 * all under `${LOG_LOCATION:-logs}` (ts_metrics.log under METRICS_LOCATION when set). As in
 * log4j2.xml, ACCESS_LOG, MODEL_LOG and TS_METRICS are additive: their lines also reach the console
 * and ts_log.log. `--log-config` (logging/config.ts) changes levels, destinations, formats (text,
 * pino's JSON, pretty) and rotation.
 *
 * Each logger is a pino logger over a router stream (pino's metadata stream protocol: pino hands it
 * the level, message and logger of each line). Text is rendered straight from those parts, once per
 * layout, with the timestamp string cached per millisecond; pino builds its JSON only for a logger
 * that has a JSON destination. Rendered lines are batched per output and written asynchronously
 * through pino.destination (logging/output.ts), so an access line costs the request a few string
 * concatenations. Measured: docs/architecture.md, "Performance notes".
 */
import os from 'node:os';
import pino from 'pino';
import { resolveLogSettings, validateLogConfig, type LogConfig, type LogTarget, type ResolvedDestination, type ResolvedTarget } from './logging/config.js';
import { longLine, prettyLine, shortLine, stampNow, type Layout } from './logging/layout.js';
import { FileOutput, StreamOutput, type Output } from './logging/output.js';

export { log4jTimestamp } from './logging/layout.js';
export { LogConfigError, loadLogConfig, parseLogConfig, type LogConfig } from './logging/config.js';

/** The logging surface every room receives. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Which worker a handler's line comes from. */
export interface WorkerTag {
  model: string;
  version: string;
  /** The worker id (9000, …): the thread shows as `W-9000-<model>_<version>`, as TorchServe's. */
  worker: number;
}

/** MODEL_LOG: what handlers log, one logger per worker. */
export interface ModelLog {
  forWorker(tag: WorkerTag): Logger;
}

export interface Loggers {
  /** Server log: console and `<logLocation>/ts_log.log`. */
  main: Logger;
  /** One line per HTTP request: console, ts_log.log and `<logLocation>/access_log.log`. */
  access: Logger;
  /** TS_METRICS lines (log/legacy metrics modes): console, ts_log.log and `<metricsLocation>/ts_metrics.log`. */
  metrics: Logger;
  /** What handlers log (MODEL_LOG): `<logLocation>/model_log.log`, console and ts_log.log. */
  model: ModelLog;
  /** Flushes and closes the log files. */
  close(): Promise<void>;
}

export interface LoggingOptions {
  logLocation: string;
  /** Where ts_metrics.log goes (`METRICS_LOCATION`, TorchServe's); default: logLocation. */
  metricsLocation?: string;
  /** Echo to stdout (false for quiet tests and the daemon). */
  console: boolean;
  debug?: boolean;
  /** A parsed `--log-config` (loadLogConfig); default: TorchServe's files and layouts. */
  config?: LogConfig;
}

/** The thread (`%t`) of a model child logger. */
const THREAD = Symbol('onnxserve.log.thread');

/** pino's level numbers. */
const LEVEL_NUMS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, off: Infinity };
const pinoLevel = (name: string) => (name === 'off' ? 'silent' : name);

interface Route {
  out: Output;
  layout: Layout;
  /** The destination's threshold (the console's level); 0 for the others. */
  min: number;
}

/**
 * A pino destination with `needsMetadata`: before each write pino sets the line's level, message
 * and logger here, so the text layouts need no JSON. `write(s)` gets pino's JSON, or '' when no
 * destination of this logger wants it (then pino never builds it).
 */
class Router {
  readonly [pino.symbols.needsMetadataGsym] = true as const;
  lastLevel = 0;
  lastMsg = '';
  lastTime = '';
  lastObj: object = {};
  lastLogger: unknown;

  constructor(
    private readonly category: string,
    private readonly routes: Route[],
    private readonly prompt: boolean,
  ) {}

  write(json: string): void {
    const num = this.lastLevel;
    const msg = this.lastMsg;
    const thread = ((this.lastLogger as Record<symbol, string | undefined>)[THREAD]) ?? 'main';
    const stamp = stampNow();
    let long: string | undefined;
    let short: string | undefined;
    for (const r of this.routes) {
      if (num < r.min) continue;
      let line: string;
      switch (r.layout) {
        case 'long':
          line = long ??= longLine(stamp, num, thread, this.category, msg);
          break;
        case 'short':
          line = short ??= shortLine(stamp, msg);
          break;
        case 'json':
          line = json;
          break;
        default:
          line = prettyLine(stamp, num, thread, this.category, msg, r.layout === 'pretty-color');
      }
      r.out.write(line, this.prompt);
    }
  }
}

const noJson = () => '';

export function createLoggers(opts: LoggingOptions): Loggers {
  // Validated again: a config built in code gets the same checks as a file.
  const settings = resolveLogSettings(validateLogConfig(opts.config ?? {}), {
    logLocation: opts.logLocation,
    metricsLocation: opts.metricsLocation,
    debug: opts.debug,
    console: opts.console,
  });

  /** One output per file or stream, whoever writes to it. */
  const outputs = new Map<string, Output>();
  const outputFor = (d: ResolvedDestination, t: ResolvedTarget): Output | undefined => {
    if (d.kind === 'off') return undefined;
    const key = d.kind === 'file' ? `file:${d.path}` : d.kind;
    let out = outputs.get(key);
    if (!out) {
      out =
        d.kind === 'file'
          ? new FileOutput(d.path, { maxBytes: Math.floor(t.rotation.maxSizeMB * 1024 * 1024), maxFiles: t.rotation.maxFiles })
          : new StreamOutput(d.kind === 'stdout' ? 1 : 2);
      outputs.set(key, out);
    }
    return out;
  };

  /** Each target's own destination, in that target's layout. */
  const own = (name: LogTarget): Route | undefined => {
    const t = settings[name];
    const out = outputFor(t.destination, t);
    if (!out) return undefined;
    const layout: Layout =
      t.format === 'json'
        ? 'json'
        : t.format === 'pretty'
          ? out instanceof StreamOutput && out.isTTY && !process.env.NO_COLOR
            ? 'pretty-color'
            : 'pretty'
          : name === 'access_log' || name === 'ts_metrics'
            ? 'short'
            : 'long';
    return { out, layout, min: name === 'console' ? (LEVEL_NUMS[t.level] ?? 0) : 0 };
  };
  /** ts_log's and the console's routes: the additive loggers write there too. */
  let tsLog: Route | undefined;
  let consoleRoute: Route | undefined;
  /** A logger's routes: its own destination, then (ts_log, and the additive ones) ts_log's and the console. */
  const routesOf = (name: LogTarget): Route[] => {
    const all = name === 'ts_log' ? [tsLog, consoleRoute] : [own(name), ...(settings[name].additive ? [tsLog, consoleRoute] : [])];
    const routes: Route[] = [];
    for (const r of all) {
      // Two targets configured onto one destination in one layout: one line, not two.
      if (r && !routes.some((x) => x.out === r.out && x.layout === r.layout)) routes.push(r);
    }
    return routes;
  };

  const hostname = os.hostname();
  const source = (name: LogTarget, category: string, prompt: boolean): pino.Logger => {
    const routes = routesOf(name);
    const wantsJson = routes.some((r) => r.layout === 'json');
    const logger = pino(
      {
        level: routes.length === 0 ? 'silent' : pinoLevel(settings[name].level),
        base: { pid: process.pid, hostname, logger: category },
        timestamp: wantsJson ? pino.stdTimeFunctions.isoTime : false,
        formatters: { level: (label) => ({ level: label }) },
      },
      new Router(category, routes, prompt),
    );
    // pino's serialiser, skipped when nothing reads the JSON (the text layouts don't).
    if (!wantsJson) (logger as unknown as Record<symbol, unknown>)[pino.symbols.asJsonSym] = noJson;
    return logger;
  };

  let main: pino.Logger, access: pino.Logger, metrics: pino.Logger, modelLogger: pino.Logger;
  try {
    tsLog = own('ts_log');
    consoleRoute = own('console');
    main = source('ts_log', 'org.onnxserve.ModelServer', true);
    access = source('access_log', 'ACCESS_LOG', false);
    metrics = source('ts_metrics', 'TS_METRICS', false);
    modelLogger = source('model_log', 'MODEL_LOG', false);
  } catch (e) {
    // A destination that can't be opened (permissions, a directory in the way): close the others.
    for (const o of outputs.values()) void o.close();
    throw e;
  }
  return {
    main,
    access,
    metrics,
    model: {
      forWorker({ model, version, worker }) {
        const thread = `W-${worker}-${model}_${version}`;
        const child = modelLogger.child({ model, version, worker: thread });
        (child as unknown as Record<symbol, string>)[THREAD] = thread;
        return child;
      },
    },
    close: async () => {
      await Promise.all([...outputs.values()].map((o) => o.close()));
    },
  };
}
