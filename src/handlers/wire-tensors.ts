/**
 * Tensor-native requests (Open Inference Protocol, KServe v1 `inputs`): WireTensors ⇄ the default
 * ONNX handler's TensorData, checked against the model signature. No JSON anywhere: input typed
 * arrays are used as they are (an `ort.Tensor` wraps them without a copy), outputs are handed back
 * as typed arrays that own their buffers (so the worker can transfer them to the main thread).
 *
 * Every rejection is a 400 whose message names the input (or output) at fault.
 */
import { badRequest } from '../errors.js';
import type { ModelSignature, OipDatatype, TensorMeta, WireTensor } from '../runtime/types.js';
import { describeInput, formatShape, isDynamicDim } from './tensor-codec.js';
import type { NumericArray, TensorData, TensorMap, TensorType } from './types.js';

/** Every OIP datatype ONNX Runtime has (BF16 is not a tensor type of onnxruntime-node). */
export const OIP_DATATYPES: readonly OipDatatype[] = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

/** OIP datatype → ONNX Runtime element type. */
export const ORT_TYPE_OF: Readonly<Record<OipDatatype, TensorType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const OIP_OF_ORT = new Map<string, OipDatatype>(OIP_DATATYPES.map((d) => [ORT_TYPE_OF[d], d]));

/** ONNX Runtime element type (`session.inputMetadata[i].type`) → OIP datatype; undefined for types OIP lacks. */
export function oipDatatypeOf(ortType: string): OipDatatype | undefined {
  return OIP_OF_ORT.get(ortType);
}

export const isOipDatatype = (v: unknown): v is OipDatatype => typeof v === 'string' && (OIP_DATATYPES as readonly string[]).includes(v);

type NumericDatatype = Exclude<OipDatatype, 'BYTES'>;

/** A typed array class: `new C(length)`, or `new C(buffer, byteOffset, length)` (byteOffset aligned to the element size). */
export interface TypedArrayClass {
  new (length: number): NumericArray;
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

/** The typed array class that carries each numeric datatype in a WireTensor. */
export const WIRE_ARRAY_OF: Readonly<Record<NumericDatatype, TypedArrayClass>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** Bytes per element in the binary tensor extension (undefined for BYTES, which is length-prefixed). */
export function elementBytes(datatype: OipDatatype): number | undefined {
  return datatype === 'BYTES' ? undefined : WIRE_ARRAY_OF[datatype].BYTES_PER_ELEMENT;
}

/** Whether `data` is what a WireTensor of `datatype` must carry (a Node Buffer counts as a Uint8Array). */
export function isWireData(datatype: OipDatatype, data: unknown): boolean {
  if (datatype === 'BYTES') return Array.isArray(data) && data.every((s) => typeof s === 'string');
  return data instanceof WIRE_ARRAY_OF[datatype];
}

function kindOf(data: unknown): string {
  if (Array.isArray(data)) return 'an array';
  if (ArrayBuffer.isView(data)) return data.constructor.name;
  return data === null ? 'null' : typeof data;
}

function elementCount(shape: readonly number[]): bigint {
  return shape.reduce((n, d) => n * BigInt(d), 1n);
}

const modelInputs = (inputs: readonly TensorMeta[]) => `model inputs: ${inputs.map(describeInput).join(', ')}`;
const modelOutputs = (outputs: readonly TensorMeta[]) => `model outputs: ${outputs.map(describeInput).join(', ')}`;

/** Checks one request tensor against its input's metadata (400 naming the input). */
function checkTensor(t: WireTensor, meta: TensorMeta): TensorData {
  const name = `input "${meta.name}"`;
  const expected = oipDatatypeOf(meta.type);
  if (!expected) {
    throw badRequest(`${name}: the model's datatype ${meta.type} has no Open Inference Protocol equivalent`);
  }
  if (t.datatype !== expected) {
    const got = isOipDatatype(t.datatype) ? t.datatype : `unknown datatype ${JSON.stringify(String(t.datatype))}`;
    throw badRequest(`${name}: expected datatype ${expected}, got ${got}`);
  }
  const shape: unknown = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    const got = Array.isArray(shape) ? `[${shape.map((d) => String(d)).join(',')}]` : kindOf(shape);
    throw badRequest(`${name}: the shape must be a list of non-negative integers, got ${got}`);
  }
  const dims = shape as number[];
  const want = meta.shape;
  // ORT reports [] both for scalars and for inputs without shape information: any shape is taken then.
  if (want.length > 0) {
    const fits = dims.length === want.length && want.every((d, i) => isDynamicDim(d) || d === dims[i]);
    if (!fits) throw badRequest(`${name}: expected shape ${formatShape(want)}, got ${formatShape(dims)}`);
  }
  if (!isWireData(t.datatype, t.data)) {
    const carrier = t.datatype === 'BYTES' ? 'an array of strings' : WIRE_ARRAY_OF[t.datatype].name;
    throw badRequest(`${name}: ${t.datatype} data must be ${carrier}, got ${kindOf(t.data)}`);
  }
  const count = elementCount(dims);
  if (count !== BigInt(t.data.length)) {
    throw badRequest(`${name}: shape ${formatShape(dims)} has ${count} elements, the data has ${t.data.length}`);
  }
  if (t.datatype === 'BOOL') {
    const data = t.data as Uint8Array;
    for (let at = 0; at < data.length; at++) {
      if (data[at]! > 1) throw badRequest(`${name}: BOOL values must be 0 or 1, got ${data[at]} at index ${at}`);
    }
  }
  // BOOL is a Uint8Array and FP16 a Uint16Array of raw bits in ONNX Runtime too: the array is used as is.
  return { type: ORT_TYPE_OF[t.datatype], dims: [...dims], data: t.data };
}

/**
 * A tensor request's inputs → feeds for the model (no batch dimension is ever added: OIP shapes are
 * explicit). 400 for an unknown, repeated or missing input, a datatype, shape or data-length mismatch.
 */
export function feedsFromWire(tensors: readonly WireTensor[], signature: ModelSignature): TensorMap {
  const byName = new Map(signature.inputs.map((m) => [m.name, m]));
  const feeds: TensorMap = Object.create(null) as TensorMap;
  for (const t of tensors) {
    const meta = byName.get(t.name);
    if (!meta) throw badRequest(`Unknown input "${String(t.name)}"; ${modelInputs(signature.inputs)}`);
    if (t.name in feeds) throw badRequest(`input "${t.name}" is given more than once`);
    feeds[t.name] = checkTensor(t, meta);
  }
  const missing = signature.inputs.filter((m) => !(m.name in feeds));
  if (missing.length > 0) {
    throw badRequest(`Missing input ${missing.map(describeInput).join(', ')}; ${modelInputs(signature.inputs)}`);
  }
  return feeds;
}

/** The outputs to return, in order: the requested ones (400 for an unknown or repeated name), else all. */
export function selectOutputs(outputNames: readonly string[] | undefined, signature: ModelSignature): string[] {
  const all = signature.outputs.map((m) => m.name);
  if (!outputNames || outputNames.length === 0) return all;
  const seen = new Set<string>();
  for (const name of outputNames) {
    if (!all.includes(name)) throw badRequest(`Unknown output "${String(name)}"; ${modelOutputs(signature.outputs)}`);
    if (seen.has(name)) throw badRequest(`output "${name}" is requested more than once`);
    seen.add(name);
  }
  return [...outputNames];
}

/** A typed array that owns its whole buffer: the same one, or a copy of a view into a larger buffer. */
export function ownedArray<T extends NumericArray>(data: T): T {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data;
  // `new Class(view)` copies; Buffer#slice would not (it is subarray), hence no `.slice()` here.
  const Class = baseClassOf(data);
  const copy = new Class(data.length);
  (copy as Float32Array).set(data as Float32Array);
  return copy as T;
}

function baseClassOf(data: NumericArray): TypedArrayClass {
  for (const Class of [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, BigUint64Array, BigInt64Array, Float32Array, Float64Array]) {
    if (data instanceof Class) return Class as TypedArrayClass;
  }
  throw new TypeError(`not a tensor typed array: ${kindOf(data)}`);
}

/** Thrown for an output the protocol cannot carry (the caller turns it into "Unsupported model output data type."). */
export class UnsupportedOutputError extends Error {}

/**
 * Model outputs → WireTensors, `names` in that order. Data views into a larger buffer (rows of a
 * batched run) are copied once so every reply owns (and can transfer) its arrays.
 */
export function wireFromOutputs(outputs: TensorMap, names: readonly string[]): WireTensor[] {
  return names.map((name) => {
    const t = outputs[name];
    if (!t) throw new UnsupportedOutputError(`output "${name}" is missing from the model's results`);
    const datatype = oipDatatypeOf(t.type);
    if (!datatype) throw new UnsupportedOutputError(`output "${name}" has type ${t.type}, which has no Open Inference Protocol datatype`);
    let data: WireTensor['data'];
    if (Array.isArray(t.data)) data = [...t.data];
    else if (datatype === 'FP16' && !(t.data instanceof Uint16Array)) {
      // A runtime with Float16Array may hand float16 back as one: keep the raw bits.
      data = ownedArray(new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length));
    } else data = ownedArray(t.data);
    if (!isWireData(datatype, data)) throw new UnsupportedOutputError(`output "${name}" (${t.type}) came back as ${kindOf(t.data)}`);
    return { name, datatype, shape: [...t.dims], data };
  });
}
