/**
 * JSON nested arrays ⇄ TensorData, checked against the model's input metadata. Every rejection is a
 * 400 whose message names the input and says what was expected and what arrived.
 */
import { badRequest } from '../errors.js';
import type { TensorMeta } from '../runtime/types.js';
import type { NumericArray, TensorData, TensorType } from './types.js';

export const isDynamicDim = (d: number | string): boolean => typeof d === 'string' || d < 0;

/**
 * The most dimensions a request tensor may have (numpy's NPY_MAXDIMS). Deeper JSON nesting is
 * refused before any walk over it, so a nesting bomb cannot overflow the worker's stack.
 */
export const MAX_TENSOR_RANK = 64;

/** `[N,4]`: symbolic dims by name, unnamed dynamic dims as `?`. */
export function formatShape(dims: ReadonlyArray<number | string>): string {
  return `[${dims.map((d) => (typeof d === 'string' ? d || '?' : d < 0 ? '?' : String(d))).join(',')}]`;
}

export function describeInput(meta: TensorMeta): string {
  return `"${meta.name}" ${formatShape(meta.shape)} (${meta.type})`;
}

const INT_RANGES: Partial<Record<TensorType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Types the default handler can build from JSON. */
export const SUPPORTED_INPUT_TYPES: readonly TensorType[] = [
  'float32',
  'float64',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
];

export function allocate(type: TensorType, n: number): NumericArray {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
    case 'float16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'string':
      throw new Error('string tensors are not numeric');
  }
}

function valueKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 20 ? `${v.slice(0, 20)}…` : v}"`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** One JSON leaf as an element of `type`, or undefined when it does not fit. */
function toElement(type: TensorType, v: unknown): number | bigint | undefined {
  switch (type) {
    case 'float32':
    case 'float64':
      return typeof v === 'number' ? v : undefined;
    case 'bool':
      if (typeof v === 'boolean') return v ? 1 : 0;
      return v === 0 || v === 1 ? v : undefined;
    case 'int64':
    case 'uint64': {
      // Digit strings let clients send int64 values beyond 2^53 exactly.
      let b: bigint;
      if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
      else return undefined;
      const [lo, hi] = type === 'int64' ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
      return b < lo || b > hi ? undefined : b;
    }
    default: {
      const range = INT_RANGES[type];
      if (!range || typeof v !== 'number' || !Number.isInteger(v)) return undefined;
      return v < range[0] || v > range[1] ? undefined : v;
    }
  }
}

function expectedValues(type: TensorType): string {
  if (type === 'bool') return 'bool values (true/false or 0/1)';
  if (type === 'float32' || type === 'float64') return `${type} values (numbers)`;
  const range = INT_RANGES[type];
  return range ? `${type} values (integers ${range[0]}..${range[1]})` : `${type} values (integers)`;
}

/**
 * Shape of a nested array, read along the first elements (checked for raggedness when flattening).
 * Stops one level past MAX_TENSOR_RANK: that is enough to refuse the value.
 */
export function shapeOf(value: unknown): number[] {
  const dims: number[] = [];
  let cur: unknown = value;
  while (Array.isArray(cur) && dims.length <= MAX_TENSOR_RANK) {
    dims.push(cur.length);
    cur = cur[0];
  }
  return dims;
}

const indexPath = (path: number[]) => `[${path.join(',')}]`;

function raggedError(name: string, v: unknown, path: number[], dims: number[]) {
  const want = dims[path.length] ?? 0;
  const got = Array.isArray(v) ? `${v.length} entries` : valueKind(v);
  return badRequest(
    `Input "${name}": ragged nested array: element ${indexPath(path)} has ${got}, expected an array of ${want} ` +
      `(shape ${formatShape(dims)} taken from the first elements)`,
  );
}

/**
 * Checks every array above the leaves has its dimension's length. Done before allocating: the
 * dims come from the first elements only, so `[[0,…1000 zeros], 1, 1, …]` would otherwise
 * claim 10^6 elements from a few kilobytes. Afterwards the element count is the leaf count.
 */
function checkNesting(name: string, v: unknown, dims: number[], path: number[]): void {
  const depth = path.length;
  if (!Array.isArray(v) || v.length !== dims[depth]) throw raggedError(name, v, path, dims);
  if (depth + 1 >= dims.length) return;
  for (let i = 0; i < v.length; i++) {
    path.push(i);
    checkNesting(name, v[i], dims, path);
    path.pop();
  }
}

/**
 * Flattens a nested JSON array of shape `dims` (at most MAX_TENSOR_RANK of them) into a typed
 * array of `type`. Throws 400 on ragged arrays or values of the wrong kind.
 */
export function flatten(name: string, value: unknown, dims: number[], type: TensorType): NumericArray {
  if (dims.length > 0) checkNesting(name, value, dims, []);
  const out = allocate(type, dims.reduce((a, b) => a * b, 1));
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  let at = 0;
  const path: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === dims.length) {
      const el = toElement(type, v);
      if (el === undefined) {
        const where = dims.length ? ` at ${indexPath(path)}` : '';
        throw badRequest(`Input "${name}": expected ${expectedValues(type)}, received ${valueKind(v)}${where}`);
      }
      if (big) (out as BigInt64Array | BigUint64Array)[at++] = el as bigint;
      else (out as Exclude<NumericArray, BigInt64Array | BigUint64Array>)[at++] = el as number;
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) throw raggedError(name, v, path, dims);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      walk(v[i], depth + 1);
      path.pop();
    }
  };
  walk(value, 0);
  return out;
}

export interface DecodedInput {
  tensor: TensorData;
  /** A leading batch dimension of 1 was added because the client sent one rank less. */
  batchAdded: boolean;
}

/** Builds the tensor for one model input from its JSON value, adding a batch dim of 1 where the model wants one. */
export function decodeInput(meta: TensorMeta, value: unknown): DecodedInput {
  const type = meta.type as TensorType;
  if (!SUPPORTED_INPUT_TYPES.includes(type)) {
    throw badRequest(
      `Input "${meta.name}": datatype ${meta.type} is not supported by the default ONNX handler ` +
        `(supported: ${SUPPORTED_INPUT_TYPES.join(', ')})`,
    );
  }
  const received = shapeOf(value);
  if (received.length > MAX_TENSOR_RANK) {
    throw badRequest(`Input "${meta.name}": nested arrays are more than ${MAX_TENSOR_RANK} levels deep (a tensor has at most ${MAX_TENSOR_RANK} dimensions)`);
  }
  const data = flatten(meta.name, value, received, type);
  const want = meta.shape;
  const mismatch = () =>
    badRequest(
      `Input "${meta.name}": expected shape ${formatShape(want)} (${meta.type}), received ${formatShape(received)}`,
    );
  // ORT reports [] both for scalars and for inputs without shape info: accept any shape then.
  if (want.length === 0) return { tensor: { type, dims: received, data }, batchAdded: false };
  let dims = received;
  let batchAdded = false;
  const first = want[0] ?? 0;
  if (received.length === want.length - 1 && (isDynamicDim(first) || first === 1)) {
    dims = [1, ...received];
    batchAdded = true;
  }
  if (dims.length !== want.length) throw mismatch();
  want.forEach((d, i) => {
    if (!isDynamicDim(d) && d !== dims[i]) throw mismatch();
  });
  return { tensor: { type, dims, data }, batchAdded };
}

/** IEEE half-precision bits → number. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function elementReader(t: TensorData): (i: number) => unknown {
  const d = t.data;
  if (Array.isArray(d)) return (i) => d[i];
  if (t.type === 'bool') return (i) => d[i] !== 0;
  if (t.type === 'float16') return (i) => halfToNumber(Number(d[i]));
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return (i) => Number(d[i]);
  return (i) => d[i];
}

/** A tensor as nested JSON arrays (a bare value for rank 0): int64 → number, bool → boolean. */
export function toNested(t: TensorData): unknown {
  const read = elementReader(t);
  const dims = t.dims;
  let at = 0;
  const build = (depth: number): unknown => {
    if (depth === dims.length) return read(at++);
    const n = dims[depth] ?? 0;
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = build(depth + 1);
    return out;
  };
  return build(0);
}

/** Drops a leading dimension of 1 (the batch dim the handler added for the client). */
export function dropLeadingOne(t: TensorData): TensorData {
  return t.dims.length > 0 && t.dims[0] === 1 ? { ...t, dims: t.dims.slice(1) } : t;
}
