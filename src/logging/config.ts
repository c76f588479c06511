/**
 * The logging config given with `--log-config FILE` (JSON or YAML), and its defaults.
 *
 * ```yaml
 * level: info                 # every logger's level unless it names its own
 * format: text                # text (TorchServe's log4j2 layouts) | json (pino) | pretty
 * rotation:                   # every file destination's, unless it names its own
 *   maxSizeMB: 100            # rotate when the file would grow past this (0: never)
 *   maxFiles: 5               # rotated files kept: ts_log.log.1 (newest) … ts_log.log.5
 * ts_log:                     # the server log (org.onnxserve.ModelServer); default file ts_log.log
 *   level: debug
 * access_log:                 # ACCESS_LOG: one line per request; default file access_log.log
 *   destination: off          # stdout | stderr | off | a file (relative: to LOG_LOCATION)
 * model_log:                  # MODEL_LOG: what handlers log; default file model_log.log
 *   additive: false           # not also in ts_log and the console (default true, as log4j2.xml)
 * ts_metrics:                 # TS_METRICS lines; default file ts_metrics.log under METRICS_LOCATION
 *   format: json
 * console:                    # the console echo of ts_log (and of the additive loggers)
 *   destination: stderr
 *   level: warn               # the console's threshold
 *   format: pretty
 * ```
 *
 * Semantics follow TorchServe's log4j2.xml: a logger's `level` drops its messages below it
 * everywhere; `additive` loggers also write to ts_log's destination and the console, in the
 * layout of those; `console.level` is a threshold on what the console shows.
 * log4j2 XML files are refused (see `LogConfigError`).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const LOG_TARGETS = ['ts_log', 'access_log', 'model_log', 'ts_metrics', 'console'] as const;
export type LogTarget = (typeof LOG_TARGETS)[number];

export const LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'off'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

export const LOG_FORMATS = ['text', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Rotation {
  /** Rotate before the file would grow past this many MiB (fractions allowed); 0: never. */
  maxSizeMB: number;
  /** Rotated files kept (`<file>.1` newest … `<file>.<maxFiles>` oldest); 0: none kept. */
  maxFiles: number;
}

/** One logger's section of the config; everything optional. */
export interface TargetConfig {
  level?: LevelName;
  /** `stdout`, `stderr`, `off`, or a file path (relative: to LOG_LOCATION, METRICS_LOCATION for ts_metrics). */
  destination?: string;
  format?: LogFormat;
  rotation?: Partial<Rotation>;
  /** access_log, model_log, ts_metrics only: also write to ts_log's destination and the console. */
  additive?: boolean;
}

/** A parsed, validated `--log-config`. */
export interface LogConfig {
  level?: LevelName;
  format?: LogFormat;
  rotation?: Partial<Rotation>;
  ts_log?: TargetConfig;
  access_log?: TargetConfig;
  model_log?: TargetConfig;
  ts_metrics?: TargetConfig;
  console?: TargetConfig;
}

/** TorchServe's log4j2.xml: SizeBasedTriggeringPolicy 100 MB, DefaultRolloverStrategy max 5. */
export const DEFAULT_ROTATION: Rotation = { maxSizeMB: 100, maxFiles: 5 };

/** A config that can't be used; `message` starts with `--log-config:` and names the key. */
export class LogConfigError extends Error {
  override name = 'LogConfigError';
}

export const XML_REFUSED =
  '--log-config: log4j2 XML configurations are not supported; give a JSON or YAML logging config (see README "Logging")';

const fail = (msg: string): never => {
  throw new LogConfigError(`--log-config: ${msg}`);
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'a list' : isRecord(v) ? 'a mapping' : String(v));

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`unknown key ${where}${k} (expected one of ${allowed.join(', ')})`);
  }
}

function level(v: unknown, key: string): LevelName {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
  // log4j's names too: ALL, WARN, OFF …
  const name = s === 'all' ? 'trace' : s === 'silent' ? 'off' : s;
  if (name === undefined || !(LEVEL_NAMES as readonly string[]).includes(name)) {
    return fail(`${key} must be one of ${LEVEL_NAMES.join(', ')} (got ${show(v)})`);
  }
  return name as LevelName;
}

function format(v: unknown, key: string): LogFormat {
  if (typeof v !== 'string' || !(LOG_FORMATS as readonly string[]).includes(v)) {
    return fail(`${key} must be one of ${LOG_FORMATS.join(', ')} (got ${show(v)})`);
  }
  return v as LogFormat;
}

function rotation(v: unknown, key: string): Partial<Rotation> {
  if (!isRecord(v)) return fail(`${key} must be a mapping with maxSizeMB and/or maxFiles (got ${show(v)})`);
  checkKeys(v, ['maxSizeMB', 'maxFiles'], `${key}.`);
  const out: Partial<Rotation> = {};
  if (v.maxSizeMB !== undefined) {
    if (typeof v.maxSizeMB !== 'number' || !Number.isFinite(v.maxSizeMB) || v.maxSizeMB < 0) {
      fail(`${key}.maxSizeMB must be a number ≥ 0 (0: never rotate) (got ${show(v.maxSizeMB)})`);
    }
    out.maxSizeMB = v.maxSizeMB as number;
  }
  if (v.maxFiles !== undefined) {
    if (typeof v.maxFiles !== 'number' || !Number.isSafeInteger(v.maxFiles) || v.maxFiles < 0 || v.maxFiles > 1000) {
      fail(`${key}.maxFiles must be an integer from 0 to 1000 (got ${show(v.maxFiles)})`);
    }
    out.maxFiles = v.maxFiles as number;
  }
  return out;
}

function target(v: unknown, name: LogTarget): TargetConfig {
  if (v === null) return {};
  if (!isRecord(v)) return fail(`${name} must be a mapping (got ${show(v)})`);
  const keys = ['level', 'destination', 'format', 'rotation', ...(name === 'ts_log' || name === 'console' ? [] : ['additive'])];
  checkKeys(v, keys, `${name}.`);
  const out: TargetConfig = {};
  if (v.level !== undefined) out.level = level(v.level, `${name}.level`);
  if (v.destination !== undefined) {
    // YAML reads a bare `off` as a string, but `false`/`no` as a boolean: take those as off too.
    if (v.destination === false) out.destination = 'off';
    else if (typeof v.destination !== 'string' || v.destination.trim() === '') {
      fail(`${name}.destination must be stdout, stderr, off or a file path (got ${show(v.destination)})`);
    } else out.destination = v.destination.trim();
  }
  if (v.format !== undefined) out.format = format(v.format, `${name}.format`);
  if (v.rotation !== undefined) out.rotation = rotation(v.rotation, `${name}.rotation`);
  if (v.additive !== undefined) {
    if (typeof v.additive !== 'boolean') fail(`${name}.additive must be true or false (got ${show(v.additive)})`);
    out.additive = v.additive as boolean;
  }
  return out;
}

/** Validates a parsed config value (the JSON/YAML document). */
export function validateLogConfig(doc: unknown): LogConfig {
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) return fail(`the config must be a mapping of ${['level', 'format', 'rotation', ...LOG_TARGETS].join(', ')} (got ${show(doc)})`);
  checkKeys(doc, ['level', 'format', 'rotation', ...LOG_TARGETS], '');
  const out: LogConfig = {};
  if (doc.level !== undefined) out.level = level(doc.level, 'level');
  if (doc.format !== undefined) out.format = format(doc.format, 'format');
  if (doc.rotation !== undefined) out.rotation = rotation(doc.rotation, 'rotation');
  for (const name of LOG_TARGETS) {
    if (doc[name] !== undefined) out[name] = target(doc[name], name);
  }
  return out;
}

/** True for a log4j2 XML file: by extension, or by its first characters. */
export function isXmlConfig(file: string, text: string): boolean {
  if (path.extname(file).toLowerCase() === '.xml') return true;
  return /^\s*<(\?xml|!--|!DOCTYPE|Configuration\b)/i.test(text.replace(/^\uFEFF/, ''));
}

/** Parses a `--log-config` file's text: JSON for `.json`, YAML (a superset of JSON) otherwise. */
export function parseLogConfig(text: string, file: string): LogConfig {
  if (isXmlConfig(file, text)) throw new LogConfigError(XML_REFUSED);
  const body = text.replace(/^\uFEFF/, '');
  let doc: unknown;
  if (path.extname(file).toLowerCase() === '.json') {
    try {
      doc = body.trim() === '' ? {} : JSON.parse(body);
    } catch (e) {
      return fail(`cannot parse ${file} as JSON: ${(e as Error).message}`);
    }
  } else {
    try {
      doc = YAML.parse(body);
    } catch (e) {
      return fail(`cannot parse ${file} as YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return validateLogConfig(doc);
}

/** Reads and parses a `--log-config` file (synchronously: start-up only). */
export function loadLogConfig(file: string): LogConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseLogConfig(text, file);
}

// ---------------------------------------------------------------------------------------------
// Defaults applied: what createLoggers builds.

export type ResolvedDestination = { kind: 'file'; path: string } | { kind: 'stdout' } | { kind: 'stderr' } | { kind: 'off' };

export interface ResolvedTarget {
  level: LevelName;
  destination: ResolvedDestination;
  format: LogFormat;
  rotation: Rotation;
  additive: boolean;
}

export interface ResolveContext {
  logLocation: string;
  /** ts_metrics' directory (METRICS_LOCATION); default logLocation. */
  metricsLocation?: string | undefined;
  /** config.properties `debug`: every logger at debug unless the config names a level. */
  debug?: boolean | undefined;
  /** false: no console (quiet tests, a daemon): a console on stdout/stderr is turned off. */
  console: boolean;
}

const DEFAULT_FILES: Record<Exclude<LogTarget, 'console'>, string> = {
  ts_log: 'ts_log.log',
  access_log: 'access_log.log',
  model_log: 'model_log.log',
  ts_metrics: 'ts_metrics.log',
};

export function resolveLogSettings(config: LogConfig, ctx: ResolveContext): Record<LogTarget, ResolvedTarget> {
  const resolveOne = (name: LogTarget): ResolvedTarget => {
    const t = config[name] ?? {};
    const dir = name === 'ts_metrics' ? (ctx.metricsLocation ?? ctx.logLocation) : ctx.logLocation;
    const raw = t.destination ?? (name === 'console' ? 'stdout' : DEFAULT_FILES[name]);
    let destination: ResolvedDestination =
      raw === 'stdout' || raw === 'stderr' || raw === 'off' ? { kind: raw } : { kind: 'file', path: path.resolve(dir, raw) };
    if (name === 'console' && !ctx.console && destination.kind !== 'file') destination = { kind: 'off' };
    return {
      level: t.level ?? config.level ?? (ctx.debug ? 'debug' : name === 'console' ? 'trace' : 'info'),
      destination,
      format: t.format ?? config.format ?? 'text',
      rotation: { ...DEFAULT_ROTATION, ...config.rotation, ...t.rotation },
      additive: name === 'ts_log' || name === 'console' ? false : (t.additive ?? true),
    };
  };
  return {
    ts_log: resolveOne('ts_log'),
    access_log: resolveOne('access_log'),
    model_log: resolveOne('model_log'),
    ts_metrics: resolveOne('ts_metrics'),
    console: resolveOne('console'),
  };
}
