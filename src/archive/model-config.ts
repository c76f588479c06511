import { isMap, Lexer, parseDocument, Parser } from 'yaml';
import type { ModelYamlConfig } from './types.js';

export interface ParsedModelConfig {
  config?: ModelYamlConfig;
  warnings: string[];
}

/** Applies one key; values come from intAsBigInt parsing, so YAML ints are bigint and floats number (Java: Integer vs Double). */
type Setter = (cfg: ModelYamlConfig, v: unknown, warn: (msg: string) => void) => void;

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;

/** SnakeYAML yields java.lang.Integer only for ints that fit in 32 bits; TorchServe checks `instanceof Integer`. */
function asInt(v: unknown): number | undefined {
  return typeof v === 'bigint' && v >= INT_MIN && v <= INT_MAX ? Number(v) : undefined;
}

/** Formats a value roughly as Java's toString would appear in TorchServe's log line. */
function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(plain(v)) ?? String(v);
}

type IntKey = {
  [K in keyof ModelYamlConfig]-?: ModelYamlConfig[K] extends number | undefined ? K : never;
}[keyof ModelYamlConfig];
type BoolKey = {
  [K in keyof ModelYamlConfig]-?: ModelYamlConfig[K] extends boolean | undefined ? K : never;
}[keyof ModelYamlConfig];

/** An int key; `apply` maps the raw int to the stored value, or undefined to ignore it (with a warning). */
function intKey(key: IntKey, apply: (n: number) => number | undefined, typeHint = 'should be integer'): Setter {
  return (cfg, v, warn) => {
    const n = asInt(v);
    if (n === undefined) return warn(`Invalid ${key}: ${show(v)}, ${typeHint}`);
    const stored = apply(n);
    if (stored === undefined) return warn(`Invalid ${key}:${n}`);
    cfg[key] = stored;
  };
}

function boolKey(key: BoolKey): Setter {
  return (cfg, v, warn) => {
    if (typeof v === 'boolean') cfg[key] = v;
    else warn(`Invalid ${key}: ${show(v)}, should be true or false`);
  };
}

const atLeastOne = (n: number) => Math.max(1, n);
const atLeastZero = (n: number) => Math.max(0, n);
const nonNegative = (n: number) => (n < 0 ? undefined : n);
const positive = (n: number) => (n <= 0 ? undefined : n);

const PARALLEL_TYPES = ['pp', 'tp', 'pptp', 'custom'];

/** Frontend keys of `FA/model/ModelConfig.java#build`, with its setter rules. */
const SETTERS: Record<string, Setter> = {
  minWorkers: intKey('minWorkers', atLeastOne),
  maxWorkers: intKey('maxWorkers', nonNegative),
  batchSize: intKey('batchSize', atLeastOne),
  maxBatchDelay: intKey('maxBatchDelay', nonNegative),
  responseTimeout: intKey('responseTimeout', positive),
  startupTimeout: intKey('startupTimeout', positive),
  parallelLevel: intKey('parallelLevel', nonNegative),
  maxRetryTimeoutInSec: intKey('maxRetryTimeoutInSec', atLeastZero),
  clientTimeoutInMills: intKey('clientTimeoutInMills', atLeastZero, 'should be positive long'),
  jobQueueSize: intKey('jobQueueSize', atLeastZero, 'should be positive int'),
  sequenceMaxIdleMSec: intKey('sequenceMaxIdleMSec', atLeastZero, 'should be positive int'),
  sequenceTimeoutMSec: intKey('sequenceTimeoutMSec', atLeastZero, 'should be positive int'),
  maxSequenceJobQueueSize: intKey('maxSequenceJobQueueSize', atLeastOne, 'should be positive int'),
  maxNumSequence: intKey('maxNumSequence', atLeastOne, 'should be positive int'),
  useJobTicket: boolKey('useJobTicket'),
  continuousBatching: boolKey('continuousBatching'),
  sequenceBatching: boolKey('sequenceBatching'),
  asyncCommunication: boolKey('asyncCommunication'),
  useVenv: boolKey('useVenv'),
  deviceType: (cfg, v, warn) => {
    if (typeof v !== 'string') return warn(`Invalid deviceType: ${show(v)}, should be cpu, or gpu`);
    const t = v.toLowerCase();
    if (t === 'cpu' || t === 'gpu') cfg.deviceType = t;
    else if (t !== '') warn(`Invalid DeviceType:${v}`);
  },
  parallelType: (cfg, v, warn) => {
    if (typeof v !== 'string') return warn(`Invalid parallelType: ${show(v)}, should be pp, tp,or pptp`);
    const t = v.toLowerCase();
    if (PARALLEL_TYPES.includes(t)) cfg.parallelType = t;
    else if (t !== '') warn(`Invalid ParallelType:${v}`);
  },
  deviceIds: (cfg, v, warn) => {
    if (!Array.isArray(v)) return warn(`Invalid deviceIds: ${show(v)}, should be list of integer`);
    const ids: number[] = [];
    for (const item of v) {
      const n = asInt(item);
      // One bad id discards the whole list, as TorchServe does.
      if (n === undefined) return warn(`Invalid deviceIds:${show(item)},`);
      ids.push(n);
    }
    cfg.deviceIds = ids;
  },
};

/** `torchrun.nproc-per-node` (default 1) sets parallelLevel; the map itself stays in `extra`. */
function applyTorchrun(cfg: ModelYamlConfig, v: unknown, warn: (msg: string) => void): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return warn(`Invalid torchrun: ${show(v)}, should be Torchrun parameters`);
  }
  const nproc = asInt((v as Record<string, unknown>)['nproc-per-node']);
  cfg.parallelLevel = nproc !== undefined && nproc > 0 ? nproc : 1;
}

/** Converts parsed YAML values to plain JSON-friendly data (bigint → number). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function absent(reason: string): ParsedModelConfig {
  return { config: undefined, warnings: [`Failed to parse model config yaml file: ${reason}`] };
}

/** SnakeYAML 2's LoaderOptions default (nestingDepthLimit): deeper collections fail the document. */
export const MAX_MODEL_CONFIG_DEPTH = 50;
/**
 * Characters (code points) a model-config.yaml may have. SnakeYAML's default (codePointLimit) is
 * 3 Mi, but parsing a 3 Mi document here blocks the event loop for several seconds (1 Mi: about
 * three), and registration parses on the main thread; real ones are a few hundred bytes, so
 * 256 Ki. Same text as SnakeYAML's when exceeded.
 */
export const MAX_MODEL_CONFIG_CODE_POINTS = 256 * 1024;

export interface ModelConfigLimits {
  /** Code points allowed (default MAX_MODEL_CONFIG_CODE_POINTS). */
  maxCodePoints?: number;
  /** Nesting of collections allowed (default MAX_MODEL_CONFIG_DEPTH). */
  maxDepth?: number;
}

/** SnakeYAML's text for a document over the code-point limit (also used before reading an oversized file). */
export const tooManyCodePoints = (max: number) => `The incoming YAML document exceeds the limit: ${max} code points.`;

function codePoints(text: string, stopAfter: number): number {
  let n = 0;
  for (let i = 0; i < text.length && n <= stopAfter; i++, n++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * Whether collections nest deeper than `max`, stopping as soon as they do. The yaml package composes documents
 * recursively: a few thousand nested `[` overflow the stack, and V8 may then abort the whole
 * process (a regexp compiled near the stack limit fails as "out of memory") instead of throwing.
 * Its lexer and CST parser are iterative, so they measure the depth safely first.
 */
function nestingExceeds(text: string, max: number): boolean {
  const parser = new Parser();
  const deeper = () => parser.stack.reduce((n, t) => (COLLECTIONS.has(t.type) ? n + 1 : n), 0) > max;
  for (const lexeme of new Lexer().lex(text)) {
    for (const _token of parser.next(lexeme));
    if (parser.stack.length > max && deeper()) return true;
  }
  for (const _token of parser.end());
  return false;
}

/**
 * Parses model-config.yaml (spec §7.3). YAML 1.2 core schema only: no custom or js tags, no
 * YAML 1.1 extras, alias expansion capped, nesting and size capped (SnakeYAML's limits, texts
 * included); a document TorchServe's safe SnakeYAML would reject (syntax error, unknown tag, not
 * a mapping, too deep, too big) is reported and treated as absent.
 * Wrong value types never fail the load: they produce a warning and the key is ignored.
 */
export function parseModelConfig(text: string, limits: ModelConfigLimits = {}): ParsedModelConfig {
  const maxCodePoints = limits.maxCodePoints ?? MAX_MODEL_CONFIG_CODE_POINTS;
  const maxDepth = limits.maxDepth ?? MAX_MODEL_CONFIG_DEPTH;
  if (text.length > maxCodePoints && codePoints(text, maxCodePoints) > maxCodePoints) return absent(tooManyCodePoints(maxCodePoints));
  if (nestingExceeds(text, maxDepth)) return absent(`Nesting Depth exceeded max ${maxDepth}`);
  const doc = parseDocument(text, {
    schema: 'core',
    customTags: [],
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: false,
    intAsBigInt: true,
    prettyErrors: false,
  });
  const firstError = doc.errors[0];
  if (firstError) return absent(firstError.message);
  const badTag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (badTag) return absent(badTag.message);
  if (!isMap(doc.contents)) return absent('the document is not a mapping');

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return absent(e instanceof Error ? e.message : String(e));
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return absent('the document is not a mapping');
  }

  const warnings = doc.warnings.map((w) => w.message);
  const warn = (msg: string) => void warnings.push(msg);
  const config: ModelYamlConfig = {
    responseTimeout: 120,
    startupTimeout: 120,
    maxRetryTimeoutInSec: 300,
    clientTimeoutInMills: 0,
    extra: {},
  };
  for (const [key, value] of Object.entries(data)) {
    const setter = Object.hasOwn(SETTERS, key) ? SETTERS[key] : undefined;
    if (setter) {
      setter(config, value, warn);
      continue;
    }
    if (key === 'torchrun') applyTorchrun(config, value, warn);
    // defineProperty: a `__proto__` key must stay data, never re-parent `extra`.
    Object.defineProperty(config.extra, key, { value: plain(value), enumerable: true, writable: true, configurable: true });
  }
  return { config, warnings };
}
