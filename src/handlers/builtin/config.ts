/**
 * Reading the `handler:` section of model-config.yaml for the built-in vision handlers. Every
 * reader validates its value and throws a HandlerConfigError naming the key, so a bad setting
 * stops the model from loading (at `initialize`) instead of failing requests one by one.
 */
import type { HandlerContext } from '../api.js';

export class HandlerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerConfigError';
  }
}

/** The `handler:` mapping of model-config.yaml, `{}` when there is none. */
export type HandlerSection = Readonly<Record<string, unknown>>;

export function handlerSection(context: Pick<HandlerContext, 'modelYamlConfig'>): HandlerSection {
  const section = context.modelYamlConfig['handler'];
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new HandlerConfigError('model-config.yaml: "handler" must be a mapping of settings');
  }
  return section as HandlerSection;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

function fail(key: string, expected: string, value: unknown): never {
  throw new HandlerConfigError(`model-config.yaml handler.${key} must be ${expected} (got ${show(value)})`);
}

export function readInt(section: HandlerSection, key: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = section[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(key, `an integer between ${min} and ${max}`, v);
  }
  return v;
}

export function readNumber(section: HandlerSection, key: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = section[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    fail(key, `a number between ${min} and ${max}`, v);
  }
  return v;
}

export function readBool(section: HandlerSection, key: string, fallback: boolean): boolean {
  const v = section[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') fail(key, 'true or false', v);
  return v;
}

export function readEnum<T extends string>(section: HandlerSection, key: string, allowed: readonly T[], fallback: T): T {
  const v = section[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(key, `one of ${allowed.join(', ')}`, v);
  return v as T;
}

/** A list of `length` finite numbers (e.g. mean/std per channel), each checked by `ok`. */
export function readNumberList(
  section: HandlerSection,
  key: string,
  fallback: readonly number[],
  ok: (n: number) => boolean = () => true,
  what = 'numbers',
): number[] {
  const v = section[key];
  if (v === undefined || v === null) return [...fallback];
  if (!Array.isArray(v) || v.length !== fallback.length || v.some((n) => typeof n !== 'number' || !Number.isFinite(n) || !ok(n))) {
    fail(key, `a list of ${fallback.length} ${what}`, v);
  }
  return v as number[];
}

export interface Size {
  height: number;
  width: number;
}

/** `key: 224` (square, or "shorter side" for resize) or `key: [height, width]`. */
export type SizeSetting = { kind: 'short'; size: number } | { kind: 'exact'; size: Size };

export function readSize(section: HandlerSection, key: string): SizeSetting | undefined {
  const v = section[key];
  if (v === undefined || v === null) return undefined;
  const dim = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 16384;
  if (dim(v)) return { kind: 'short', size: v };
  if (Array.isArray(v) && v.length === 2 && dim(v[0]) && dim(v[1])) return { kind: 'exact', size: { height: v[0], width: v[1] } };
  return fail(key, 'a size in pixels (1..16384) or a list [height, width]', v);
}
