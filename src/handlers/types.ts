/**
 * The handler contract. A handler runs inside a worker thread, owns the request → tensor → reply
 * translation, and talks to ONNX Runtime only through `ctx.run`, so handlers stay testable without
 * a session and the runtime can count runs.
 */
import type { InferenceRequest, JobOutcome, ModelSignature } from '../runtime/types.js';

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

export interface HandlerLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface HandlerContext {
  modelName: string;
  modelVersion: string;
  modelDir: string;
  modelFile: string;
  signature: ModelSignature;
  /** One ONNX Runtime `session.run` over the given feeds; returns every model output. */
  run(feeds: TensorMap): Promise<TensorMap>;
  log: HandlerLogger;
}

export interface Handler {
  /** One outcome per request, in order. Per-request errors are outcomes, not exceptions. */
  handle(requests: InferenceRequest[]): Promise<JobOutcome[]>;
}

export type HandlerFactory = (ctx: HandlerContext) => Handler | Promise<Handler>;
