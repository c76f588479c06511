/** Messages between a WorkerPool and its worker threads (structured-clone safe). */
import type { Manifest } from '../archive/types.js';
import type { PlainServeError } from '../errors.js';
import type { InferenceReply, InferenceRequest, JobOutcome, ModelSignature, OrtSessionSettings } from './types.js';

export interface WorkerLoadConfig {
  modelName: string;
  modelVersion: string;
  modelFile: string;
  modelDir: string;
  handler?: string;
  manifest: Manifest;
  modelYamlConfig: Record<string, unknown>;
  intraOpThreads: number;
  /** model-config.yaml `onnxruntime:` (session.ts). */
  ort?: OrtSessionSettings;
  /** The native-call flag (native-flag.ts), shared with the pool. */
  nativeFlag: SharedArrayBuffer;
}

/**
 * `exit` asks the thread to end itself once its current load or batch is done. The pool never
 * calls Worker.terminate() on a thread that may be inside ORT native work: onnxruntime-node then
 * aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'"); only
 * a thread stuck in JavaScript past responseTimeout is terminated, under the native-call flag.
 * `cancel` marks request `index` of batch `id` as abandoned by its client.
 */
export type ToWorker =
  | { type: 'load'; config: WorkerLoadConfig }
  | { type: 'batch'; id: number; requests: InferenceRequest[] }
  | { type: 'cancel'; id: number; index: number }
  | { type: 'exit' };

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * Where one batch's time went in the worker (ns, from process.hrtime.bigint()): batch start → first
 * session.run call (input), → last run settled (infer), → replies encoded (output); `executions`:
 * the session.run calls that succeeded.
 */
export interface BatchTiming {
  inputNs: number;
  inferNs: number;
  outputNs: number;
  executions: number;
}

export type FromWorker =
  | { type: 'loaded'; signature: ModelSignature; heapUsed: number }
  | { type: 'load-failed'; error: PlainServeError }
  | { type: 'result'; id: number; outcomes: JobOutcome[]; runs: number; timing: BatchTiming; heapUsed: number; polled: boolean }
  | { type: 'intermediate'; id: number; index: number; reply: InferenceReply }
  | { type: 'log'; level: LogLevel; message: string };
