/**
 * Batching inside a worker: requests whose tensors agree on everything but the first dim are
 * concatenated along axis 0 into one session.run, and the outputs split back by row counts.
 * Pure functions, so they are unit-tested without ONNX Runtime.
 */
import type { ModelSignature } from '../runtime/types.js';
import { allocate, isDynamicDim } from './tensor-codec.js';
import type { NumericArray, TensorData, TensorMap } from './types.js';

/** Concatenation is only sound when every input and output is batch-major with a dynamic batch dim. */
export function canBatch(signature: ModelSignature): boolean {
  let known = batchable.get(signature);
  if (known === undefined) {
    const all = [...signature.inputs, ...signature.outputs];
    known = all.length > 0 && all.every((m) => m.shape.length > 0 && isDynamicDim(m.shape[0] ?? 0));
    batchable.set(signature, known);
  }
  return known;
}

/** canBatch per signature object (a worker's signature never changes; asked several times per batch). */
const batchable = new WeakMap<ModelSignature, boolean>();

/** The common first dim of all feeds, or undefined when they disagree (such a request runs alone). */
export function rowCount(feeds: TensorMap): number | undefined {
  let rows: number | undefined;
  for (const t of Object.values(feeds)) {
    const n = t.dims[0];
    if (n === undefined || (rows !== undefined && rows !== n)) return undefined;
    rows = n;
  }
  return rows;
}

/** Requests with equal keys can be concatenated: same input names, types and non-batch dims. */
export function batchKey(feeds: TensorMap): string {
  return Object.keys(feeds)
    .sort()
    .map((name) => {
      const t = feeds[name]!;
      return `${name}:${t.type}:${t.dims.slice(1).join('x')}`;
    })
    .join('|');
}

/** Groups request indices by batch key, keeping arrival order inside each group. */
export function groupByKey<T>(items: T[], key: (item: T) => string | undefined): T[][] {
  const groups = new Map<string, T[]>();
  const alone: T[][] = [];
  for (const item of items) {
    const k = key(item);
    if (k === undefined) {
      alone.push([item]);
      continue;
    }
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values(), ...alone];
}

function concatData(parts: TensorData[]): TensorData['data'] {
  const first = parts[0]!;
  if (Array.isArray(first.data)) return parts.flatMap((p) => p.data as string[]);
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const out = allocate(first.type, total);
  let at = 0;
  for (const p of parts) {
    // Same type ⇒ same typed-array class; the cast only satisfies the union's `set` overloads.
    (out as Float32Array).set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return out;
}

/** Concatenates each named tensor along axis 0 (callers ensure equal batch keys). */
export function concatFeeds(list: TensorMap[]): TensorMap {
  const first = list[0];
  if (!first) throw new Error('concatFeeds needs at least one feed set');
  const out: TensorMap = {};
  for (const name of Object.keys(first)) {
    const parts = list.map((f) => {
      const t = f[name];
      if (!t) throw new Error(`feed "${name}" missing from a request`);
      return t;
    });
    const rows = parts.reduce((n, t) => n + (t.dims[0] ?? 0), 0);
    out[name] = { type: parts[0]!.type, dims: [rows, ...parts[0]!.dims.slice(1)], data: concatData(parts) };
  }
  return out;
}

function sliceRows(t: TensorData, start: number, rows: number): TensorData {
  const total = t.dims[0] ?? 0;
  const rowSize = total === 0 ? 0 : t.data.length / total;
  const from = start * rowSize;
  const to = from + rows * rowSize;
  const data = Array.isArray(t.data) ? t.data.slice(from, to) : (t.data as NumericArray).subarray(from, to);
  return { type: t.type, dims: [rows, ...t.dims.slice(1)], data };
}

/** Splits each output along axis 0 by the given row counts; throws when an output's first dim is not their sum. */
export function splitOutputs(outputs: TensorMap, rows: number[]): TensorMap[] {
  const total = rows.reduce((a, b) => a + b, 0);
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) {
      throw new Error(`output "${name}" has first dim ${String(t.dims[0])}, expected ${total} rows`);
    }
  }
  let start = 0;
  return rows.map((n) => {
    const part: TensorMap = {};
    for (const [name, t] of Object.entries(outputs)) part[name] = sliceRows(t, start, n);
    start += n;
    return part;
  });
}
