/**
 * The OIP v2 codec and the binary tensor extension, without a server. The request and response
 * examples are re-typed from the Open Inference Protocol REST specification
 * (`specification/protocol/inference_rest.md`) and Triton's binary data extension document.
 */
import { describe, expect, it } from 'vitest';
import { ServeError } from '../../src/errors.js';
import {
  decodeBinaryRequest,
  decodeRawBinaryRequest,
  encodeResponse,
  headerLengthOf,
  tensorBytes,
} from '../../src/http/oip/binary.js';
import { decodeJsonData, decodeJsonRequest, parseInferHeader, parseJsonObject, responseJson } from '../../src/http/oip/codec.js';
import { metadataDatatype, oipFromOrt } from '../../src/http/oip/datatypes.js';
import { oipErrorResult, oipStatus } from '../../src/http/oip/errors.js';
import { fromHalf, toHalf } from '../../src/http/oip/fp16.js';
import { buildInferRequest, parseInferResponse } from '../fixtures/oip-client.js';
import type { WireTensor } from '../../src/runtime/types.js';

const limits = { maxElements: 1_000_000 };

/** Decodes a JSON request body text, or returns the 400's message. */
function decode(body: unknown) {
  return decodeJsonRequest(parseJsonObject(typeof body === 'string' ? body : JSON.stringify(body)), limits);
}

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ServeError);
    expect((e as ServeError).status).toBe(400);
    return (e as ServeError).message;
  }
  throw new Error('expected a 400');
}

const input = (over: Record<string, unknown>) => ({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 2], ...over }] });

describe('OIP specification examples', () => {
  // The spec's inference request example, as printed.
  const SPEC_REQUEST = `{
    "id" : "42",
    "inputs" : [
      { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
      { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true ] }
    ],
    "outputs" : [ { "name" : "output0" } ]
  }`;

  it('reads the example request envelope: id, inputs, requested outputs', () => {
    const header = parseInferHeader(parseJsonObject(SPEC_REQUEST), limits);
    expect(header.id).toBe('42');
    expect(header.inputs.map((i) => [i.name, i.datatype, i.shape, i.elements])).toEqual([
      ['input0', 'UINT32', [2, 2], 4],
      ['input1', 'BOOL', [3], 3],
    ]);
    expect(header.outputs).toEqual([{ name: 'output0' }]);
    expect(header.binaryOutput).toBe(false);
  });

  it("rejects the example as printed: input1's shape [3] has 3 elements but the data only 1", () => {
    expect(rejection(() => decode(SPEC_REQUEST))).toBe('Input "input1": shape [3] needs 3 elements, "data" has 1');
  });

  it('decodes the example with consistent BOOL data into typed arrays', () => {
    const fixed = JSON.parse(SPEC_REQUEST) as { inputs: Array<{ data: unknown }> };
    fixed.inputs[1]!.data = [true, false, true];
    const req = decode(fixed);
    expect(req.inputs[0]).toEqual({ name: 'input0', datatype: 'UINT32', shape: [2, 2], data: new Uint32Array([1, 2, 3, 4]) });
    expect(req.inputs[1]!.data).toEqual(new Uint8Array([1, 0, 1]));
  });

  it('writes the example response: id, output0 [3,2] FP32 in row-major order', () => {
    const out: WireTensor = { name: 'output0', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1.0, 1.5, 2.0, 2.5, 3.0, 3.5]) };
    const text = responseJson({ modelName: 'mymodel', modelVersion: '1', id: '42' }, [{ tensor: out }]);
    expect(JSON.parse(text)).toEqual({
      model_name: 'mymodel',
      model_version: '1',
      id: '42',
      outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.5, 2.0, 2.5, 3.0, 3.5] }],
    });
  });

  it('takes the natural (nested) and the flattened form of the 2x2 matrix example alike', () => {
    const nested = decode({ inputs: [{ name: 'm', shape: [2, 2], datatype: 'INT32', data: [[1, 2], [4, 5]] }] });
    const flat = decode({ inputs: [{ name: 'm', shape: [2, 2], datatype: 'INT32', data: [1, 2, 4, 5] }] });
    expect(nested.inputs[0]!.data).toEqual(new Int32Array([1, 2, 4, 5]));
    expect(flat.inputs[0]!.data).toEqual(nested.inputs[0]!.data);
  });

  it("reads Triton's binary example: UINT32 [2,2] (16 bytes) and BOOL [3] (3 bytes) after the JSON header", () => {
    const header = JSON.stringify({
      model_name: 'mymodel',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    });
    const tail = Buffer.alloc(19);
    [1, 2, 3, 4].forEach((v, i) => tail.writeUInt32LE(v, i * 4));
    tail.set([1, 0, 1], 16);
    const body = Buffer.concat([Buffer.from(header), tail]);
    const req = decodeBinaryRequest(body, Buffer.byteLength(header), limits);
    expect(req.inputs[0]!.data).toEqual(new Uint32Array([1, 2, 3, 4]));
    expect(Array.from(req.inputs[1]!.data as Uint8Array)).toEqual([1, 0, 1]);
    expect(req.outputs).toEqual([{ name: 'output0', parameters: { binary_data: true }, binary: true }]);
  });

  it("writes Triton's binary response example: header with binary_data_size 24, then 24 bytes", () => {
    const out: WireTensor = { name: 'output0', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1, 1.5, 2, 2.5, 3, 3.5]) };
    const { body, headerLength } = encodeResponse({ modelName: 'mymodel', modelVersion: '1' }, [out], () => true);
    expect(headerLength).toBeDefined();
    const head = JSON.parse(body.subarray(0, headerLength).toString()) as Record<string, unknown>;
    expect(head.outputs).toEqual([{ name: 'output0', datatype: 'FP32', shape: [3, 2], parameters: { binary_data_size: 24 } }]);
    expect(body.length - headerLength!).toBe(24);
    expect(Array.from(new Float32Array(new Uint8Array(body.subarray(headerLength!)).buffer))).toEqual([1, 1.5, 2, 2.5, 3, 3.5]);
  });
});

describe('element conversion', () => {
  const one = (datatype: string, data: unknown[], shape = [data.length]) =>
    decode({ inputs: [{ name: 'x', shape, datatype, data }] }).inputs[0]!.data;

  it('fills the typed array of each datatype', () => {
    expect(one('BOOL', [true, false, 1, 0])).toEqual(new Uint8Array([1, 0, 1, 0]));
    expect(one('UINT8', [0, 255])).toEqual(new Uint8Array([0, 255]));
    expect(one('INT8', [-128, 127])).toEqual(new Int8Array([-128, 127]));
    expect(one('UINT16', [65535])).toEqual(new Uint16Array([65535]));
    expect(one('INT16', [-32768])).toEqual(new Int16Array([-32768]));
    expect(one('UINT32', [4294967295])).toEqual(new Uint32Array([4294967295]));
    expect(one('INT32', [-2147483648])).toEqual(new Int32Array([-2147483648]));
    expect(one('INT64', [-5, '9223372036854775807'])).toEqual(new BigInt64Array([-5n, 9223372036854775807n]));
    expect(one('UINT64', ['18446744073709551615'])).toEqual(new BigUint64Array([18446744073709551615n]));
    expect(one('FP32', [0.5, -2])).toEqual(new Float32Array([0.5, -2]));
    expect(one('FP64', [0.1])).toEqual(new Float64Array([0.1]));
    expect(one('BYTES', ['a', 'héllo'])).toEqual(['a', 'héllo']);
  });

  it('converts FP16 from JSON numbers to half bits, rounding to nearest even', () => {
    expect(Array.from(one('FP16', [1, -2, 0.5, 65504, 0, 1 / 3]) as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0, 0x3555]);
    expect(toHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0); // tie → even (0)
    expect(toHalf(3 * 2 ** -25)).toBe(2); // tie → even (2)
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and next → even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalf(65519)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00);
    for (const bits of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xc000, 0x8001]) expect(toHalf(fromHalf(bits))).toBe(bits);
  });

  it('refuses an element of the wrong kind or out of range, naming the input and the position', () => {
    expect(rejection(() => one('FP32', [1, 'abc']))).toBe('Input "x": element [1] is "abc", expected a number within the float32 range for FP32');
    expect(rejection(() => one('FP32', [1e39]))).toMatch(/element \[0\] is 1e\+39, expected a number within the float32 range/);
    expect(rejection(() => one('INT32', [1.5]))).toBe('Input "x": element [0] is 1.5, expected an integer in -2147483648..2147483647 for INT32');
    expect(rejection(() => one('UINT8', [256]))).toMatch(/element \[0\] is 256, expected an integer in 0\.\.255 for UINT8/);
    expect(rejection(() => one('INT8', [-129]))).toMatch(/INT8/);
    expect(rejection(() => one('UINT64', [-1]))).toMatch(/UINT64/);
    expect(rejection(() => one('INT64', ['9223372036854775808']))).toMatch(/INT64/);
    expect(rejection(() => one('BOOL', [2]))).toBe('Input "x": element [0] is 2, expected true or false for BOOL');
    expect(rejection(() => one('FP16', [70000]))).toMatch(/within ±65504/);
    expect(rejection(() => one('BYTES', [1]))).toMatch(/expected a string for BYTES/);
    expect(rejection(() => one('FP32', [null]))).toMatch(/element \[0\] is null/);
    expect(rejection(() => one('FP32', [[1, 2], [3]], [2, 2]))).toBe(
      'Input "x": nested "data" does not match shape [2,2]: element [1] has 1 entries, expected 2 entries',
    );
    expect(rejection(() => one('FP32', [[1, 2], [3, 'x']], [2, 2]))).toMatch(/element \[1,1\] is "x"/);
  });
});

describe('request validation (400 before anything reaches a worker)', () => {
  it.each([
    ['a body that is not JSON', '{"inputs": [', /^The request body is not valid JSON: /],
    ['an empty body', '', /^The request body is empty/],
    ['a JSON array body', '[1,2]', /must be a JSON object, got an array/],
    ['missing inputs', { id: '1' }, /^The request has no "inputs"/],
    ['inputs not a list', { inputs: {} }, /"inputs" must be a list/],
    ['an input without a name', { inputs: [{ shape: [1], datatype: 'FP32', data: [1] }] }, /inputs\[0\] has no "name"/],
    ['an unknown datatype', input({ datatype: 'FLOAT' }), /^Input "x": unknown datatype "FLOAT"; expected one of BOOL, /],
    ['BF16', input({ datatype: 'BF16' }), /BF16 is not supported/],
    ['a missing datatype', input({ datatype: undefined }), /Input "x" has no "datatype"/],
    ['a missing shape', input({ shape: undefined }), /Input "x" has no "shape"/],
    ['a negative dimension', input({ shape: [-1] }), /"shape" must be a list of non-negative integers, got -1/],
    ['a fractional dimension', input({ shape: [1.5] }), /got 1\.5/],
    ['a string dimension', input({ shape: ['2'] }), /got "2"/],
    ['a shape that is not a list', input({ shape: 2 }), /"shape" must be a list/],
    ['a shape product overflow', input({ shape: [2 ** 31, 2 ** 31, 2 ** 31] }), /has 9903520314283042199192993792 elements, more than a request can carry/],
    ['a dimension beyond 2^53', input({ shape: [2 ** 60] }), /non-negative integers/],
    ['data shorter than the shape', input({ shape: [3] }), /^Input "x": shape \[3\] needs 3 elements, "data" has 2$/],
    ['data longer than the shape', input({ shape: [1] }), /needs 1 elements, "data" has 2/],
    ['nested data deeper than the shape', input({ shape: [2], data: [[1], [2]] }), /does not match shape \[2\]|deeper than shape/],
    ['nested data of another shape (same count)', input({ shape: [2, 3], data: [[1, 2], [3, 4], [5, 6]] }), /does not match shape \[2,3\]: the top level has 3 entries, expected 2/],
    ['data not a list', input({ data: 5 }), /"data" must be a list, got 5/],
    ['no data', input({ data: undefined }), /Input "x" has no "data"/],
    ['duplicate input names', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }, { name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }, /Input "x" appears twice/],
    ['a non-string id', { id: 42, ...input({}) }, /"id" must be a string/],
    ['parameters not an object', { parameters: [1], ...input({}) }, /"parameters" must be an object/],
    ['binary_data_output not a boolean', { parameters: { binary_data_output: 'yes' }, ...input({}) }, /binary_data_output" must be true or false/],
    ['outputs not a list', { outputs: 'y', ...input({}) }, /"outputs" must be a list/],
    ['duplicate outputs', { outputs: [{ name: 'y' }, { name: 'y' }], ...input({}) }, /Output "y" is requested twice/],
    ['classification outputs', { outputs: [{ name: 'y', parameters: { classification: 2 } }], ...input({}) }, /classification extension is not supported/],
    ['binary_data_size without the header', input({ data: undefined, parameters: { binary_data_size: 8 } }), /no Inference-Header-Content-Length header/],
    ['both data and binary_data_size', input({ parameters: { binary_data_size: 8 } }), /has both "data" and parameters.binary_data_size/],
  ])('%s', (_what, body, message) => {
    expect(rejection(() => decode(body))).toMatch(message);
  });

  it('caps elements at the request-size limit', () => {
    const msg = rejection(() => decodeJsonRequest({ inputs: [{ name: 'x', shape: [1001], datatype: 'UINT8', data: [] }] }, { maxElements: 1000 }));
    expect(msg).toBe('Input "x": shape [1001] has 1001 elements, more than a request can carry (at most 1000)');
  });

  it('accepts empty tensors and rank-0 tensors', () => {
    expect(decode({ inputs: [{ name: 'x', shape: [0, 4], datatype: 'FP32', data: [] }] }).inputs[0]!.data).toEqual(new Float32Array(0));
    expect(decode({ inputs: [{ name: 'x', shape: [], datatype: 'INT64', data: [7] }] }).inputs[0]).toEqual({ name: 'x', datatype: 'INT64', shape: [], data: new BigInt64Array([7n]) });
  });

  it('keeps id, parameters and requested outputs with their binary flags', () => {
    const req = decode({ id: 'r1', parameters: { binary_data_output: true, priority: 1 }, outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }], ...input({}) });
    expect(req.id).toBe('r1');
    expect(req.parameters).toEqual({ binary_data_output: true, priority: 1 });
    expect(req.binaryOutput).toBe(true);
    expect(req.outputs).toEqual([{ name: 'y', parameters: { binary_data: false }, binary: false }, { name: 'z' }]);
  });

  it('decodeJsonData checks a nested rank-3 tensor level by level', () => {
    const data = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]];
    expect(decodeJsonData({ name: 'x', datatype: 'INT16', shape: [2, 3, 2], elements: 12 }, data)).toEqual(Int16Array.from({ length: 12 }, (_, i) => i + 1));
    expect(rejection(() => decodeJsonData({ name: 'x', datatype: 'INT16', shape: [2, 3, 2], elements: 12 }, [data[0], [[7, 8], [9, 10]]]))).toMatch(
      /element \[1\] has 2 entries, expected 3/,
    );
  });
});

describe('binary tensor data', () => {
  const header = (inputs: unknown[], extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ inputs, ...extra }));

  it('reads the Inference-Header-Content-Length value strictly', () => {
    expect(headerLengthOf(undefined, 10)).toBeUndefined();
    expect(headerLengthOf('4', 10)).toBe(4);
    expect(headerLengthOf('0', 10)).toBe(0);
    expect(rejection(() => headerLengthOf('abc', 10))).toMatch(/must be a non-negative integer/);
    expect(rejection(() => headerLengthOf('-1', 10))).toMatch(/must be a non-negative integer/);
    expect(rejection(() => headerLengthOf('11', 10))).toBe('Inference-Header-Content-Length is 11, but the body has only 10 bytes');
  });

  it('makes aligned tensors views over the body and copies misaligned ones once', () => {
    const json = JSON.stringify({ inputs: [{ name: 'x', shape: [4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] });
    /** A body in a fresh ArrayBuffer (offset 0) whose JSON header is padded to `mod4` bytes past a multiple of 4. */
    const bodyWith = (mod4: number, values: number[]) => {
      const pad = (mod4 - (json.length % 4) + 4) % 4;
      const head = json + ' '.repeat(pad);
      const bytes = new Uint8Array(Buffer.concat([Buffer.from(head), Buffer.from(new Float32Array(values).buffer)]));
      return { body: Buffer.from(bytes.buffer), headerLength: head.length };
    };
    const aligned = bodyWith(0, [1, 2, 3, 4]);
    const view = decodeBinaryRequest(aligned.body, aligned.headerLength, limits).inputs[0]!.data as Float32Array;
    expect(Array.from(view)).toEqual([1, 2, 3, 4]);
    expect(view.buffer).toBe(aligned.body.buffer); // a view over the body: no copy
    expect(view.byteOffset).toBe(aligned.headerLength);

    const odd = bodyWith(1, [5, 6, 7, 8]);
    const copied = decodeBinaryRequest(odd.body, odd.headerLength, limits).inputs[0]!.data as Float32Array;
    expect(Array.from(copied)).toEqual([5, 6, 7, 8]);
    expect(copied.buffer).not.toBe(odd.body.buffer); // one copy, which owns its buffer
    expect(copied.buffer.byteLength).toBe(16);
  });

  it('mixes JSON and binary inputs and reads BYTES as length-prefixed strings', () => {
    const strings = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0, 0, 0, 0]), Buffer.from([2, 0, 0, 0]), Buffer.from('é')]);
    const h = header([
      { name: 'j', shape: [2], datatype: 'INT64', data: [1, 2] },
      { name: 's', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: strings.length } },
    ]);
    const req = decodeBinaryRequest(Buffer.concat([h, strings]), h.length, limits);
    expect(req.inputs[0]!.data).toEqual(new BigInt64Array([1n, 2n]));
    expect(req.inputs[1]!.data).toEqual(['abc', '', 'é']);
  });

  it.each([
    ['a size that does not match the shape', [{ name: 'x', shape: [4], datatype: 'FP32', parameters: { binary_data_size: 12 } }], 12, /binary_data_size is 12 bytes, but 4 FP32 elements take 16/],
    ['a size past the end of the body', [{ name: 'x', shape: [4], datatype: 'FP32', parameters: { binary_data_size: 16 } }], 8, /runs past the end of the body/],
    ['bytes left over', [{ name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } }], 12, /12 bytes after the JSON header, but the inputs' binary_data_size add up to 8/],
    ['a negative binary_data_size', [{ name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: -8 } }], 8, /must be a non-negative integer/],
    ['BOOL bytes other than 0/1', [{ name: 'x', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }], 2, /BOOL element \[0\] is byte 7/],
    ['BYTES with too few elements', [{ name: 'x', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: 5 } }], 5, /needs 2 BYTES elements, the binary data holds 1/],
  ])('refuses %s', (_what, inputs, tailBytes, message) => {
    const h = header(inputs);
    const tail = Buffer.alloc(tailBytes, 7);
    if (tailBytes === 5) tail.set([1, 0, 0, 0, 65]);
    expect(rejection(() => decodeBinaryRequest(Buffer.concat([h, tail]), h.length, limits))).toMatch(message);
  });

  it('refuses a header that is not JSON', () => {
    const body = Buffer.from('{"inputs": [xx');
    expect(rejection(() => decodeBinaryRequest(body, body.length, limits))).toMatch(/^The inference request header is not valid JSON/);
  });

  it('reads a raw binary request from the model input (batch 1 for a dynamic first dim)', () => {
    const body = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer);
    const req = decodeRawBinaryRequest(body, [{ name: 'x', type: 'float32', shape: ['N', 8] }], limits);
    expect(req.inputs[0]).toMatchObject({ name: 'x', datatype: 'FP32', shape: [1, 8] });
    expect(req.binaryOutput).toBe(true);
    const inferred = decodeRawBinaryRequest(body, [{ name: 'x', type: 'float32', shape: ['N', 2, 'L'] }], limits);
    expect(inferred.inputs[0]!.shape).toEqual([1, 2, 4]);
    expect(rejection(() => decodeRawBinaryRequest(body, [{ name: 'x', type: 'float32', shape: ['N', 3] }], limits))).toMatch(/holds 8 FP32 elements, shape \[1,3\] needs 3/);
    expect(rejection(() => decodeRawBinaryRequest(Buffer.alloc(3), [{ name: 'x', type: 'float32', shape: ['N', 3] }], limits))).toMatch(/not a whole number of FP32/);
    expect(rejection(() => decodeRawBinaryRequest(body, [{ name: 'a', type: 'float32', shape: [8] }, { name: 'b', type: 'float32', shape: [8] }], limits))).toMatch(
      /needs a single-input model; this one has 2 inputs/,
    );
  });

  it('round-trips every datatype through the test client and the server codec', () => {
    const tensors: WireTensor[] = [
      { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      { name: 'u8', datatype: 'UINT8', shape: [2], data: new Uint8Array([0, 255]) },
      { name: 'i64', datatype: 'INT64', shape: [2], data: new BigInt64Array([-1n, 2n ** 62n]) },
      { name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([toHalf(1.5), toHalf(-0.25)]) },
      { name: 'f', datatype: 'FP64', shape: [1], data: new Float64Array([Math.PI]) },
      { name: 's', datatype: 'BYTES', shape: [2], data: ['x', 'yz'] },
    ];
    const json = encodeResponse({ modelName: 'm', modelVersion: '1' }, tensors, () => false);
    const bin = encodeResponse({ modelName: 'm', modelVersion: '1' }, tensors, () => true);
    const headersOf = (n?: number) => new Headers(n === undefined ? {} : { 'inference-header-content-length': String(n) });
    const a = parseInferResponse(json.body, headersOf(json.headerLength)).outputs;
    const b = parseInferResponse(bin.body, headersOf(bin.headerLength)).outputs;
    expect(a).toEqual(b);
    expect(b.find((t) => t.name === 'i64')!.data).toEqual([-1n, 2n ** 62n]);
    expect(b.find((t) => t.name === 'h')!.data).toEqual([1.5, -0.25]);
    expect(b.find((t) => t.name === 's')!.data).toEqual(['x', 'yz']);
    // INT64 in JSON is exact, even past 2^53.
    expect(json.body.toString()).toContain('"data":[-1,4611686018427387904]');
    // And the client's binary request decodes to the same typed arrays.
    const req = buildInferRequest(
      [
        { name: 'i', datatype: 'INT16', shape: [2], data: [-3, 4] },
        { name: 'h', datatype: 'FP16', shape: [1], data: [0.5] },
      ],
      { binaryInputs: true },
    );
    const decoded = decodeBinaryRequest(Buffer.from(req.body), Number(req.headers['inference-header-content-length']), limits);
    expect(decoded.inputs[0]!.data).toEqual(new Int16Array([-3, 4]));
    expect(decoded.inputs[1]!.data).toEqual(new Uint16Array([0x3800]));
    expect(Array.from(tensorBytes({ name: 's', datatype: 'BYTES', shape: [1], data: ['ab'] }))).toEqual([2, 0, 0, 0, 97, 98]);
  });
});

describe('datatypes and errors', () => {
  it('maps ONNX Runtime types to OIP datatypes', () => {
    expect(oipFromOrt('float32')).toBe('FP32');
    expect(oipFromOrt('float16')).toBe('FP16');
    expect(oipFromOrt('string')).toBe('BYTES');
    expect(oipFromOrt('bool')).toBe('BOOL');
    expect(oipFromOrt('uint64')).toBe('UINT64');
    expect(oipFromOrt('bfloat16')).toBeUndefined();
    expect(metadataDatatype('bfloat16')).toBe('BF16');
  });

  it('renders every error as {"error"} with the mapped status, in one place', () => {
    const body = (e: ServeError) => JSON.parse(String(oipErrorResult(e).body)) as unknown;
    expect(body(new ServeError(400, 'BadRequestException', 'bad'))).toEqual({ error: 'bad' });
    expect(oipStatus(new ServeError(404, 'ModelNotFoundException', 'x'))).toBe(404);
    expect(oipStatus(new ServeError(503, 'ServiceUnavailableException', 'x'))).toBe(503);
    expect(oipStatus(new ServeError(500, 'InternalServerException', 'x'))).toBe(500);
    expect(oipStatus(new ServeError(403, 'InvalidModelVersionException', 'x'))).toBe(400);
    expect(oipStatus(new ServeError(599, 'InternalServerException', 'x'))).toBe(599);
    expect(oipStatus(new ServeError(200, 'X', 'x'))).toBe(500);
    expect(oipErrorResult(new ServeError(400, 'B', 'm')).contentType).toBe('application/json');
  });
});
