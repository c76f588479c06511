import { describe, expect, it } from 'vitest';
import { ServeError } from '../../src/errors.js';
import { replyValue } from '../../src/handlers/default-onnx.js';
import { labelRows, parseLabels } from '../../src/handlers/labels.js';
import { collectInputs } from '../../src/handlers/request-inputs.js';
import { decodeInput, halfToNumber, toNested } from '../../src/handlers/tensor-codec.js';
import type { TensorMeta } from '../../src/runtime/types.js';

const x: TensorMeta = { name: 'x', type: 'float32', shape: ['N', 4] };

function badRequestMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ServeError);
    expect((e as ServeError).status).toBe(400);
    expect((e as ServeError).type).toBe('BadRequestException');
    return (e as ServeError).message;
  }
  throw new Error('expected a 400');
}

describe('decodeInput', () => {
  it('keeps a full-rank array as is', () => {
    const d = decodeInput(x, [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(d.batchAdded).toBe(false);
    expect(d.tensor.dims).toEqual([2, 4]);
    expect(Array.from(d.tensor.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('adds a batch dim of 1 when one rank is missing and the first dim is dynamic or 1', () => {
    expect(decodeInput(x, [1, 2, 3, 4])).toMatchObject({ batchAdded: true, tensor: { dims: [1, 4] } });
    const fixed1: TensorMeta = { name: 'x', type: 'float32', shape: [1, 3] };
    expect(decodeInput(fixed1, [1, 2, 3])).toMatchObject({ batchAdded: true, tensor: { dims: [1, 3] } });
    const vec: TensorMeta = { name: 'v', type: 'float32', shape: ['N'] };
    expect(decodeInput(vec, 2.5)).toMatchObject({ batchAdded: true, tensor: { dims: [1] } });
  });

  it('takes scalars for rank-0 inputs', () => {
    const sr: TensorMeta = { name: 'sr', type: 'int64', shape: [] };
    const d = decodeInput(sr, 16000);
    expect(d.tensor.dims).toEqual([]);
    expect(Array.from(d.tensor.data as BigInt64Array)).toEqual([16000n]);
  });

  it('builds every supported dtype', () => {
    const cases: Array<[string, unknown, unknown[]]> = [
      ['float64', [0.1], [0.1]],
      ['int32', [-5], [-5]],
      ['int64', [9007199254740993n.toString(), -3], [9007199254740993n, -3n]],
      ['uint8', [255], [255]],
      ['bool', [true, false, 1, 0], [1, 0, 1, 0]],
    ];
    for (const [type, value, want] of cases) {
      const d = decodeInput({ name: 't', type, shape: [-1] }, value);
      expect(Array.from(d.tensor.data as ArrayLike<unknown>), type).toEqual(want);
    }
  });

  it('names the input and both shapes on a rank or fixed-dim mismatch', () => {
    expect(badRequestMessage(() => decodeInput(x, 3))).toBe('Input "x": expected shape [N,4] (float32), received []');
    expect(badRequestMessage(() => decodeInput(x, [1, 2, 3]))).toBe(
      'Input "x": expected shape [N,4] (float32), received [3]',
    );
    expect(badRequestMessage(() => decodeInput(x, [[[1, 2, 3, 4]]]))).toBe(
      'Input "x": expected shape [N,4] (float32), received [1,1,4]',
    );
    const fixed: TensorMeta = { name: 'img', type: 'uint8', shape: [2, 3] };
    expect(badRequestMessage(() => decodeInput(fixed, [[1, 2, 3]]))).toBe(
      'Input "img": expected shape [2,3] (uint8), received [1,3]',
    );
  });

  it('rejects ragged arrays and wrong values with the position', () => {
    expect(badRequestMessage(() => decodeInput(x, [[1, 2, 3, 4], [1, 2, 3]]))).toMatch(
      /^Input "x": ragged nested array: element \[1\] has 3 entries, expected an array of 4/,
    );
    expect(badRequestMessage(() => decodeInput(x, [[1, 2, 3, 4], 5]))).toMatch(/element \[1\] has 5, expected an array of 4/);
    expect(badRequestMessage(() => decodeInput(x, [[1, 2, 'a', 4]]))).toBe(
      'Input "x": expected float32 values (numbers), received "a" at [0,2]',
    );
    expect(badRequestMessage(() => decodeInput({ name: 'b', type: 'int64', shape: ['N'] }, [1.5]))).toBe(
      'Input "b": expected int64 values (integers), received 1.5 at [0]',
    );
    expect(badRequestMessage(() => decodeInput({ name: 'u', type: 'uint8', shape: ['N'] }, [256]))).toMatch(
      /expected uint8 values \(integers 0\.\.255\), received 256/,
    );
    expect(badRequestMessage(() => decodeInput({ name: 'f', type: 'bool', shape: ['N'] }, [2]))).toMatch(
      /expected bool values \(true\/false or 0\/1\), received 2/,
    );
  });

  it('says which dtypes are unsupported', () => {
    expect(badRequestMessage(() => decodeInput({ name: 'h', type: 'float16', shape: [1] }, [1]))).toMatch(
      /^Input "h": datatype float16 is not supported by the default ONNX handler/,
    );
  });
});

describe('toNested', () => {
  it('converts int64 to numbers, bool to booleans, float16 bits to numbers', () => {
    expect(toNested({ type: 'int64', dims: [2, 1], data: BigInt64Array.from([3n, -4n]) })).toEqual([[3], [-4]]);
    expect(toNested({ type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) })).toEqual([true, false]);
    expect(toNested({ type: 'float16', dims: [2], data: Uint16Array.from([0x3c00, 0xc000]) })).toEqual([1, -2]);
    expect(toNested({ type: 'float32', dims: [], data: Float32Array.from([0.5]) })).toBe(0.5);
    expect(halfToNumber(0x7c00)).toBe(Infinity);
  });
});

describe('collectInputs', () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const multi: TensorMeta[] = [
    { name: 'a', type: 'float32', shape: ['N', 2] },
    { name: 'b', type: 'int64', shape: ['N', 2] },
  ];

  it('maps a bare array to a single-input model and an object by input name', () => {
    expect(collectInputs([{ name: 'body', data: enc([1, 2, 3, 4]) }], [x])).toEqual({ x: [1, 2, 3, 4] });
    expect(collectInputs([{ name: 'data', data: enc([1]) }], [x])).toEqual({ x: [1] });
    expect(collectInputs([{ name: 'body', data: enc({ a: [1, 2], b: [3, 4] }) }], multi)).toEqual({ a: [1, 2], b: [3, 4] });
  });

  it('maps multipart fields to inputs by name', () => {
    expect(
      collectInputs(
        [
          { name: 'a', data: enc([1, 2]) },
          { name: 'b', data: enc([3, 4]) },
        ],
        multi,
      ),
    ).toEqual({ a: [1, 2], b: [3, 4] });
  });

  it('rejects unknown, missing and non-JSON inputs with helpful messages', () => {
    expect(badRequestMessage(() => collectInputs([{ name: 'body', data: enc({ a: [1, 2], z: 1 }) }], multi))).toBe(
      'Unknown input "z"; model inputs: "a" [N,2] (float32), "b" [N,2] (int64)',
    );
    expect(badRequestMessage(() => collectInputs([{ name: 'body', data: enc({ a: [1, 2] }) }], multi))).toBe(
      'Missing input "b" [N,2] (int64); model inputs: "a" [N,2] (float32), "b" [N,2] (int64)',
    );
    expect(badRequestMessage(() => collectInputs([{ name: 'body', data: enc([1, 2]) }], multi))).toMatch(
      /^The model has 2 inputs; send a JSON object \{"a": <float32 array>, "b": <int64 array>\}/,
    );
    expect(badRequestMessage(() => collectInputs([{ name: 'body', data: new TextEncoder().encode('{oops') }], [x]))).toMatch(
      /^Request body is not valid JSON/,
    );
    expect(badRequestMessage(() => collectInputs([], [x]))).toMatch(/^No input data; send JSON such as \{"x": <float32 array>\}/);
  });
});

describe('labels', () => {
  it('parses plain and ImageNet-style mappings', () => {
    expect(parseLabels({ '0': 'cat', '1': ['n0', 'dog'] })).toEqual(['cat', 'dog']);
  });

  it('turns [batch, C] rows into {label: score} sorted by score', () => {
    const rows = labelRows({ type: 'float32', dims: [1, 3], data: Float32Array.from([0.25, 0.5, 0.125]) }, ['a', 'b', 'c']);
    expect(rows).toEqual([{ b: 0.5, a: 0.25, c: 0.125 }]);
    expect(Object.keys(rows![0]!)).toEqual(['b', 'a', 'c']);
    expect(labelRows({ type: 'float32', dims: [1, 2], data: Float32Array.from([1, 2]) }, ['a', 'b', 'c'])).toBeUndefined();
  });

  it('replies one object for a single row when the batch dim was added', () => {
    const sig = { inputs: [x], outputs: [{ name: 'y', type: 'float32', shape: ['N', 2] }] };
    const out = { y: { type: 'float32' as const, dims: [1, 2], data: Float32Array.from([0.25, 0.75]) } };
    expect(replyValue(out, sig, true, ['no', 'yes'])).toEqual({ yes: 0.75, no: 0.25 });
    expect(replyValue(out, sig, false, ['no', 'yes'])).toEqual([{ yes: 0.75, no: 0.25 }]);
    expect(replyValue(out, sig, true, undefined)).toEqual([0.25, 0.75]);
  });
});
