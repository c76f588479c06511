/**
 * Plain tensor data used inside the default ONNX handler (JSON ⇄ typed arrays, batching) without
 * depending on onnxruntime-node, so that code is unit-tested without a session. The public handler
 * contract is in api.ts.
 */

/** ONNX Runtime's element type names. */
export type TensorType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A dense tensor as plain data (bool is a Uint8Array of 0/1, float16 a Uint16Array of raw bits). */
export interface TensorData {
  type: TensorType;
  dims: number[];
  data: NumericArray | string[];
}

export type TensorMap = Record<string, TensorData>;
