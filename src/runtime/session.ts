/** ONNX Runtime glue for worker threads: session options and signature. */
import type * as ort from 'onnxruntime-node';
import type { ModelSignature, TensorMeta } from './types.js';

export function sessionOptions(intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    // 0 or less ⇒ ORT's own default (all cores); the pool divides cores between workers.
    ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Fatal only: run and load errors reach us as exceptions (per-job 400s, load failures) and are
    // logged there; ORT's own stderr lines would repeat them once per bad request.
    logSeverityLevel: 4,
  };
}

function meta(m: ort.InferenceSession.ValueMetadata): TensorMeta {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

export function signatureOf(session: ort.InferenceSession): ModelSignature {
  return { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta) };
}
