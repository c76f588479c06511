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
  /**
   * Tensor-native requests (Open Inference Protocol v2, KServe v1 `inputs`): the tensors to
   * feed, already decoded by the protocol adapter. The default ONNX handler feeds them directly
   * (no JSON on the way) and answers with `InferenceReply.tensors`. `parts` is then empty.
   */
  tensors?: WireTensor[];
  /** Names of the outputs to return (OIP `outputs`); all when absent. */
  outputNames?: string[];
}

/** Open Inference Protocol datatypes (BF16 is not an ONNX Runtime tensor type in Node). */
export type OipDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

/**
 * A tensor as protocol adapters and workers exchange it: row-major data in the typed array of
 * its datatype (BOOL: Uint8Array of 0/1; FP16: Uint16Array of raw bits; INT64/UINT64:
 * BigInt64Array/BigUint64Array), or strings for BYTES. Typed arrays cross the thread boundary
 * as transferred ArrayBuffers.
 */
export interface WireTensor {
  name: string;
  datatype: OipDatatype;
  shape: number[];
  data:
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | BigUint64Array
    | BigInt64Array
    | Float32Array
    | Float64Array
    | string[];
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
  /** For tensor-native requests: the outputs, in the model's output order (or the requested subset's). */
  tensors?: WireTensor[];
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
  /**
   * Aborting (the client went away) drops a queued job, or tells the worker to cancel it. An
   * AbortSignal, or the cheaper `Cancellation` (runtime/cancellation.ts) on hot paths.
   */
  signal?: CancelSignal;
}

/** What `submit` needs of a cancellation source; AbortSignal and `Cancellation` both fit. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * One request's result from a worker. `items`: the batch items it carried (its first-dim size for a
 * batchable model read by the default handler, else 1), for `inference_count`.
 */
export type JobOutcome = { ok: true; reply: InferenceReply; items?: number } | { ok: false; error: PlainServeError };

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
  /** model-config.yaml `onnxruntime:` session settings (runtime/session.ts). */
  ort?: OrtSessionSettings;
  /**
   * Whether more requests may be on their way (the inference API's connections). Without it a
   * partial batch is never held past the event-loop turn its first job arrived in.
   */
  arrivals?: ArrivalHint;
  /**
   * Busy-poll budget (µs) while `arrivals.alone()`: the main thread waits this long for the
   * worker's result, and the worker this long for its next batch, without sleeping (lane.ts).
   * 0 or undefined: never.
   */
  busyPollUs?: number;
  /** V8 heap limit of each worker thread, MB (0/undefined: Node's default); see spawn.ts. */
  workerHeapLimitMb?: number;
  /** MODEL_LOG (logging.ts): what handlers log and print, per worker. Without it, handler lines go to the pool's logger. */
  modelLog?: import('../logging.js').ModelLog;
  /** Told about every request, batch and worker event (the metrics, src/metrics). */
  observer?: PoolObserver;
}

/**
 * What a pool reports as it works, for metrics. Called on the hot path: implementations must be
 * cheap and must not throw.
 */
export interface PoolObserver {
  /** A request reached the pool (accepted or refused); `explicitVersion`: the client named the version. */
  submitted(explicitVersion: boolean): void;
  /** A request settled: ok, or failed with `status`. Times in ns; `queueNs` only once it left the queue. */
  settled(outcome: RequestOutcome): void;
  /** A batch of `size` requests went to a worker. */
  batch(size: number): void;
  /** Worker `name` (`W-<id>-<model>_<version>`) loaded its model in `ms`. */
  workerLoaded(name: string, ms: number): void;
  /** Worker `name` died (crash, exit, response timeout) and will be replaced if the target says so. */
  workerDied(name: string): void;
}

export interface RequestOutcome {
  ok: boolean;
  /** HTTP status of a failure (503 queue full / no worker, 500 worker died, a handler's status…). */
  status?: number;
  explicitVersion: boolean;
  /** submit → settle. */
  latencyNs: number;
  /** submit → handed to a worker (absent when it never left the queue). */
  queueNs?: number;
}

/**
 * What the batcher asks the HTTP side before holding a partial batch (pool.ts, "Batching rule"):
 * could another request arrive to join it?
 */
export interface ArrivalHint {
  /**
   * True while a request is on its way: a connection is receiving one (headers in, body not yet
   * handled), or was opened less than `windowMs` ago and has sent none yet.
   */
  couldArrive(windowMs: number): boolean;
  /** Calls `listener` whenever couldArrive may have turned false; returns the unsubscribe function. */
  onQuiet(listener: () => void): () => void;
  /** True when exactly one request is with the routes and none is being received: the server is otherwise idle. */
  alone(): boolean;
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
  /** Results the main thread picked up while busy-polling (lane.ts), not from the event loop. */
  polledResults: number;
  /** Batches a worker picked up while busy-polling for its next one. */
  polledBatches: number;
}

/** A count and the cumulative nanoseconds it covers (Triton's `StatisticDuration`). */
export interface StatisticDuration {
  count: number;
  ns: number;
}

/**
 * Triton-compatible statistics of one pool (one model version) since it was created, shaped like
 * one entry of Triton's `model_stats` minus `name`, `version` and `batch_stats`.
 *
 * - `inference_count`: batch items of successful requests: the first-dim size of a request to a
 *   batchable model (every input and output has a dynamic first dim) read by the default ONNX
 *   handler's preprocess (JSON or tensors; a JSON request without its batch dim counts 1), else 1
 *   per request (fixed-batch models, built-in and custom preprocessing).
 * - `execution_count`: successful ONNX Runtime `session.run` calls (several requests batched into
 *   one run count once).
 * - `last_inference`: ms since the epoch when the last request finished (success or failure); 0 before.
 * - `success` / `fail`: requests that succeeded / failed (also those refused at submit: queue full,
 *   no worker, cancelled), ns from `submit()` until the outcome reached the pool.
 * - `queue`: successful requests, ns from `submit()` until handed to a worker.
 * - `compute_input` / `compute_infer` / `compute_output`: successful requests; each request gets
 *   its whole worker batch's time (as Triton attributes a batched execution to every request in
 *   it), measured in the worker: batch start → first `session.run` call (preprocess, tensor
 *   building, concatenation), first call → last run settled, then → replies encoded (split,
 *   postprocess, encoding). A batch with no run counts all of its handler time as compute_infer.
 * - `cache_hit` / `cache_miss`: always zero (no response cache).
 */
export interface InferenceStatistics {
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: StatisticDuration;
    fail: StatisticDuration;
    queue: StatisticDuration;
    compute_input: StatisticDuration;
    compute_infer: StatisticDuration;
    compute_output: StatisticDuration;
    cache_hit: StatisticDuration;
    cache_miss: StatisticDuration;
  };
}

/**
 * The `onnxruntime:` section of model-config.yaml, validated (session.ts#parseOrtSection). Every key is
 * optional; unset keys keep onnxserve's defaults (session.ts#sessionOptions). Measured effects: see
 * docs/architecture.md, "Performance notes".
 */
export interface OrtSessionSettings {
  /** Threads of the session's intra-op pool (overrides `ort_intra_op_threads` / the automatic share). */
  intraOpThreads?: number;
  interOpThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** Whether idle intra-op threads spin waiting for work (ORT's default: true; onnxserve's: false). */
  allowSpinning?: boolean;
}

