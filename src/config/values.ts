/**
 * Typed readers over the merged property map. Each mirrors the ConfigManager getter it replaces,
 * except that a bad value becomes a StartupError naming the key instead of a Java stack trace.
 */
import { StartupError } from '../errors.js';
import { SERVICE_ENVELOPES, type ModelsJsonParams, type ServerConfig, type ServiceEnvelope } from './types.js';

type Props = Readonly<Record<string, string>>;

const JAVA_INT_MAX = 2147483647;

/**
 * Java `Boolean.parseBoolean(getProperty(key, def))`: only case-insensitive "true" is true.
 * Deliberately not trimmed: "true " is false in TorchServe too, and we must not flip its meaning.
 */
/** Java's Boolean.parseBoolean: only a case-insensitive "true" is true. */
export const javaBoolean = (text: string): boolean => text.toLowerCase() === 'true';

export function boolProp(props: Props, key: string, def: boolean): boolean {
  const v = props[key];
  return v === undefined ? def : javaBoolean(v);
}

/**
 * A non-negative (or, with `positive`, > 0) Java int. Surrounding whitespace is tolerated:
 * TorchServe would crash on it, so accepting it changes no working configuration.
 */
export function intProp(props: Props, key: string, def: number, positive = false): number {
  const raw = props[key];
  if (raw === undefined) return def;
  const t = raw.trim();
  const n = /^\+?\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n > JAVA_INT_MAX) {
    throw new StartupError(`Invalid configuration: ${key} must be a non-negative integer, got "${raw}"`);
  }
  if (positive && n === 0) throw new StartupError(`Invalid configuration: ${key} must be a positive integer, got "${raw}"`);
  return n;
}

/** `metrics_mode`: all whitespace removed, case-insensitive; anything unknown falls back to log. */
export function metricsMode(raw: string | undefined): ServerConfig['metricsMode'] {
  const v = (raw ?? 'log').replace(/\s/g, '').toLowerCase();
  return v === 'prometheus' || v === 'legacy' ? v : 'log';
}

/** `token_expiration_min` is a Java Double (fractions allowed); unparsable ⇒ 60 as TorchServe. */
export function tokenExpirationMin(raw: string | undefined): number {
  if (raw === undefined) return 60;
  const t = raw.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?$/.test(t)) return 60;
  const n = Number(t.replace(/[fFdD]$/, ''));
  return Number.isFinite(n) ? n : 60;
}

export const DEFAULT_ALLOWED_URLS = 'file://.*|http(s)?://.*';

/**
 * `allowed_urls`: split on `,` like Java's String.split (trailing empties dropped, items not
 * trimmed), each a full-match, case-insensitive pattern.
 */
export function allowedUrls(raw: string | undefined): RegExp[] {
  const items = (raw ?? DEFAULT_ALLOWED_URLS).split(',');
  while (items.length > 1 && items[items.length - 1] === '') items.pop();
  return items.map((re) => {
    try {
      return new RegExp(`^(?:${re})$`, 'i');
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StartupError(`Invalid configuration: allowed_urls has an invalid pattern "${re}": ${why}`);
    }
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Gson's JsonElement.getAsInt, then ConfigManager.getJsonIntValue: ≤0 or non-numeric ⇒ ignored. */
function positiveInt(v: unknown): number | undefined {
  const n = typeof v === 'number' ? Math.trunc(v) : typeof v === 'string' && /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 && n <= JAVA_INT_MAX ? n : undefined;
}

const INT_PARAMS = ['minWorkers', 'maxWorkers', 'batchSize', 'maxBatchDelay', 'responseTimeout', 'startupTimeout'] as const;

function modelParams(o: Record<string, unknown>): ModelsJsonParams {
  const p: ModelsJsonParams = {};
  for (const k of INT_PARAMS) {
    const n = positiveInt(o[k]);
    if (n !== undefined) p[k] = n;
  }
  if (typeof o.runtimeType === 'string') p.runtimeType = o.runtimeType;
  if (typeof o.marName === 'string') p.marName = o.marName;
  if (o.sha256 !== undefined) {
    if (typeof o.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(o.sha256)) {
      throw new StartupError('Invalid configuration: models: sha256 must be 64 hexadecimal digits');
    }
    p.sha256 = o.sha256.toLowerCase();
  }
  const dv = o.defaultVersion;
  if (typeof dv === 'boolean') p.defaultVersion = dv;
  else if (typeof dv === 'string') p.defaultVersion = dv.toLowerCase() === 'true';
  return p;
}

/** `models` JSON: {name: {version: params}}. Strict JSON (Gson's lenient extras are not accepted). */
export function modelsJson(raw: string | undefined): ServerConfig['models'] {
  // Null-prototype maps: a model literally named "__proto__" must stay data.
  const out = Object.create(null) as ServerConfig['models'];
  if (raw === undefined) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new StartupError(`Invalid configuration: models is not valid JSON: ${why}`);
  }
  const shapeError = () =>
    new StartupError('Invalid configuration: models must be a JSON object of {"<model>": {"<version>": {...}}}');
  if (!isObject(parsed)) throw shapeError();
  for (const [name, versions] of Object.entries(parsed)) {
    if (!isObject(versions)) throw shapeError();
    const byVersion = Object.create(null) as Record<string, ModelsJsonParams>;
    for (const [version, params] of Object.entries(versions)) {
      if (!isObject(params)) throw shapeError();
      byVersion[version] = modelParams(params);
    }
    out[name] = byVersion;
  }
  return out;
}

/**
 * `service_envelope`: one of TorchServe's envelope module names (case-sensitive, as Python imports
 * them); unset or empty ⇒ none. TorchServe fails later, when workers import the module; we stop at start-up.
 */
export function serviceEnvelope(raw: string | undefined): ServiceEnvelope | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = SERVICE_ENVELOPES.find((e) => e === raw);
  if (!v) throw new StartupError(`Invalid configuration: service_envelope must be one of ${SERVICE_ENVELOPES.join(', ')}, got "${raw}"`);
  return v;
}
