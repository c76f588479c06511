/**
 * Open Inference Protocol datatypes: element sizes, the typed arrays that hold them (as
 * `WireTensor` carries them to workers) and the mapping to and from ONNX Runtime's type names.
 */
import { OIP_DATATYPES, WIRE_ARRAY_OF, elementBytes } from '../../runtime/datatypes.js';
import type { OipDatatype, WireTensor } from '../../runtime/types.js';

export type WireData = WireTensor['data'];
export type NumericData = Exclude<WireData, string[]>;

// One table of datatypes for the whole server: the runtime's (runtime/datatypes.ts).
export { OIP_DATATYPES, isOipDatatype } from '../../runtime/datatypes.js';

/** Bytes per element (BYTES: variable, 0 here). */
export const ELEMENT_SIZE: Readonly<Record<OipDatatype, number>> = Object.fromEntries(
  OIP_DATATYPES.map((d) => [d, elementBytes(d) ?? 0]),
) as Record<OipDatatype, number>;

type NumericDatatype = Exclude<OipDatatype, 'BYTES'>;

/** A typed array of `n` elements for a numeric datatype. */
export function allocate(datatype: NumericDatatype, n: number): NumericData {
  return new WIRE_ARRAY_OF[datatype](n) as NumericData;
}

/** A typed array of `n` elements of `datatype` over `buffer` at `byteOffset` (which must be aligned). */
export function viewOf(datatype: NumericDatatype, buffer: ArrayBuffer, byteOffset: number, n: number): NumericData {
  return new WIRE_ARRAY_OF[datatype](buffer, byteOffset, n) as NumericData;
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
