import { describe, expect, it } from 'vitest';
import { batchKey, canBatch, concatFeeds, groupByKey, rowCount, splitOutputs } from '../../src/handlers/batching.js';
import type { TensorData } from '../../src/handlers/types.js';

const f32 = (dims: number[], values: number[]): TensorData => ({ type: 'float32', dims, data: Float32Array.from(values) });
const i64 = (dims: number[], values: number[]): TensorData => ({
  type: 'int64',
  dims,
  data: BigInt64Array.from(values.map(BigInt)),
});

describe('canBatch', () => {
  it('needs a dynamic first dim on every input and output', () => {
    const dyn = { name: 'x', type: 'float32', shape: ['N', 4] };
    expect(canBatch({ inputs: [dyn], outputs: [{ ...dyn, name: 'y' }] })).toBe(true);
    expect(canBatch({ inputs: [{ ...dyn, shape: [-1, 4] }], outputs: [{ ...dyn, name: 'y' }] })).toBe(true);
    expect(canBatch({ inputs: [{ ...dyn, shape: [1, 4] }], outputs: [{ ...dyn, name: 'y' }] })).toBe(false);
    expect(canBatch({ inputs: [dyn, { name: 'sr', type: 'int64', shape: [] }], outputs: [dyn] })).toBe(false);
    expect(canBatch({ inputs: [dyn], outputs: [{ name: 'hn', type: 'float32', shape: [2, 'batch', 64] }] })).toBe(false);
  });
});

describe('rowCount and batchKey', () => {
  it('agrees on rows only when every feed has the same first dim', () => {
    expect(rowCount({ a: f32([2, 2], [1, 2, 3, 4]), b: i64([2, 1], [1, 2]) })).toBe(2);
    expect(rowCount({ a: f32([2, 2], [1, 2, 3, 4]), b: i64([1, 2], [1, 2]) })).toBeUndefined();
    expect(rowCount({ s: f32([], [1]) })).toBeUndefined();
  });

  it('keys on names, types and non-batch dims', () => {
    expect(batchKey({ x: f32([1, 4], [0, 0, 0, 0]) })).toBe(batchKey({ x: f32([3, 4], new Array(12).fill(0)) }));
    expect(batchKey({ x: f32([1, 4], [0, 0, 0, 0]) })).not.toBe(batchKey({ x: f32([2, 2], [0, 0, 0, 0]) }));
    expect(batchKey({ x: f32([1, 1], [0]) })).not.toBe(batchKey({ x: i64([1, 1], [0]) }));
  });

  it('groups by key in arrival order, unkeyed items alone', () => {
    const groups = groupByKey(['a1', 'b1', 'x', 'a2', 'b2'], (s) => (s === 'x' ? undefined : s[0]));
    expect(groups).toEqual([['a1', 'a2'], ['b1', 'b2'], ['x']]);
  });
});

describe('concatFeeds / splitOutputs', () => {
  it('concatenates along axis 0 per input, keeping types', () => {
    const out = concatFeeds([
      { a: f32([1, 2], [1, 2]), b: i64([1, 1], [7]) },
      { a: f32([2, 2], [3, 4, 5, 6]), b: i64([2, 1], [8, 9]) },
    ]);
    expect(out['a']!.dims).toEqual([3, 2]);
    expect(Array.from(out['a']!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out['b']!.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(out['b']!.data as BigInt64Array)).toEqual([7n, 8n, 9n]);
  });

  it('concatenates bool and string tensors', () => {
    const b = concatFeeds([
      { f: { type: 'bool', dims: [1, 1], data: Uint8Array.from([1]) } },
      { f: { type: 'bool', dims: [1, 1], data: Uint8Array.from([0]) } },
    ]);
    expect(Array.from(b['f']!.data as Uint8Array)).toEqual([1, 0]);
    const s = concatFeeds([{ t: { type: 'string', dims: [1], data: ['a'] } }, { t: { type: 'string', dims: [2], data: ['b', 'c'] } }]);
    expect(s['t']).toEqual({ type: 'string', dims: [3], data: ['a', 'b', 'c'] });
  });

  it('splits each output back by row counts', () => {
    const parts = splitOutputs({ y: f32([3, 2], [1, 2, 3, 4, 5, 6]), c: i64([3, 1], [1, 2, 3]) }, [1, 2]);
    expect(parts).toHaveLength(2);
    expect(parts[0]!['y']!.dims).toEqual([1, 2]);
    expect(Array.from(parts[0]!['y']!.data as Float32Array)).toEqual([1, 2]);
    expect(parts[1]!['y']!.dims).toEqual([2, 2]);
    expect(Array.from(parts[1]!['y']!.data as Float32Array)).toEqual([3, 4, 5, 6]);
    expect(Array.from(parts[1]!['c']!.data as BigInt64Array)).toEqual([2n, 3n]);
  });

  it('round-trips concat → split', () => {
    const feeds = [{ x: f32([2, 3], [1, 2, 3, 4, 5, 6]) }, { x: f32([1, 3], [7, 8, 9]) }, { x: f32([0, 3], []) }];
    const parts = splitOutputs(concatFeeds(feeds), [2, 1, 0]);
    parts.forEach((p, i) => {
      expect(p['x']!.dims).toEqual(feeds[i]!.x.dims);
      expect(Array.from(p['x']!.data as Float32Array)).toEqual(Array.from(feeds[i]!.x.data as Float32Array));
    });
  });

  it('refuses to split an output whose first dim is not the total row count', () => {
    expect(() => splitOutputs({ y: f32([1, 2], [1, 2]) }, [1, 1])).toThrow(/first dim 1, expected 2 rows/);
  });
});
