/** Types of vad-core.mjs (for TypeScript tests and scripts; not shipped in the archive). */

export declare const MODEL_SAMPLE_RATE: 16000;
export declare const FRAME_SAMPLES: number[];

export interface VadOptions {
  positiveSpeechThreshold: number;
  negativeSpeechThreshold: number;
  redemptionMs: number;
  minSpeechMs: number;
  preSpeechPadMs: number;
  postSpeechPadMs: number;
  frameSamples: number;
}
export declare const DEFAULT_OPTIONS: Readonly<VadOptions>;

export declare class BadRequestError extends Error {
  constructor(message: string);
  readonly status: 400;
  readonly type: 'BadRequestException';
}

export declare function resolveOptions(section: unknown): VadOptions;

export interface SegmenterOptions {
  frameSeconds: number;
  positiveSpeechThreshold: number;
  negativeSpeechThreshold: number;
  redemptionFrames: number;
  minSpeechFrames: number;
  preSpeechPadSeconds: number;
  postSpeechPadSeconds: number;
}
export declare function segmenterOptions(options: VadOptions, sampleRate?: number): SegmenterOptions;

export declare function describeBytes(bytes: Uint8Array): string;

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  encoding: 'pcm' | 'float';
  /** Mono (channels averaged), in [-1, 1], at `sampleRate`. */
  samples: Float32Array;
  duration: number;
}
export declare function decodeWav(bytes: Uint8Array): DecodedWav;
export declare function encodeWav(
  channels: Float32Array | Float32Array[],
  sampleRate: number,
  options?: { encoding?: 'pcm16' | 'float32' },
): Uint8Array;

export declare function resample(
  input: Float32Array,
  fromRate: number,
  toRate: number,
  options?: { zeroCrossings?: number; rolloff?: number },
): Float32Array;

export interface Segment {
  start: number;
  end: number;
  confidence: number;
}
export declare class Segmenter {
  constructor(options: SegmenterOptions, audio?: { duration?: number });
  readonly options: SegmenterOptions;
  duration: number;
  frames: number;
  segments: number;
  misfires: number;
  speechSeconds: number;
  speaking: boolean;
  push(probability: number): Segment | null;
  finish(duration?: number): Segment | null;
}
export declare function segmentProbabilities(
  probabilities: ArrayLike<number>,
  options: SegmenterOptions,
  duration?: number,
): Segment[];
export declare function frames(samples: Float32Array, frameSamples: number): Generator<Float32Array>;
