/** ONNX Runtime glue for worker threads: session options (model-config.yaml `onnxruntime:`) and signature. */
import type * as ort from 'onnxruntime-node';
import type { ModelSignature, OrtSessionSettings, TensorMeta } from './types.js';

export type { OrtSessionSettings };

export function sessionOptions(intraOpThreads: number, settings: OrtSessionSettings = {}): ort.InferenceSession.SessionOptions {
  const threads = settings.intraOpThreads ?? intraOpThreads;
  const spin = settings.allowSpinning ?? false;
  return {
    // 0 or less ⇒ ORT's own default (all cores); the pool divides cores between workers.
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    interOpNumThreads: settings.interOpThreads ?? 1,
    executionMode: settings.executionMode ?? 'sequential',
    graphOptimizationLevel: settings.graphOptimizationLevel ?? 'all',
    ...(settings.enableCpuMemArena === undefined ? {} : { enableCpuMemArena: settings.enableCpuMemArena }),
    ...(settings.enableMemPattern === undefined ? {} : { enableMemPattern: settings.enableMemPattern }),
    // Spinning pool threads keep a core busy after every run: on a server that core is the HTTP
    // thread's or another worker's (measured in docs/architecture.md, "Performance notes").
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' }, inter_op: { allow_spinning: spin ? '1' : '0' } } },
    // Fatal only: run and load errors reach us as exceptions (per-job 400s, load failures) and are
    // logged there; ORT's own stderr lines would repeat them once per bad request.
    logSeverityLevel: 4,
  };
}

const ORT_KEYS = ['intraOpThreads', 'interOpThreads', 'executionMode', 'graphOptimizationLevel', 'enableCpuMemArena', 'enableMemPattern', 'allowSpinning'];

/**
 * Reads model-config.yaml's `onnxruntime:` mapping; throws an Error naming the key for an unknown
 * key or a bad value (the registry turns it into a 400 at registration).
 */
export function parseOrtSection(section: unknown): OrtSessionSettings {
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) throw new Error('model-config.yaml: "onnxruntime" must be a mapping of settings');
  const s = section as Record<string, unknown>;
  const fail = (key: string, expected: string): never => {
    throw new Error(`model-config.yaml onnxruntime.${key} must be ${expected} (got ${JSON.stringify(s[key]) ?? String(s[key])})`);
  };
  for (const key of Object.keys(s)) {
    if (!ORT_KEYS.includes(key)) throw new Error(`model-config.yaml onnxruntime.${key} is not a known setting (known: ${ORT_KEYS.join(', ')})`);
  }
  const out: OrtSessionSettings = {};
  const int = (key: 'intraOpThreads' | 'interOpThreads') => {
    const v = s[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1024) fail(key, 'an integer between 1 and 1024');
    out[key] = v as number;
  };
  const bool = (key: 'enableCpuMemArena' | 'enableMemPattern' | 'allowSpinning') => {
    const v = s[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'boolean') fail(key, 'true or false');
    out[key] = v as boolean;
  };
  const oneOf = <K extends 'executionMode' | 'graphOptimizationLevel'>(key: K, values: ReadonlyArray<NonNullable<OrtSessionSettings[K]>>) => {
    const v = s[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(key, `one of ${values.join(', ')}`);
    out[key] = v as OrtSessionSettings[K];
  };
  int('intraOpThreads');
  int('interOpThreads');
  oneOf('executionMode', ['sequential', 'parallel']);
  oneOf('graphOptimizationLevel', ['disabled', 'basic', 'extended', 'all']);
  bool('enableCpuMemArena');
  bool('enableMemPattern');
  bool('allowSpinning');
  return out;
}

function meta(m: ort.InferenceSession.ValueMetadata): TensorMeta {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

export function signatureOf(session: ort.InferenceSession): ModelSignature {
  return { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta) };
}
