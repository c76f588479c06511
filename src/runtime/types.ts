import type { Manifest } from '../archive/types.js';
import type { PlainServeError } from '../errors.js';

/** One named input of an inference request: a multipart field, or the whole body as `body`. */
export interface RequestPart {
  name: string;
  /** MIME type without parameters, when known. */
  contentType?: string;
  data: Uint8Array;
}

/** What the HTTP layer hands to a model: raw parts, decoded by the handler inside a worker. */
export interface InferenceRequest {
  parts: RequestPart[];
  headers: Record<string, string>;
}

/** A successful reply produced by a handler (also each intermediate reply of a stream). */
export interface InferenceReply {
  status: number;
  /** Reason phrase set by the handler (`context.setResponseStatus(code, phrase)`). */
  statusText?: string;
  contentType?: string;
  /** Response headers set by the handler (`context.setResponseHeader`). */
  headers?: Record<string, string>;
  body: Uint8Array;
}

/** How a caller follows one job: streamed intermediate replies, and giving up on it. */
export interface SubmitOptions {
  /** The request named a version explicitly (changes the no-worker message). */
  explicitVersion?: boolean;
  /**
   * Each `context.sendIntermediate` reply, in order, before the final one. Returning false means the
   * consumer is gone: the job is cancelled as if `signal` had fired.
   */
  onIntermediate?(reply: InferenceReply): boolean | void;
  /** Aborting (the client went away) drops a queued job, or tells the worker to cancel it. */
  signal?: AbortSignal;
}

export type JobOutcome = { ok: true; reply: InferenceReply } | { ok: false; error: PlainServeError };

/** Static settings of one pool (one model version). */
export interface WorkerPoolOptions {
  modelName: string;
  modelVersion: string;
  /** Absolute path of the .onnx file. */
  modelFile: string;
  /** Folder of the extracted archive (handlers may read extra files from it). */
  modelDir: string;
  /** Handler spec (see handlers/spec.ts); undefined ⇒ default ONNX handler. */
  handler?: string;
  /** The archive's manifest, for `context.manifest`. */
  manifest?: Manifest;
  /** Every top-level key of model-config.yaml, for `context.modelYamlConfig`. */
  modelYamlConfig?: Record<string, unknown>;
  batchSize: number;
  maxBatchDelayMs: number;
  responseTimeoutSec: number;
  startupTimeoutSec: number;
  jobQueueSize: number;
  /** ONNX Runtime intra-op threads per worker session. */
  intraOpThreads: number;
}

export interface WorkerInfo {
  /** TorchServe reports the worker port; we report a stable numeric id as a string. */
  id: string;
  startTime: Date;
  status: 'READY' | 'UNLOADING';
  memoryUsage: number;
  pid: number;
  gpu: boolean;
}

export interface TensorMeta {
  name: string;
  type: string;
  /** Dimensions; strings (or -1) are symbolic / dynamic. */
  shape: Array<number | string>;
}

export interface ModelSignature {
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}

export interface ScaleResult {
  /** Workers running (ready) after the change. */
  running: number;
  /** First start-up failure, when a worker could not load. */
  failure?: PlainServeError;
}

/** Counters of one pool since it was created (for metrics and tests). */
export interface PoolStats {
  /** Batches dispatched to workers. */
  batches: number;
  /** Jobs dispatched to workers. */
  jobs: number;
  /** ONNX Runtime `session.run` calls reported by workers (less than jobs when batching concatenates). */
  runs: number;
  /** Workers lost to a crash or a response timeout. */
  workerDeaths: number;
}
