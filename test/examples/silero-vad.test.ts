/**
 * The silero VAD custom-handler example (examples/silero_vad/, model_store/silero_vad.mar):
 * the pure parts of vad-core.mjs (WAV decoding, resampling, the segment state machine), then
 * handler.mjs driven directly with a fake context around a real ONNX Runtime session of
 * silero_vad.onnx, then the archive itself (extracted outside the repository and imported).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractZip } from '../../src/archive/extract.js';
import { parseManifest } from '../../src/archive/manifest.js';
import { parseModelConfig } from '../../src/archive/model-config.js';
import {
  DEFAULT_OPTIONS,
  Segmenter,
  decodeWav,
  describeBytes,
  encodeWav,
  frames,
  resample,
  resolveOptions,
  segmentProbabilities,
  segmenterOptions,
  type SegmenterOptions,
} from '../../examples/silero_vad/vad-core.mjs';
import * as handlerModule from '../../examples/silero_vad/handler.mjs';
import {
  EXAMPLE_DIR,
  SAMPLE_PATH,
  SAMPLE_RATE,
  UTTERANCES,
  archiveEntries,
  manifestJson,
  sileroModelPath,
  synthesizeSample,
} from '../../scripts/build-silero-example.js';

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(EXAMPLE_DIR, '..', '..');
const marPath = path.join(repoRoot, 'model_store', 'silero_vad.mar');

// ---------------------------------------------------------------------------------------------
// helpers

const tone = (freq: number, rate: number, seconds: number, amplitude = 0.5): Float32Array =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * freq * i) / rate));

const rms = (x: Float32Array, from = 0, to = x.length): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! ** 2;
  return Math.sqrt(s / (to - from));
};

/** Frequency from the count of rising zero crossings over the middle of the signal. */
function zeroCrossingFrequency(x: Float32Array, rate: number): number {
  const from = Math.floor(x.length * 0.1);
  const to = Math.floor(x.length * 0.9);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = from + 1; i < to; i++) {
    if (x[i - 1]! < 0 && x[i]! >= 0) {
      const t = i - 1 + -x[i - 1]! / (x[i]! - x[i - 1]!); // linear interpolation of the crossing
      if (first < 0) first = t;
      else count++;
      last = t;
    }
  }
  return (count * rate) / (last - first);
}

interface FmtSpec {
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
  blockAlign?: number;
  /** WAVE_FORMAT_EXTENSIBLE with this SubFormat code. */
  extensible?: number;
}

/** A hand-made RIFF/WAVE file: fmt chunk, optional chunks before data, raw data bytes. */
function wavFile(fmt: FmtSpec, data: Uint8Array, opts: { before?: Array<[string, Uint8Array]>; dataSize?: number } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const chunk = (id: string, body: Uint8Array, sizeField = body.length) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(sizeField >>> 0, 4);
    chunks.push(head, body);
    if (body.length & 1) chunks.push(new Uint8Array(1));
  };
  const fmtBody = Buffer.alloc(fmt.extensible !== undefined ? 40 : 16);
  const blockAlign = fmt.blockAlign ?? (fmt.channels * fmt.bits) / 8;
  fmtBody.writeUInt16LE(fmt.extensible !== undefined ? 0xfffe : fmt.format, 0);
  fmtBody.writeUInt16LE(fmt.channels, 2);
  fmtBody.writeUInt32LE(fmt.sampleRate, 4);
  fmtBody.writeUInt32LE(fmt.sampleRate * blockAlign, 8);
  fmtBody.writeUInt16LE(blockAlign, 12);
  fmtBody.writeUInt16LE(fmt.bits, 14);
  if (fmt.extensible !== undefined) {
    fmtBody.writeUInt16LE(22, 16);
    fmtBody.writeUInt16LE(fmt.bits, 18);
    fmtBody.writeUInt32LE(0, 20);
    fmtBody.writeUInt16LE(fmt.extensible, 24);
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(fmtBody, 26);
  }
  chunk('fmt ', fmtBody);
  for (const [id, body] of opts.before ?? []) chunk(id, body);
  chunk('data', data, opts.dataSize);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([head, body]));
}

function expectBadRequest(fn: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a BadRequestError').toBeInstanceOf(Error);
  expect(error).toMatchObject({ status: 400, type: 'BadRequestException' });
  expect((error as Error).message).toMatch(message);
}

// ---------------------------------------------------------------------------------------------
// WAV decoding

describe('vad-core decodeWav', () => {
  it('decodes 16-bit PCM mono written by encodeWav', () => {
    const x = Float32Array.from([0, 0.5, -0.5, 0.25, -1, 0.999]);
    const wav = decodeWav(encodeWav(x, 16000));
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, encoding: 'pcm' });
    expect(wav.samples.length).toBe(6);
    expect(wav.duration).toBeCloseTo(6 / 16000, 12);
    x.forEach((v, i) => expect(Math.abs(wav.samples[i]! - v)).toBeLessThanOrEqual(1 / 32768));
  });

  it('decodes 32-bit float exactly', () => {
    const x = Float32Array.from([0.1, -0.2, 0.3, 1.5, -1.25]);
    const wav = decodeWav(encodeWav(x, 22050, { encoding: 'float32' }));
    expect(wav).toMatchObject({ sampleRate: 22050, channels: 1, bitsPerSample: 32, encoding: 'float' });
    expect(Array.from(wav.samples)).toEqual(Array.from(x));
  });

  it('averages channels to mono (16-bit stereo, float 3-channel)', () => {
    const left = Float32Array.from([0.5, 0.5, -0.5]);
    const right = Float32Array.from([-0.1, 0.3, -0.5]);
    const stereo = decodeWav(encodeWav([left, right], 48000));
    expect(stereo.channels).toBe(2);
    expect(stereo.samples.length).toBe(3);
    [0.2, 0.4, -0.5].forEach((v, i) => expect(stereo.samples[i]!).toBeCloseTo(v, 4));

    const c3 = decodeWav(encodeWav([Float32Array.of(0.3), Float32Array.of(0.6), Float32Array.of(-0.3)], 8000, { encoding: 'float32' }));
    expect(c3.channels).toBe(3);
    expect(c3.samples[0]!).toBeCloseTo(0.2, 6);
  });

  it('reads 8-bit, 24-bit and 32-bit PCM, 64-bit float and WAVE_FORMAT_EXTENSIBLE', () => {
    const u8 = decodeWav(wavFile({ format: 1, channels: 1, sampleRate: 8000, bits: 8 }, Uint8Array.of(128, 192, 0, 255)));
    expect(Array.from(u8.samples)).toEqual([0, 0.5, -1, 127 / 128]);

    const b24 = Buffer.alloc(6);
    b24.writeIntLE(4194304, 0, 3); // 0.5
    b24.writeIntLE(-8388608, 3, 3); // -1
    expect(Array.from(decodeWav(wavFile({ format: 1, channels: 1, sampleRate: 16000, bits: 24 }, b24)).samples)).toEqual([0.5, -1]);

    const b32 = Buffer.alloc(8);
    b32.writeInt32LE(-1073741824, 0);
    b32.writeInt32LE(536870912, 4);
    expect(Array.from(decodeWav(wavFile({ format: 1, channels: 1, sampleRate: 16000, bits: 32 }, b32)).samples)).toEqual([-0.5, 0.25]);

    const f64 = Buffer.alloc(16);
    f64.writeDoubleLE(0.125, 0);
    f64.writeDoubleLE(-0.75, 8);
    const d = decodeWav(wavFile({ format: 3, channels: 2, sampleRate: 16000, bits: 64 }, f64));
    expect(Array.from(d.samples)).toEqual([(0.125 - 0.75) / 2]);

    const ext = Buffer.alloc(4);
    ext.writeInt16LE(16384, 0);
    ext.writeInt16LE(-16384, 2);
    const e = decodeWav(wavFile({ format: 1, channels: 1, sampleRate: 44100, bits: 16, extensible: 1 }, ext));
    expect(e).toMatchObject({ encoding: 'pcm', sampleRate: 44100 });
    expect(Array.from(e.samples)).toEqual([0.5, -0.5]);
  });

  it('skips other chunks (odd sizes padded) and reads a data chunk whose size runs past the end', () => {
    const pcm = Buffer.alloc(4);
    pcm.writeInt16LE(8192, 0);
    pcm.writeInt16LE(-8192, 2);
    const withList = wavFile({ format: 1, channels: 1, sampleRate: 16000, bits: 16 }, pcm, {
      before: [['LIST', new Uint8Array(5)], ['fact', new Uint8Array(4)]],
    });
    expect(Array.from(decodeWav(withList).samples)).toEqual([0.25, -0.25]);

    const streaming = wavFile({ format: 1, channels: 1, sampleRate: 16000, bits: 16 }, pcm, { dataSize: 0xffffffff });
    expect(Array.from(decodeWav(streaming).samples)).toEqual([0.25, -0.25]);
    // A trailing half sample frame is ignored.
    const ragged = new Uint8Array(Buffer.concat([Buffer.from(streaming), Buffer.of(7)]));
    expect(decodeWav(ragged).samples.length).toBe(2);
  });

  it('decodes a byte view that does not start at offset 0 of its buffer', () => {
    const wav = encodeWav(Float32Array.of(0.5, -0.5), 16000);
    const big = new Uint8Array(wav.length + 3);
    big.set(wav, 3);
    expect(Array.from(decodeWav(big.subarray(3)).samples)).toEqual([0.5, -0.5]);
  });

  it('refuses anything that is not PCM or float WAV with 400 and says what it got', () => {
    const expected = /^Expected a WAV file \(RIFF\/WAVE, PCM 8\/16\/24\/32-bit integer or 32\/64-bit float\); got /;
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /got an empty body$/],
      [new TextEncoder().encode('{"data": [1, 2, 3]}'), /got JSON text$/],
      [new Uint8Array(Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1')), /got an MP3 file$/],
      [new Uint8Array(Buffer.from('OggS\x00\x02\x00\x00', 'latin1')), /got an Ogg file$/],
      [new Uint8Array(Buffer.from('fLaC\x00\x00\x00\x22', 'latin1')), /got a FLAC file$/],
      [new Uint8Array(Buffer.from('RIFF\x04\x00\x00\x00AVI ', 'latin1')), /got a RIFF file of form "AVI "$/],
      [new Uint8Array(Buffer.from('hello world', 'latin1')), /got 11 bytes starting with 68 65 6c 6c 6f 20 77 6f$/],
      [wavFile({ format: 6, channels: 1, sampleRate: 8000, bits: 8 }, new Uint8Array(4)), /got a WAV file with format code 0x0006 \(A-law\)$/],
      [wavFile({ format: 0x55, channels: 1, sampleRate: 8000, bits: 0, blockAlign: 1 }, new Uint8Array(4)), /format code 0x0055 \(MPEG Layer 3\)$/],
      [wavFile({ format: 1, channels: 1, sampleRate: 8000, bits: 12, blockAlign: 2 }, new Uint8Array(4)), /got a WAV file with 12-bit PCM$/],
      [wavFile({ format: 3, channels: 1, sampleRate: 8000, bits: 16 }, new Uint8Array(4)), /got a WAV file with 16-bit float$/],
      [new Uint8Array(Buffer.from('RIFF\x04\x00\x00\x00WAVEdata\x00\x00\x00\x00', 'latin1')), /got a WAV file without a fmt chunk$/],
    ];
    for (const [bytes, message] of cases) {
      expectBadRequest(() => decodeWav(bytes), expected);
      expectBadRequest(() => decodeWav(bytes), message);
    }
    const noData = wavFile({ format: 1, channels: 1, sampleRate: 8000, bits: 16 }, new Uint8Array(0)).subarray(0, 36);
    expectBadRequest(() => decodeWav(noData), /got a WAV file without a data chunk$/);
    expectBadRequest(
      () => decodeWav(wavFile({ format: 1, channels: 1, sampleRate: 1000, bits: 16 }, new Uint8Array(4))),
      /^Unsupported WAV sample rate 1000 Hz/,
    );
    expect(describeBytes(Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3))).toBe('a WebM/Matroska file');
  });
});

// ---------------------------------------------------------------------------------------------
// Resampling

describe('vad-core resample (Blackman-windowed sinc)', () => {
  it('returns the input unchanged at the same rate', () => {
    const x = tone(440, 16000, 0.1);
    expect(resample(x, 16000, 16000)).toBe(x);
  });

  it('8 kHz → 16 kHz: twice the length, a 1 kHz tone stays 1 kHz at the same level', () => {
    const x = tone(1000, 8000, 1);
    const y = resample(x, 8000, 16000);
    expect(y.length).toBe(16000);
    expect(zeroCrossingFrequency(y, 16000)).toBeCloseTo(1000, 0);
    expect(rms(y, 1000, 15000)).toBeCloseTo(rms(x, 500, 7500), 2);
  });

  it('44.1 kHz → 16 kHz: floor(n·16000/44100) samples, a 440 Hz tone preserved', () => {
    const x = tone(440, 44100, 1.23);
    const y = resample(x, 44100, 16000);
    expect(y.length).toBe(Math.floor((x.length * 16000) / 44100));
    expect(zeroCrossingFrequency(y, 16000)).toBeCloseTo(440, 0);
    expect(rms(y, 1000, y.length - 1000)).toBeCloseTo(0.5 / Math.SQRT2, 2);
  });

  it('48 kHz and odd rates (11025, 22050, 37800) → 16 kHz keep a 3 kHz tone', () => {
    for (const rate of [48000, 11025, 22050, 37800]) {
      const y = resample(tone(3000, rate, 0.5), rate, 16000);
      expect(y.length).toBe(Math.floor((Math.round(rate * 0.5) * 16000) / rate));
      const f = zeroCrossingFrequency(y, 16000);
      expect(Math.abs(f - 3000) / 3000, `rate ${rate}: ${f} Hz`).toBeLessThan(0.005);
    }
  });

  it('filters what 16 kHz cannot represent instead of aliasing it (10 kHz tone at 44.1 kHz)', () => {
    const y = resample(tone(10000, 44100, 0.5), 44100, 16000);
    // Aliased, it would come back as a 6 kHz tone at full level (rms 0.35).
    expect(rms(y, 500, y.length - 500)).toBeLessThan(0.005);
  });
});

// ---------------------------------------------------------------------------------------------
// Options and the segment state machine

describe('vad-core options', () => {
  it('has vad-node-equivalent defaults and converts them to 32 ms frames', () => {
    expect(resolveOptions(undefined)).toEqual(DEFAULT_OPTIONS);
    expect(segmenterOptions(resolveOptions({}))).toEqual({
      frameSeconds: 0.032,
      positiveSpeechThreshold: 0.5,
      negativeSpeechThreshold: 0.35,
      redemptionFrames: 24, // 768 ms
      minSpeechFrames: 9, // 288 ms
      preSpeechPadSeconds: 0.096,
      postSpeechPadSeconds: 0.096,
    });
    expect(segmenterOptions(resolveOptions({ frameSamples: 1536 })).redemptionFrames).toBe(8);
  });

  it('takes the handler section (numbers or numeric strings) and names a bad key', () => {
    expect(resolveOptions({ positiveSpeechThreshold: '0.6', redemptionMs: 300, other: 'ignored' })).toMatchObject({
      positiveSpeechThreshold: 0.6,
      redemptionMs: 300,
    });
    expect(() => resolveOptions({ negativeSpeechThreshold: 0.7 })).toThrow(/handler\.negativeSpeechThreshold must be in \[0, positiveSpeechThreshold\]/);
    expect(() => resolveOptions({ frameSamples: 500 })).toThrow(/handler\.frameSamples must be one of 512, 1024, 1536, got 500/);
    expect(() => resolveOptions({ redemptionMs: 'long' })).toThrow(/handler\.redemptionMs must be a number, got "long"/);
    expect(() => resolveOptions({ positiveSpeechThreshold: 0 })).toThrow(/positiveSpeechThreshold/);
  });
});

describe('vad-core Segmenter', () => {
  const F = 0.032;
  const base: SegmenterOptions = {
    frameSeconds: F,
    positiveSpeechThreshold: 0.5,
    negativeSpeechThreshold: 0.35,
    redemptionFrames: 3,
    minSpeechFrames: 2,
    preSpeechPadSeconds: 0,
    postSpeechPadSeconds: 0,
  };
  const at = (frame: number) => Math.round(frame * F * 1000) / 1000;

  it('opens on a positive frame and closes after redemptionFrames silent frames, not before', () => {
    const s = new Segmenter(base);
    const p = [0, 0.2, 0.9, 0.8, 0.9, 0.1, 0.1, 0.1, 0];
    const closedAt = p.map((x) => s.push(x));
    expect(closedAt.slice(0, 7)).toEqual([null, null, null, null, null, null, null]);
    expect(closedAt[7]).toEqual({ start: at(2), end: at(5), confidence: 0.867 });
    expect(closedAt[8]).toBeNull();
    expect(s.finish()).toBeNull();
    expect(s).toMatchObject({ segments: 1, misfires: 0, frames: 9 });
  });

  it('hysteresis: frames between the thresholds neither reset nor add to the silence count, and extend the end', () => {
    // silent frames: 2, 4, 5 → closes at 5; last frame >= 0.35 is 3
    const p = [0.9, 0.9, 0.1, 0.4, 0.1, 0.1, 0.9, 0.9];
    const s = new Segmenter(base);
    const out = p.map((x) => s.push(x));
    expect(out.findIndex((x) => x !== null)).toBe(5);
    expect(out[5]).toMatchObject({ start: 0, end: at(4) });
    // a positive frame resets the count: one long segment
    expect(segmentProbabilities([0.9, 0.9, 0.1, 0.1, 0.9, 0.1, 0.1, 0.9, 0.9, 0, 0, 0], base)).toEqual([
      { start: 0, end: at(9), confidence: expect.closeTo((0.9 * 5 + 0.4) / 9, 3) as unknown as number },
    ]);
  });

  it('drops segments with fewer than minSpeechFrames positive frames (misfires)', () => {
    const s = new Segmenter(base);
    const out = [0.9, 0.4, 0.4, 0.1, 0.1, 0.1].map((x) => s.push(x));
    expect(out.every((x) => x === null)).toBe(true);
    expect(s).toMatchObject({ segments: 0, misfires: 1, speaking: false });
  });

  it('pads, clamps to 0, to the audio end and to the previous segment, and finish() closes an open segment', () => {
    const o = { ...base, preSpeechPadSeconds: 0.1, postSpeechPadSeconds: 0.05 };
    const p = [0, 0.9, 0.9, 0, 0, 0, 0, 0, 0, 0.9, 0.9];
    const duration = p.length * F - 0.01;
    const segs = segmentProbabilities(p, o, duration);
    expect(segs).toEqual([
      { start: 0, end: Math.round((at(3) + 0.05) * 1000) / 1000, confidence: 0.9 },
      { start: Math.round((at(9) - 0.1) * 1000) / 1000, end: Math.round(duration * 1000) / 1000, confidence: 0.9 },
    ]);
    // with a long pre-pad the second start is clamped to the first end
    const overlap = segmentProbabilities(p, { ...o, preSpeechPadSeconds: 0.3 }, duration);
    expect(overlap[1]!.start).toBe(overlap[0]!.end);
  });

  it('frames() zero-pads the last frame', () => {
    const chunks = [...frames(Float32Array.from({ length: 1100 }, () => 1), 512)];
    expect(chunks.map((c) => c.length)).toEqual([512, 512, 512]);
    expect(chunks[2]![75]).toBe(1);
    expect(chunks[2]![76]).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The handler with a real silero session

interface Call {
  result: unknown;
  index: number | undefined;
}

function fakeContext(session: ort.InferenceSession, opts: { handler?: Record<string, unknown>; stopAfter?: number; cancelledAfterRuns?: number } = {}) {
  const calls: Call[] = [];
  const statuses: Array<[number, string | undefined, number | undefined]> = [];
  const contentTypes: Array<[string, number | undefined]> = [];
  let runs = 0;
  const context = {
    modelName: 'silero_vad',
    modelVersion: '1.0',
    modelDir: EXAMPLE_DIR,
    modelFile: sileroModelPath(),
    manifest: {},
    modelYamlConfig: opts.handler ? { handler: opts.handler } : {},
    session,
    ort,
    run: async (feeds: Record<string, ort.Tensor>) => {
      runs++;
      return session.run(feeds);
    },
    sendIntermediate: async (result: unknown, index?: number) => {
      calls.push({ result, index });
      return opts.stopAfter === undefined || calls.length < opts.stopAfter;
    },
    isCancelled: () => opts.cancelledAfterRuns !== undefined && runs >= opts.cancelledAfterRuns,
    setResponseStatus: (code: number, phrase?: string, index?: number) => void statuses.push([code, phrase, index]),
    setResponseContentType: (type: string, index?: number) => void contentTypes.push([type, index]),
    setResponseHeader: () => {},
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
  return { context, calls, statuses, contentTypes, runs: () => runs };
}

const request = (bytes: Uint8Array) => ({ data: { body: bytes }, parts: [{ name: 'body', data: bytes }], headers: {} });
const parseLine = (s: unknown) => {
  expect(typeof s).toBe('string');
  expect((s as string).endsWith('\n')).toBe(true);
  return JSON.parse(s as string) as Record<string, number>;
};

/** Each segment must cover its utterance's middle and stay near it. */
function expectSegmentsMatchUtterances(segments: Array<Record<string, number>>, minConfidence = 0.8, slack = 0.25): void {
  expect(segments).toHaveLength(UTTERANCES.length);
  segments.forEach((seg, i) => {
    const u = UTTERANCES[i]!;
    const mid = u.start + u.duration / 2;
    expect(seg.start!).toBeLessThan(mid);
    expect(seg.end!).toBeGreaterThan(mid);
    expect(seg.start!).toBeGreaterThan(u.start - slack);
    expect(seg.end!).toBeLessThan(u.start + u.duration + slack);
    expect(seg.confidence!).toBeGreaterThan(minConfidence);
  });
}

describe('handler.mjs with silero_vad.onnx', () => {
  let session: ort.InferenceSession;
  let sampleWav: Uint8Array;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(sileroModelPath());
    sampleWav = new Uint8Array(await readFile(SAMPLE_PATH));
  });
  afterAll(async () => {
    await session?.release();
  });

  it('the committed sample.wav is the synthetic sample (16 kHz mono 16-bit, 3 s, < 200 KB)', () => {
    expect(sampleWav.length).toBeLessThan(200 * 1024);
    const wav = decodeWav(sampleWav);
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, duration: 3 });
    expect(Buffer.from(sampleWav).equals(Buffer.from(encodeWav(synthesizeSample(), SAMPLE_RATE)))).toBe(true);
  });

  it('silero scores the synthetic utterances as speech and the gaps as silence', async () => {
    const samples = decodeWav(sampleWav).samples;
    const probs: number[] = [];
    let h = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
    let c = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
    const sr = new ort.Tensor('int64', BigInt64Array.of(16000n), []);
    for (const frame of frames(samples, 512)) {
      const out = await session.run({ input: new ort.Tensor('float32', frame, [1, 512]), sr, h, c });
      h = out.hn as typeof h;
      c = out.cn as typeof c;
      probs.push((out.output!.data as Float32Array)[0]!);
    }
    const inside = (t: number) => UTTERANCES.some((u) => t > u.start + 0.1 && t < u.start + u.duration - 0.1);
    const outside = (t: number) => UTTERANCES.every((u) => t < u.start - 0.05 || t > u.start + u.duration + 0.25);
    const speech = probs.filter((_, k) => inside((k + 0.5) * 0.032));
    const silence = probs.filter((_, k) => outside((k + 0.5) * 0.032));
    expect(speech.length).toBeGreaterThan(30);
    expect(silence.length).toBeGreaterThan(20);
    expect(Math.min(...speech)).toBeGreaterThan(0.9);
    expect(Math.max(...silence)).toBeLessThan(0.15);
  });

  it('streams one NDJSON segment per utterance as it closes, then a summary', async () => {
    const { context, calls, contentTypes, runs } = fakeContext(session);
    await handlerModule.initialize(context);
    const replies = await handlerModule.handle([request(sampleWav)], context);
    expect(replies).toHaveLength(1);
    const segments = calls.map((c) => parseLine(c.result));
    expect(calls.every((c) => c.index === 0)).toBe(true);
    expectSegmentsMatchUtterances(segments);
    expect(segments[0]!.end).toBeLessThanOrEqual(segments[1]!.start!);
    const summary = parseLine(replies[0]);
    expect(summary).toEqual({
      segments: 2,
      duration: 3,
      speech: expect.closeTo(segments.reduce((a, s) => a + s.end! - s.start!, 0), 3) as unknown as number,
      sampleRate: 16000,
      channels: 1,
    });
    expect(runs()).toBe(Math.ceil(48000 / 512));
    expect(contentTypes).toEqual([['application/x-ndjson', 0]]);
  });

  it('the first segment is sent before the second utterance is processed', async () => {
    const { context, calls, runs } = fakeContext(session);
    let runsAtFirstChunk = -1;
    const send = context.sendIntermediate;
    context.sendIntermediate = async (result: unknown, index?: number) => {
      if (runsAtFirstChunk < 0) runsAtFirstChunk = runs();
      return send(result, index);
    };
    await handlerModule.handle([request(sampleWav)], context);
    expect(calls).toHaveLength(2);
    expect(runsAtFirstChunk * 0.032).toBeLessThan(UTTERANCES[1]!.start);
  });

  it('finds the same segments in 8 kHz stereo float and 44.1 kHz 16-bit versions (resampled)', async () => {
    const x = decodeWav(sampleWav).samples;
    const x8 = resample(x, 16000, 8000);
    const stereo8 = encodeWav([x8, x8.map((v) => v * 0.5)], 8000, { encoding: 'float32' });
    const mono44 = encodeWav(resample(x, 16000, 44100), 44100);
    // Band-limited to 4 kHz, the synthetic voice loses its upper formants and fricatives:
    // silero is less sure (≈ 0.6-0.9 instead of ≈ 0.96) but still above the threshold.
    for (const [wav, rate, channels, minConfidence] of [
      [stereo8, 8000, 2, 0.55],
      [mono44, 44100, 1, 0.8],
    ] as const) {
      const { context, calls } = fakeContext(session);
      const [final] = await handlerModule.handle([request(wav)], context);
      const segments = calls.map((c) => parseLine(c.result));
      expectSegmentsMatchUtterances(segments, minConfidence);
      expect(parseLine(final)).toMatchObject({ segments: 2, sampleRate: rate, channels });
    }
  });

  it('applies the handler section of model-config.yaml', async () => {
    // A threshold above anything silero gives: no segments at all.
    const { context, calls } = fakeContext(session, { handler: { positiveSpeechThreshold: 0.9999, negativeSpeechThreshold: 0.5 } });
    const [final] = await handlerModule.handle([request(sampleWav)], context);
    expect(calls).toHaveLength(0);
    expect(parseLine(final)).toMatchObject({ segments: 0, speech: 0 });
    // A redemption longer than the gap merges the two utterances.
    const merged = fakeContext(session, { handler: { redemptionMs: 1500, frameSamples: 1024 } });
    await handlerModule.handle([request(sampleWav)], merged.context);
    expect(merged.calls).toHaveLength(1);
    await expect(handlerModule.initialize(fakeContext(session, { handler: { frameSamples: 100 } }).context)).rejects.toThrow(
      /handler\.frameSamples must be one of 512, 1024, 1536/,
    );
  });

  it('stops generating once sendIntermediate resolves false (client gone)', async () => {
    const { context, calls, runs } = fakeContext(session, { stopAfter: 1 });
    const [final] = await handlerModule.handle([request(sampleWav)], context);
    expect(calls).toHaveLength(1);
    expect(parseLine(final)).toMatchObject({ cancelled: true, segments: 1 });
    expect(runs()).toBeLessThan(Math.ceil(48000 / 512));
    expect(runs() * 0.032).toBeLessThan(UTTERANCES[1]!.start + 0.2);
  });

  it('stops at the next frame once isCancelled() turns true', async () => {
    const { context, calls, runs } = fakeContext(session, { cancelledAfterRuns: 10 });
    const [final] = await handlerModule.handle([request(sampleWav)], context);
    expect(runs()).toBe(10);
    expect(calls).toHaveLength(0);
    expect(parseLine(final)).toMatchObject({ cancelled: true, segments: 0 });
  });

  it('replies 400 BadRequestException to a body that is not WAV', async () => {
    const { context, calls } = fakeContext(session);
    const json = new TextEncoder().encode('{"audio": "nope"}');
    await expect(handlerModule.handle([request(json)], context)).rejects.toMatchObject({
      status: 400,
      type: 'BadRequestException',
      message: expect.stringMatching(/^Expected a WAV file .*; got JSON text$/) as unknown as string,
    });
    expect(calls).toHaveLength(0);
  });

  it('in a batch, fails only the bad request with 400', async () => {
    const { context, calls, statuses } = fakeContext(session);
    const replies = await handlerModule.handle([request(sampleWav), request(new Uint8Array(0))], context);
    expect(replies).toHaveLength(2);
    expect(parseLine(replies[0])).toMatchObject({ segments: 2 });
    expect(parseLine(replies[1])).toEqual({
      code: 400,
      type: 'BadRequestException',
      message: expect.stringMatching(/got an empty body$/) as unknown as string,
    });
    expect(statuses).toEqual([[400, 'Bad Request', 1]]);
    expect(calls.every((c) => c.index === 0)).toBe(true);
  });

  it('explains a WAV body that the server form-decoded (curl --data-binary without Content-Type)', async () => {
    const { context } = fakeContext(session);
    // What the server's urlencoded decoding makes of it: fields named after the binary text.
    const parts = [...new URLSearchParams(Buffer.from(sampleWav).toString('utf8'))].map(([name, value]) => ({
      name,
      data: new Uint8Array(Buffer.from(value, 'utf8')),
    }));
    expect(parts[0]!.name.startsWith('RIFF')).toBe(true);
    await expect(handlerModule.handle([{ data: {}, parts, headers: {} }], context)).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/form-decoded .*-H 'Content-Type: audio\/wav'.*-T file\.wav.*-F data=@file\.wav/) as unknown as string,
    });
  });

  it('reads a multipart field named data', async () => {
    const { context, calls } = fakeContext(session);
    const req = { data: { data: sampleWav }, parts: [{ name: 'data', contentType: 'audio/wav', data: sampleWav }], headers: {} };
    await handlerModule.handle([req], context);
    expect(calls).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------
// The archive

describe('model_store/silero_vad.mar', () => {
  let tmp: string;
  let dir: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'silero-mar-'));
    dir = path.join(tmp, 'model');
    await extractZip(marPath, dir); // as the server does: a fresh folder outside the repository
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('is up to date with the example sources and the model (rerun scripts/build-silero-example.ts if not)', async () => {
    for (const [name, bytes] of await archiveEntries()) {
      const inArchive = await readFile(path.join(dir, name));
      expect(inArchive.equals(bytes), name).toBe(true);
    }
  });

  it('has a torch-model-archiver 0.12.0 manifest naming handler.mjs and the config file', async () => {
    const text = await readFile(path.join(dir, 'MAR-INF', 'MANIFEST.json'), 'utf8');
    expect(text).toBe(manifestJson());
    expect(JSON.parse(text)).toEqual({
      createdOn: '01/01/2025 00:00:00',
      runtime: 'python',
      model: {
        modelName: 'silero_vad',
        serializedFile: 'silero_vad.onnx',
        handler: 'handler.mjs',
        modelVersion: '1.0',
        configFile: 'model-config.yaml',
      },
      archiverVersion: '0.12.0',
    });
    expect(parseManifest(text)).toMatchObject({ model: { handler: 'handler.mjs', serializedFile: 'silero_vad.onnx' } });
    const parsed = parseModelConfig(await readFile(path.join(dir, 'model-config.yaml'), 'utf8'));
    expect(parsed.warnings).toEqual([]);
    expect(parsed.config).toMatchObject({ minWorkers: 1, maxWorkers: 1, responseTimeout: 60 });
    expect(resolveOptions(parsed.config!.extra['handler'])).toEqual(DEFAULT_OPTIONS);
  });

  it('its handler.mjs runs from the extracted folder (outside the repository) with context.ort', async () => {
    const mod = (await import(pathToFileURL(path.join(dir, 'handler.mjs')).href)) as typeof handlerModule;
    const session = await ort.InferenceSession.create(path.join(dir, 'silero_vad.onnx'));
    try {
      const parsed = parseModelConfig(await readFile(path.join(dir, 'model-config.yaml'), 'utf8'));
      const { context, calls } = fakeContext(session, { handler: parsed.config!.extra['handler'] as Record<string, unknown> });
      await mod.initialize(context);
      const [final] = await mod.handle([request(await readFile(SAMPLE_PATH))], context);
      expect(calls).toHaveLength(2);
      expect(parseLine(final)).toMatchObject({ segments: 2, duration: 3 });

    } finally {
      await session.release();
    }
  });

  it('its handler.mjs loads in plain Node from there, and without context.ort says why it cannot run', async () => {
    // A child process: vitest's own resolver would find the repository's node_modules anyway.
    const script = [
      `const m = await import(${JSON.stringify(pathToFileURL(path.join(dir, 'handler.mjs')).href)});`,
      'console.log(Object.keys(m).sort().join(","));',
      'await m.handle([], { modelYamlConfig: {} }).then(() => console.log("resolved"), (e) => console.log(e.message));',
    ].join('\n');
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: tmp });
    const [exportsLine, message] = stdout.trim().split('\n');
    expect(exportsLine).toBe('handle,initialize');
    expect(message).toMatch(/^silero_vad handler: the server provides no context\.ort and onnxruntime-node cannot be imported from the archive folder/);
  });
});
