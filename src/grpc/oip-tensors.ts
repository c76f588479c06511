/**
 * Open Inference Protocol gRPC tensors: a `ModelInferRequest` (as proto-loader decodes it: int64 as
 * strings, bytes as Buffers, unset messages null) → WireTensors for a worker, and reply tensors →
 * the `ModelInferResponse` outputs. Every check the REST codec makes of a request (http/oip/codec.ts)
 * is made here too, before anything reaches a worker: names, datatypes, shapes (checkShape), element
 * counts, value ranges, tensor counts. Each rejection is a 400 ServeError whose message names the
 * input (INVALID_ARGUMENT on the wire).
 */
import { badRequest } from '../errors.js';
import { checkShape, MAX_REQUEST_TENSORS, type CodecLimits } from '../http/oip/codec.js';
import { tensorBytes, tensorFromBytes } from '../http/oip/binary.js';
import { allocate, BIGINT_RANGE, ELEMENT_SIZE, INT_RANGE, isOipDatatype, OIP_DATATYPES, type WireData } from '../http/oip/datatypes.js';
import type { OipDatatype, WireTensor } from '../runtime/types.js';

/** `InferParameter` (oneofs: true adds `parameter_choice`, the name of the field set). */
export interface InferParameterMsg {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
}

export type ParametersMsg = Record<string, InferParameterMsg>;

/** `InferTensorContents`. */
export interface TensorContentsMsg {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Array<string | number>;
  uint_contents?: number[];
  uint64_contents?: Array<string | number>;
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export type ContentsField = keyof TensorContentsMsg;

const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
];

/** The `InferTensorContents` field of each datatype; FP16 has none (raw only). */
export const CONTENTS_FIELD_OF: Readonly<Record<OipDatatype, ContentsField | undefined>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

export interface InferInputMsg {
  name?: string;
  datatype?: string;
  shape?: Array<string | number>;
  parameters?: ParametersMsg;
  contents?: TensorContentsMsg | null;
}

export interface RequestedOutputMsg {
  name?: string;
  parameters?: ParametersMsg;
}

export interface ModelInferRequestMsg {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: ParametersMsg;
  inputs?: InferInputMsg[];
  outputs?: RequestedOutputMsg[];
  raw_input_contents?: Uint8Array[];
}

export interface InferOutputMsg {
  name: string;
  datatype: string;
  shape: number[];
  contents?: TensorContentsMsg;
}

export interface DecodedGrpcInfer {
  inputs: WireTensor[];
  /** Requested outputs in order; undefined: every output of the model. */
  outputNames?: string[];
  /** The request carried its data in `raw_input_contents` (the response answers in kind). */
  raw: boolean;
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(',')}]`;
const quote = (s: string) => JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
const utf8 = new TextDecoder('utf-8');

/** int64 dims arrive as decimal strings; anything not a safe integer stays unsafe so checkShape names it. */
function shapeNumbers(shape: ReadonlyArray<string | number> | undefined): unknown[] {
  return (shape ?? []).map((d) => (typeof d === 'number' ? d : Number(d)));
}

/** The contents fields that hold data. */
function filledFields(contents: TensorContentsMsg | null | undefined): ContentsField[] {
  if (!contents) return [];
  return CONTENTS_FIELDS.filter((f) => (contents[f]?.length ?? 0) > 0);
}

function toBigInt(v: string | number): bigint | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined;
  return /^-?\d+$/.test(v) ? BigInt(v) : undefined;
}

/** Typed `contents` values (already counted) → the tensor's data, range-checked for the datatype. */
function fromContents(where: string, datatype: OipDatatype, field: ContentsField, values: readonly unknown[]): WireData {
  const outOfRange = (i: number, v: unknown, range: string) =>
    badRequest(`${where}: contents.${field}[${i}] is ${String(v)}, out of range for ${datatype} (${range})`);
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'FP32':
      return Float32Array.from(values as number[]);
    case 'FP64':
      return Float64Array.from(values as number[]);
    case 'BYTES':
      return values.map((b) => utf8.decode(b as Uint8Array));
    case 'INT64':
    case 'UINT64': {
      const [lo, hi] = BIGINT_RANGE[datatype]!;
      const out = allocate(datatype, values.length) as BigInt64Array | BigUint64Array;
      values.forEach((v, i) => {
        const b = toBigInt(v as string | number);
        if (b === undefined || b < lo || b > hi) throw outOfRange(i, v, `${lo}..${hi}`);
        out[i] = b;
      });
      return out;
    }
    case 'FP16':
      throw badRequest(`${where}: FP16 data cannot be sent in contents`); // unreachable: no field
    default: {
      const [lo, hi] = INT_RANGE[datatype]!;
      const out = allocate(datatype, values.length) as Exclude<WireData, string[] | BigInt64Array | BigUint64Array>;
      values.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw outOfRange(i, v, `${lo}..${hi}`);
        out[i] = v;
      });
      return out;
    }
  }
}

function requestedOutputs(outputs: readonly RequestedOutputMsg[]): string[] {
  if (outputs.length > MAX_REQUEST_TENSORS) {
    throw badRequest(`"outputs" lists ${outputs.length} tensors, more than a request may (${MAX_REQUEST_TENSORS})`);
  }
  const seen = new Set<string>();
  return outputs.map((o, i) => {
    const name = o.name ?? '';
    if (name === '') throw badRequest(`outputs[${i}] has no name`);
    const where = `Output ${quote(name)}`;
    if (seen.has(name)) throw badRequest(`${where} is requested twice`);
    seen.add(name);
    if (o.parameters?.classification !== undefined) throw badRequest(`${where}: the classification extension is not supported`);
    return name;
  });
}

/** A `ModelInferRequest` → tensors (and requested outputs), or a 400 naming what is wrong. */
export function decodeGrpcInfer(msg: ModelInferRequestMsg, limits: CodecLimits): DecodedGrpcInfer {
  const inputs = msg.inputs ?? [];
  if (inputs.length === 0) throw badRequest('The request has no inputs');
  if (inputs.length > MAX_REQUEST_TENSORS) {
    throw badRequest(`"inputs" lists ${inputs.length} tensors, more than a request may (${MAX_REQUEST_TENSORS})`);
  }
  const raws = msg.raw_input_contents ?? [];
  const raw = raws.length > 0;
  if (raw && raws.length !== inputs.length) {
    throw badRequest(`raw_input_contents has ${raws.length} entries, but the request has ${inputs.length} inputs: send one entry per input, in the order of "inputs"`);
  }
  const seen = new Set<string>();
  const tensors = inputs.map((input, i): WireTensor => {
    const name = input.name ?? '';
    if (name === '') throw badRequest(`inputs[${i}] has no name`);
    const where = `Input ${quote(name)}`;
    if (seen.has(name)) throw badRequest(`${where} appears twice in "inputs"`);
    seen.add(name);
    const datatype = input.datatype ?? '';
    if (datatype === '') throw badRequest(`${where} has no datatype`);
    if (!isOipDatatype(datatype)) {
      const extra = datatype === 'BF16' ? ' (BF16 is not supported: ONNX Runtime for Node has no bfloat16 tensors)' : '';
      throw badRequest(`${where}: unknown datatype ${quote(datatype)}${extra}; expected one of ${OIP_DATATYPES.join(', ')}`);
    }
    const { shape, elements } = checkShape(shapeNumbers(input.shape), where, limits);
    const filled = filledFields(input.contents);

    if (raw) {
      if (filled.length > 0) {
        throw badRequest(`${where} has data in contents.${filled[0]}, but the request also has raw_input_contents: send every input's data one way`);
      }
      const bytes = raws[i]!;
      if (datatype !== 'BYTES') {
        const need = elements * ELEMENT_SIZE[datatype];
        if (bytes.length !== need) {
          throw badRequest(`${where}: raw_input_contents[${i}] has ${bytes.length} bytes, but shape ${fmtShape(shape)} of ${datatype} takes ${need} (${elements} × ${ELEMENT_SIZE[datatype]})`);
        }
      }
      return { name, datatype, shape, data: tensorFromBytes(where, datatype, elements, bytes, 0, bytes.length) };
    }

    const field = CONTENTS_FIELD_OF[datatype];
    const wrong = filled.find((f) => f !== field);
    if (field === undefined) {
      if (elements === 0 && filled.length === 0) return { name, datatype, shape, data: allocate(datatype as 'FP16', 0) };
      throw badRequest(`${where}: ${datatype} data cannot be sent in contents (InferTensorContents has no field for it): send it in raw_input_contents`);
    }
    if (wrong !== undefined) throw badRequest(`${where} is ${datatype}, but has data in contents.${wrong}: ${datatype} data goes in contents.${field}`);
    const values: readonly unknown[] = input.contents?.[field] ?? [];
    if (values.length !== elements) {
      if (values.length === 0) throw badRequest(`${where} has no data: shape ${fmtShape(shape)} needs ${elements} elements in contents.${field} (or the request's raw_input_contents)`);
      throw badRequest(`${where}: shape ${fmtShape(shape)} needs ${elements} elements, contents.${field} has ${values.length}`);
    }
    return { name, datatype, shape, data: fromContents(where, datatype, field, values) };
  });
  const out: DecodedGrpcInfer = { inputs: tensors, raw };
  const outputs = msg.outputs ?? [];
  if (outputs.length > 0) out.outputNames = requestedOutputs(outputs);
  return out;
}

/** A tensor's data in its `InferTensorContents` field. */
function contentsOf(t: WireTensor): TensorContentsMsg {
  const field = CONTENTS_FIELD_OF[t.datatype];
  if (field === undefined) throw new Error(`${t.datatype} has no contents field`);
  const d = t.data;
  let values: unknown[];
  if (Array.isArray(d)) values = d.map((s) => Buffer.from(s, 'utf8'));
  else if (d instanceof BigInt64Array || d instanceof BigUint64Array) values = Array.from(d, (b) => b.toString());
  else if (t.datatype === 'BOOL') values = Array.from(d, (b) => b !== 0);
  else values = Array.from(d);
  return { [field]: values };
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Reply tensors → `outputs` (and `raw_output_contents`). Raw when the request was raw or an output
 * has no contents field (FP16), else typed contents: never both in one response.
 */
export function encodeGrpcOutputs(tensors: readonly WireTensor[], rawRequest: boolean): { outputs: InferOutputMsg[]; raw_output_contents: Buffer[] } {
  const raw = rawRequest || tensors.some((t) => CONTENTS_FIELD_OF[t.datatype] === undefined);
  const outputs = tensors.map((t): InferOutputMsg => {
    const o: InferOutputMsg = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (!raw) o.contents = contentsOf(t);
    return o;
  });
  return { outputs, raw_output_contents: raw ? tensors.map((t) => asBuffer(tensorBytes(t))) : [] };
}
