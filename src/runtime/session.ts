/** ONNX Runtime glue for worker threads: session options, signature, TensorData ⇄ ort.Tensor. */
import * as ort from 'onnxruntime-node';
import type { TensorData, TensorMap, TensorType } from '../handlers/types.js';
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

export function toOrt(t: TensorData): ort.Tensor {
  // ort.Tensor's overloads pair each type with its array class; TensorData keeps that pairing itself.
  return new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
}

export function fromOrt(t: ort.Tensor): TensorData {
  return { type: t.type as TensorType, dims: [...t.dims], data: t.data as TensorData['data'] };
}

/** session.run over TensorData, returning every output. */
export async function runSession(session: ort.InferenceSession, feeds: TensorMap): Promise<TensorMap> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
  const results = await session.run(ortFeeds);
  const out: TensorMap = {};
  for (const [name, value] of Object.entries(results)) out[name] = fromOrt(value);
  return out;
}
