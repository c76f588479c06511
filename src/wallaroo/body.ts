/**
 * Request bodies of the Wallaroo-style API: one JSON object, its members checked by name and
 * type. Unknown members are refused (a typo such as `tensor_field` must not silently configure
 * nothing); each 400 names the member and what was expected.
 */
import { badRequest } from '../errors.js';

export type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** The raw body (the listener hands bodies over as bytes) → a JSON object, or a 400 with an example. */
export function jsonObjectBody(raw: unknown, example: string): JsonObject {
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '';
  if (text.trim() === '') throw badRequest(`The request body must be a JSON object such as ${example}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw badRequest(`The request body is not valid JSON (${(e as Error).message}); expected an object such as ${example}`);
  }
  if (!isObject(parsed)) throw badRequest(`The request body must be a JSON object such as ${example}, not ${describe(parsed)}`);
  return parsed;
}

export function onlyMembers(body: JsonObject, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k));
    throw badRequest(`Unknown field${unknown.length > 1 ? 's' : ''} ${named.join(', ')}${unknown.length > 5 ? ', …' : ''}; this endpoint takes ${allowed.join(', ')}`);
  }
}

/** An integer member (absent or null: undefined). Wallaroo ids are integers; `"15"` is not one. */
export function optionalInteger(body: JsonObject, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badRequest(`${key} must be an integer, not ${describe(v)}`);
  return v;
}

export function requiredInteger(body: JsonObject, key: string): number {
  const v = optionalInteger(body, key);
  if (v === undefined) throw badRequest(`${key} is required (an integer)`);
  return v;
}

export function optionalString(body: JsonObject, key: string, what = 'a string'): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${key} must be ${what} or null, not ${describe(v)}`);
  return v;
}

export function optionalNumber(body: JsonObject, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${key} must be a number or null, not ${describe(v)}`);
  return v;
}

/** The most names `tensor_fields` may hold (no ONNX model has more inputs). */
export const MAX_TENSOR_FIELDS = 1024;

/** A list of distinct, non-empty strings (absent or null: undefined). */
export function optionalNameList(body: JsonObject, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw badRequest(`${key} must be a list of strings or null, not ${describe(v)}`);
  if (v.length === 0) throw badRequest(`${key} must name at least one field, or be null`);
  if (v.length > MAX_TENSOR_FIELDS) throw badRequest(`${key} has ${v.length} names, more than ${MAX_TENSOR_FIELDS}`);
  const seen = new Set<string>();
  return v.map((s: unknown, i) => {
    if (typeof s !== 'string' || s === '') throw badRequest(`${key}[${i}] must be a non-empty string, not ${describe(s)}`);
    if (seen.has(s)) throw badRequest(`${key} names ${JSON.stringify(s)} twice`);
    seen.add(s);
    return s;
  });
}
