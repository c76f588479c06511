/** Messages between a WorkerPool and its worker threads (structured-clone safe). */
import type { PlainServeError } from '../errors.js';
import type { InferenceRequest, JobOutcome, ModelSignature } from './types.js';

export interface WorkerLoadConfig {
  modelName: string;
  modelVersion: string;
  modelFile: string;
  modelDir: string;
  handler?: string;
  intraOpThreads: number;
}

/**
 * `exit` asks the thread to end itself once its current load or batch is done. The pool never
 * calls Worker.terminate() on a thread that may be inside ORT native work: onnxruntime-node then
 * aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'").
 */
export type ToWorker =
  | { type: 'load'; config: WorkerLoadConfig }
  | { type: 'batch'; id: number; requests: InferenceRequest[] }
  | { type: 'exit' };

export type LogLevel = 'info' | 'warn' | 'error';

export type FromWorker =
  | { type: 'loaded'; signature: ModelSignature; heapUsed: number }
  | { type: 'load-failed'; error: PlainServeError }
  | { type: 'result'; id: number; outcomes: JobOutcome[]; runs: number; heapUsed: number }
  | { type: 'log'; level: LogLevel; message: string };
