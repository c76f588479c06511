/**
 * Open Inference Protocol v2 JSON codec: the inference request object → tensors for a worker,
 * and reply tensors → the inference response object. Every check a request can fail without
 * knowing the model happens here, before anything reaches a worker; each rejection is a 400
 * whose message names the input (model-level checks — unknown or missing inputs, datatype vs
 * model — come from the runtime).
 */
import { badRequest } from '../../errors.js';
import { MAX_TENSOR_RANK } from '../../handlers/tensor-codec.js';
import type { OipDatatype, WireTensor } from '../../runtime/types.js';
import { allocate, BIGINT_RANGE, INT_RANGE, isOipDatatype, OIP_DATATYPES, type NumericData, type WireData } from './datatypes.js';
import { fitsHalf, fromHalf, toHalf } from './fp16.js';

/**
 * The most `inputs` or `outputs` one request may list (no ONNX model comes near it); a longer list
 * is refused before any entry is looked at.
 */
export const MAX_REQUEST_TENSORS = 1024;

/** OIP `$parameters`: name → string | number | boolean (kept as sent). */
export type Parameters = Record<string, unknown>;

export interface CodecLimits {
  /**
   * The most elements one tensor may declare. Every element takes at least one byte of the body
   * (JSON or binary), so `max_request_size` is a safe cap that stops shape-product overflow early.
   */
  maxElements: number;
}

/** One `$request_input` after the header checks, its data not decoded yet. */
export interface InputHeader {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  /** Product of `shape`. */
  elements: number;
  parameters?: Parameters;
  /** `data` as sent (JSON), when the tensor is not in the binary part. */
  data?: unknown;
  /** `parameters.binary_data_size`, when the tensor is in the binary part. */
  binarySize?: number;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
  /** `parameters.binary_data`, when given (overrides the request-wide `binary_data_output`). */
  binary?: boolean;
}

/** The request object's envelope (everything but tensor data). */
export interface InferHeader {
  id?: string;
  parameters?: Parameters;
  inputs: InputHeader[];
  /** Undefined: every output of the model. */
  outputs?: RequestedOutput[];
  /** Request-wide `parameters.binary_data_output`. */
  binaryOutput: boolean;
}

export interface DecodedInferRequest extends Omit<InferHeader, 'inputs'> {
  inputs: WireTensor[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** JSON text of a request body → the parsed value; 400 on anything that is not a JSON object. */
export function parseJsonObject(text: string, what = 'request body'): Record<string, unknown> {
  if (text.trim() === '') throw badRequest(`The ${what} is empty: expected an inference request JSON object`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest(`The ${what} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(value)) throw badRequest(`The ${what} must be a JSON object, got ${describe(value)}`);
  return value;
}

function parametersOf(v: unknown, where: string): Parameters | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw badRequest(`${where}: "parameters" must be an object, got ${describe(v)}`);
  return v;
}

function boolParam(params: Parameters | undefined, key: string, where: string): boolean | undefined {
  const v = params?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${where}: parameter "${key}" must be true or false, got ${describe(v)}`);
  return v;
}

/**
 * `shape` → dims and element count, refusing non-integers, more than MAX_TENSOR_RANK dims, a dim
 * or a product past the limit. The product is a BigInt: `[2^31-1, 2^31-1, 16]` must not wrap.
 */
export function checkShape(shape: unknown, where: string, limits: CodecLimits): { shape: number[]; elements: number } {
  if (!Array.isArray(shape)) throw badRequest(`${where}: "shape" must be a list of non-negative integers, got ${describe(shape)}`);
  if (shape.length > MAX_TENSOR_RANK) {
    throw badRequest(`${where}: shape has ${shape.length} dimensions, more than ${MAX_TENSOR_RANK}`);
  }
  const dims: number[] = [];
  let product = 1n;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      // describe(), not JSON.stringify(shape): a dim may be a nesting bomb.
      throw badRequest(`${where}: "shape" must be a list of non-negative integers, got ${describe(d)} at index ${dims.length}`);
    }
    dims.push(d);
    product *= BigInt(d);
  }
  if (product > BigInt(limits.maxElements)) {
    throw badRequest(`${where}: shape ${fmtShape(dims)} has ${product} elements, more than a request can carry (at most ${limits.maxElements})`);
  }
  // With a zero in the shape the product says nothing: no dimension may exceed the limit either.
  const huge = dims.find((d) => d > limits.maxElements);
  if (huge !== undefined) {
    throw badRequest(`${where}: shape dimension ${huge} is larger than a request can carry (at most ${limits.maxElements} elements)`);
  }
  return { shape: dims, elements: Number(product) };
}

/** The inference request object's envelope: ids, parameters, input headers, requested outputs. */
export function parseInferHeader(body: Record<string, unknown>, limits: CodecLimits): InferHeader {
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest(`"id" must be a string, got ${describe(body.id)}`);
  const parameters = parametersOf(body.parameters, 'Request');
  const binaryOutput = boolParam(parameters, 'binary_data_output', 'Request') ?? false;
  if (body.inputs === undefined) throw badRequest('The request has no "inputs": expected a list of input tensors');
  if (!Array.isArray(body.inputs)) throw badRequest(`"inputs" must be a list of input tensors, got ${describe(body.inputs)}`);
  if (body.inputs.length > MAX_REQUEST_TENSORS) {
    throw badRequest(`"inputs" lists ${body.inputs.length} tensors, more than a request may (${MAX_REQUEST_TENSORS})`);
  }
  const seen = new Set<string>();
  const inputs = body.inputs.map((raw: unknown, i): InputHeader => {
    if (!isObject(raw)) throw badRequest(`inputs[${i}] must be an object, got ${describe(raw)}`);
    const { name } = raw;
    if (typeof name !== 'string' || name === '') throw badRequest(`inputs[${i}] has no "name"`);
    const where = `Input "${name}"`;
    if (seen.has(name)) throw badRequest(`${where} appears twice in "inputs"`);
    seen.add(name);
    if (raw.datatype === undefined) throw badRequest(`${where} has no "datatype"`);
    if (!isOipDatatype(raw.datatype)) {
      const extra = raw.datatype === 'BF16' ? ' (BF16 is not supported: ONNX Runtime for Node has no bfloat16 tensors)' : '';
      throw badRequest(`${where}: unknown datatype ${describe(raw.datatype)}${extra}; expected one of ${OIP_DATATYPES.join(', ')}`);
    }
    if (raw.shape === undefined) throw badRequest(`${where} has no "shape"`);
    const { shape, elements } = checkShape(raw.shape, where, limits);
    const params = parametersOf(raw.parameters, where);
    const header: InputHeader = { name, datatype: raw.datatype, shape, elements };
    if (params) header.parameters = params;
    const size = params?.binary_data_size;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw badRequest(`${where}: parameter "binary_data_size" must be a non-negative integer, got ${describe(size)}`);
      }
      if (raw.data !== undefined) throw badRequest(`${where} has both "data" and parameters.binary_data_size: send its data one way`);
      header.binarySize = size;
    } else {
      if (raw.data === undefined) throw badRequest(`${where} has no "data" (and no parameters.binary_data_size)`);
      header.data = raw.data;
    }
    return header;
  });
  const header: InferHeader = { inputs, binaryOutput };
  if (body.id !== undefined) header.id = body.id;
  if (parameters) header.parameters = parameters;
  if (body.outputs !== undefined) header.outputs = parseOutputs(body.outputs);
  return header;
}

function parseOutputs(raw: unknown): RequestedOutput[] {
  if (!Array.isArray(raw)) throw badRequest(`"outputs" must be a list of {"name": ...} objects, got ${describe(raw)}`);
  if (raw.length > MAX_REQUEST_TENSORS) {
    throw badRequest(`"outputs" lists ${raw.length} tensors, more than a request may (${MAX_REQUEST_TENSORS})`);
  }
  const seen = new Set<string>();
  return raw.map((o: unknown, i): RequestedOutput => {
    if (!isObject(o)) throw badRequest(`outputs[${i}] must be an object, got ${describe(o)}`);
    if (typeof o.name !== 'string' || o.name === '') throw badRequest(`outputs[${i}] has no "name"`);
    const where = `Output "${o.name}"`;
    if (seen.has(o.name)) throw badRequest(`${where} is requested twice`);
    seen.add(o.name);
    const params = parametersOf(o.parameters, where);
    if (params?.classification !== undefined) throw badRequest(`${where}: the classification extension is not supported`);
    const out: RequestedOutput = { name: o.name };
    if (params) out.parameters = params;
    const binary = boolParam(params, 'binary_data', where);
    if (binary !== undefined) out.binary = binary;
    return out;
  });
}

// ---- JSON data → typed arrays ------------------------------------------------------------------

const DIGITS = /^-?\d+$/;

type Put = (at: number, v: unknown) => boolean;

/** A writer that stores one JSON element at `at`, or says it does not fit the datatype. */
function putter(datatype: OipDatatype, out: WireData): Put {
  switch (datatype) {
    case 'FP32': {
      const a = out as Float32Array;
      return (at, v) => {
        if (typeof v !== 'number' || !Number.isFinite(Math.fround(v))) return false;
        a[at] = v;
        return true;
      };
    }
    case 'FP64': {
      const a = out as Float64Array;
      return (at, v) => {
        if (typeof v !== 'number') return false;
        a[at] = v;
        return true;
      };
    }
    case 'FP16': {
      const a = out as Uint16Array;
      return (at, v) => {
        if (typeof v !== 'number' || !fitsHalf(v)) return false;
        a[at] = toHalf(v);
        return true;
      };
    }
    case 'BOOL': {
      const a = out as Uint8Array;
      return (at, v) => {
        if (typeof v === 'boolean') a[at] = v ? 1 : 0;
        else if (v === 0 || v === 1) a[at] = v;
        else return false;
        return true;
      };
    }
    case 'INT64':
    case 'UINT64': {
      const a = out as BigInt64Array | BigUint64Array;
      const [lo, hi] = BIGINT_RANGE[datatype]!;
      return (at, v) => {
        let b: bigint;
        if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && DIGITS.test(v)) b = BigInt(v);
        else return false;
        if (b < lo || b > hi) return false;
        a[at] = b;
        return true;
      };
    }
    case 'BYTES': {
      const a = out as string[];
      return (at, v) => {
        if (typeof v !== 'string') return false;
        a[at] = v;
        return true;
      };
    }
    default: {
      const a = out as Exclude<NumericData, BigInt64Array | BigUint64Array>;
      const [lo, hi] = INT_RANGE[datatype]!;
      return (at, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) return false;
        a[at] = v;
        return true;
      };
    }
  }
}

export function expectedKind(datatype: OipDatatype): string {
  switch (datatype) {
    case 'FP32':
      return 'a number within the float32 range';
    case 'FP64':
      return 'a number';
    case 'FP16':
      return 'a number within ±65504';
    case 'BOOL':
      return 'true or false';
    case 'BYTES':
      return 'a string';
    case 'INT64':
    case 'UINT64': {
      const [lo, hi] = BIGINT_RANGE[datatype]!;
      return `an integer in ${lo}..${hi}`;
    }
    default: {
      const [lo, hi] = INT_RANGE[datatype]!;
      return `an integer in ${lo}..${hi}`;
    }
  }
}

export function allocateData(datatype: OipDatatype, n: number): WireData {
  return datatype === 'BYTES' ? new Array<string>(n).fill('') : allocate(datatype, n);
}

/** Every array above the leaves has its dimension's length (recursion depth ≤ MAX_TENSOR_RANK). */
function checkNesting(v: unknown, shape: readonly number[], path: number[], mismatch: (v: unknown, path: readonly number[]) => Error): void {
  if (!Array.isArray(v) || v.length !== shape[path.length]) throw mismatch(v, path);
  if (path.length + 1 >= shape.length) return;
  for (let i = 0; i < v.length; i++) {
    path.push(i);
    checkNesting(v[i], shape, path, mismatch);
    path.pop();
  }
}

/**
 * An input's JSON `data` → its typed array. Flat data must have exactly `elements` values; nested
 * data must have exactly the declared shape. Elements must be of the datatype's kind and range.
 */
export function decodeJsonData(input: Pick<InputHeader, 'name' | 'datatype' | 'shape' | 'elements'>, data: unknown): WireData {
  const { name, datatype, shape, elements } = input;
  const where = `Input "${name}"`;
  if (!Array.isArray(data)) throw badRequest(`${where}: "data" must be a list, got ${describe(data)}`);
  const nested = data.length > 0 && Array.isArray(data[0]);
  // Flat data: the length is known before anything is allocated.
  if (!nested && data.length !== elements) {
    throw badRequest(`${where}: shape ${fmtShape(shape)} needs ${elements} elements, "data" has ${data.length}`);
  }
  const mismatch = (v: unknown, path: readonly number[]) => {
    const got = Array.isArray(v) ? `${v.length} entries` : describe(v);
    const at = path.length > 0 ? `element [${path.join(',')}]` : 'the top level';
    return badRequest(`${where}: nested "data" does not match shape ${fmtShape(shape)}: ${at} has ${got}, expected ${shape[path.length]} entries`);
  };
  // Nested data: its arrays must match the shape before the shape's elements are allocated.
  if (nested && shape.length > 0) checkNesting(data, shape, [], mismatch);
  const out = allocateData(datatype, elements);
  const put = putter(datatype, out);
  const wrongElement = (v: unknown, path: number[]) =>
    badRequest(`${where}: element [${path.join(',')}] is ${describe(v)}, expected ${expectedKind(datatype)} for ${datatype}`);

  if (!nested) {
    for (let i = 0; i < data.length; i++) {
      const v: unknown = data[i];
      if (!put(i, v)) throw wrongElement(v, [i]);
    }
    return out;
  }
  let at = 0;
  const path: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) {
        throw badRequest(`${where}: nested "data" is deeper than shape ${fmtShape(shape)} (at [${path.join(',')}])`);
      }
      if (!put(at++, v)) throw wrongElement(v, path);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw mismatch(v, path);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      walk(v[i], depth + 1);
      path.pop();
    }
  };
  walk(data, 0);
  return out;
}

/** A JSON-only inference request (no binary part). */
export function decodeJsonRequest(body: Record<string, unknown>, limits: CodecLimits): DecodedInferRequest {
  const header = parseInferHeader(body, limits);
  const inputs = header.inputs.map((h): WireTensor => {
    if (h.binarySize !== undefined) {
      throw badRequest(`Input "${h.name}" declares binary_data_size but the request has no Inference-Header-Content-Length header`);
    }
    return { name: h.name, datatype: h.datatype, shape: h.shape, data: decodeJsonData(h, h.data) };
  });
  return { ...header, inputs };
}

// ---- response ----------------------------------------------------------------------------------

/** A tensor's data as JSON text: a flat list; INT64/UINT64 exact, FP16 as numbers, BOOL as booleans. */
export function jsonData(t: WireTensor): string {
  const d = t.data;
  if (Array.isArray(d)) return JSON.stringify(d);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return `[${Array.from(d, (b) => b.toString()).join(',')}]`;
  if (t.datatype === 'BOOL') return `[${Array.from(d, (b) => (b !== 0 ? 'true' : 'false')).join(',')}]`;
  if (t.datatype === 'FP16') return JSON.stringify(Array.from(d, fromHalf));
  // JSON.stringify writes NaN/±Infinity (which JSON cannot carry) as null.
  return JSON.stringify(Array.from(d));
}

export interface ResponseOutput {
  tensor: WireTensor;
  /** Set for outputs sent in the binary part. */
  binarySize?: number;
}

export interface InferResponseHead {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
}

/** The `$inference_response` JSON text; outputs with `binarySize` carry it as a parameter instead of `data`. */
export function responseJson(head: InferResponseHead, outputs: readonly ResponseOutput[]): string {
  const parts: string[] = [`{"model_name":${JSON.stringify(head.modelName)},"model_version":${JSON.stringify(head.modelVersion)}`];
  if (head.id !== undefined) parts.push(`,"id":${JSON.stringify(head.id)}`);
  if (head.parameters !== undefined) parts.push(`,"parameters":${JSON.stringify(head.parameters)}`);
  parts.push(',"outputs":[');
  outputs.forEach((o, i) => {
    const t = o.tensor;
    parts.push(`${i > 0 ? ',' : ''}{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":${JSON.stringify(t.shape)}`);
    if (o.binarySize !== undefined) parts.push(`,"parameters":{"binary_data_size":${o.binarySize}}}`);
    else parts.push(`,"data":${jsonData(t)}}`);
  });
  parts.push(']}');
  return parts.join('');
}

/** Nested JSON value of a tensor (KServe v1 answers), built from its flat data. */
export function nestedValue(t: WireTensor, from = 0, dims: readonly number[] = t.shape): unknown {
  const d = t.data;
  const read = (i: number): unknown => {
    const v = d[i];
    if (typeof v === 'bigint') return Number(v);
    if (t.datatype === 'BOOL') return v !== 0;
    if (t.datatype === 'FP16') return fromHalf(v as number);
    return v;
  };
  let at = from;
  const build = (depth: number): unknown => {
    if (depth === dims.length) return read(at++);
    const n = dims[depth]!;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = build(depth + 1);
    return out;
  };
  return build(0);
}
