/**
 * Open Inference Protocol datatypes: element sizes, the typed arrays that hold them (as
 * `WireTensor` carries them to workers) and the mapping to and from ONNX Runtime's type names.
 */
import type { OipDatatype, WireTensor } from '../../runtime/types.js';

export type WireData = WireTensor['data'];
export type NumericData = Exclude<WireData, string[]>;

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

export function isOipDatatype(s: unknown): s is OipDatatype {
  return typeof s === 'string' && (OIP_DATATYPES as readonly string[]).includes(s);
}

/** Bytes per element (BYTES: variable, 0 here). */
export const ELEMENT_SIZE: Readonly<Record<OipDatatype, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
};

type NumericDatatype = Exclude<OipDatatype, 'BYTES'>;

/** A typed array of `n` elements for a numeric datatype. */
export function allocate(datatype: NumericDatatype, n: number): NumericData {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(n);
    case 'INT8':
      return new Int8Array(n);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(n);
    case 'INT16':
      return new Int16Array(n);
    case 'UINT32':
      return new Uint32Array(n);
    case 'INT32':
      return new Int32Array(n);
    case 'UINT64':
      return new BigUint64Array(n);
    case 'INT64':
      return new BigInt64Array(n);
    case 'FP32':
      return new Float32Array(n);
    case 'FP64':
      return new Float64Array(n);
  }
}

/** A typed array of `n` elements of `datatype` over `buffer` at `byteOffset` (which must be aligned). */
export function viewOf(datatype: NumericDatatype, buffer: ArrayBuffer, byteOffset: number, n: number): NumericData {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(buffer, byteOffset, n);
    case 'INT8':
      return new Int8Array(buffer, byteOffset, n);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'INT16':
      return new Int16Array(buffer, byteOffset, n);
    case 'UINT32':
      return new Uint32Array(buffer, byteOffset, n);
    case 'INT32':
      return new Int32Array(buffer, byteOffset, n);
    case 'UINT64':
      return new BigUint64Array(buffer, byteOffset, n);
    case 'INT64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'FP32':
      return new Float32Array(buffer, byteOffset, n);
    case 'FP64':
      return new Float64Array(buffer, byteOffset, n);
  }
}

const ORT_TO_OIP: Readonly<Record<string, OipDatatype>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

/** ONNX Runtime element type → OIP datatype; undefined for types OIP cannot carry here. */
export function oipFromOrt(type: string): OipDatatype | undefined {
  return ORT_TO_OIP[type];
}

/** For metadata: the OIP name, or the closest honest label for types onnxserve cannot serve. */
export function metadataDatatype(type: string): string {
  if (type === 'bfloat16') return 'BF16';
  return oipFromOrt(type) ?? type.toUpperCase();
}

/** Integer ranges of the integer datatypes that fit in a JS number. */
export const INT_RANGE: Partial<Readonly<Record<OipDatatype, readonly [number, number]>>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
};

export const BIGINT_RANGE: Partial<Readonly<Record<OipDatatype, readonly [bigint, bigint]>>> = {
  UINT64: [0n, 2n ** 64n - 1n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
};

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
