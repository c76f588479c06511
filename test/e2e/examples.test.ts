/**
 * The issue-3 path as a user walks it: `torch-model-archiver` (our compiled archiver) packs each
 * built-in handler's model and the silero VAD custom handler, the management API registers the
 * archives, and the inference API answers — image replies, an explanation, streamed segments.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiver, MAIN_JS } from '../archiver/helpers.js';
import { colorClassifier, colorDetector, colorSegmenter, COLOR_CLASSES, DETECTOR_INDEX_TO_NAME, SEGMENT_CLASSES } from '../fixtures/vision-models.js';
import { sileroPath } from '../fixtures/models.js';
import { indexToNameJson, onnxModel, train } from '../../scripts/build-example-model.js';
import { REPO_ROOT, http, makeSandbox, startForeground, streamed, type ForegroundServer, type Sandbox } from './harness.js';

let sb: Sandbox;
let server: ForegroundServer;
let api: string;
let redSquare: Buffer;

const SILERO_DIR = path.join(REPO_ROOT, 'examples', 'silero_vad');

async function pack(args: string[]): Promise<void> {
  const link = path.join(sb.dir, 'torch-model-archiver');
  if (!fs.existsSync(link)) fs.symlinkSync(MAIN_JS, link);
  const r = await archiver([...args, '--export-path', sb.store], { cwd: sb.dir, entry: link, compiled: true });
  if (r.code !== 0) throw new Error(`torch-model-archiver ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

async function register(name: string): Promise<void> {
  const res = await http(`${server.endpoints.management}/models?url=${name}.mar&initial_workers=1`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`register ${name}: ${res.status} ${res.text}`);
}

const post = (model: string, body: Uint8Array | string, route = 'predictions') =>
  http(`${api}/${route}/${model}`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body) });

beforeAll(async () => {
  sb = makeSandbox();
  const w = (name: string, data: Uint8Array | string) => fs.writeFileSync(path.join(sb.dir, name), data);
  w('classifier.onnx', colorClassifier());
  w('detector.onnx', colorDetector());
  w('segmenter.onnx', colorSegmenter());
  w('classes.json', JSON.stringify(Object.fromEntries(COLOR_CLASSES.map((c, i) => [String(i), c]))));
  w('detector_classes.json', JSON.stringify(DETECTOR_INDEX_TO_NAME));
  w('model-config.yaml', 'minWorkers: 1\nmaxWorkers: 1\n');
  fs.mkdirSync(path.join(sb.dir, 'cls'));
  fs.copyFileSync(path.join(sb.dir, 'classes.json'), path.join(sb.dir, 'cls', 'index_to_name.json'));
  fs.mkdirSync(path.join(sb.dir, 'det'));
  fs.copyFileSync(path.join(sb.dir, 'detector_classes.json'), path.join(sb.dir, 'det', 'index_to_name.json'));

  // 256×256 dark gray with a red square in the top-left quarter: after resize 256 / crop 224 the
  // square covers [0, 96) × [0, 96) of the model input.
  redSquare = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 30, g: 30, b: 30 } } })
    .composite([{ input: await sharp({ create: { width: 96, height: 96, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer(), left: 16, top: 16 }])
    .png()
    .toBuffer();

  const common = ['--version', '1.0', '--config-file', 'model-config.yaml'];
  await pack(['--model-name', 'colors', '--serialized-file', 'classifier.onnx', '--handler', 'image_classifier', '--extra-files', 'cls/index_to_name.json', ...common]);
  await pack(['--model-name', 'detect', '--serialized-file', 'detector.onnx', '--handler', 'object_detector', '--extra-files', 'det/index_to_name.json', ...common]);
  await pack(['--model-name', 'segment', '--serialized-file', 'segmenter.onnx', '--handler', 'image_segmenter', ...common]);
  fs.copyFileSync(sileroPath(), path.join(sb.dir, 'silero_vad.onnx'));
  await pack([
    '--model-name', 'vad', '--version', '1.0', '--serialized-file', 'silero_vad.onnx',
    '--handler', path.join(SILERO_DIR, 'handler.mjs'), '--extra-files', path.join(SILERO_DIR, 'vad-core.mjs'),
    '--config-file', path.join(SILERO_DIR, 'model-config.yaml'),
  ]);

  w('iris.onnx', onnxModel(train()));
  fs.mkdirSync(path.join(sb.dir, 'iris'));
  fs.writeFileSync(path.join(sb.dir, 'iris', 'index_to_name.json'), indexToNameJson());
  await pack([
    '--model-name', 'iris_top', '--version', '1.0', '--serialized-file', 'iris.onnx',
    '--handler', path.join(REPO_ROOT, 'examples', 'iris_top_class', 'handler.mjs'), '--extra-files', 'iris/index_to_name.json',
  ]);

  const cfg = sb.writeConfig({ model_store: sb.store, enable_model_api: true });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  api = server.endpoints.inference;
  for (const name of ['colors', 'detect', 'segment', 'vad', 'iris_top']) await register(name);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

describe('built-in image handlers, packed by the archiver', () => {
  it('image_classifier answers top-k labels in TorchServe\'s shape', async () => {
    const red = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 250, g: 10, b: 10 } } }).png().toBuffer();
    const res = await post('colors', red);
    expect(res.status).toBe(200);
    const reply = res.json as Record<string, number>;
    expect(Object.keys(reply)[0]).toBe('red');
    expect(Object.values(reply).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('image_classifier explains with an occlusion map of the input\'s size, highest on the decisive region', async () => {
    const res = await post('colors', redSquare, 'explanations');
    expect(res.status).toBe(200);
    const map = res.json as number[][][];
    expect([map.length, map[0]?.length, map[0]?.[0]?.length]).toEqual([3, 224, 224]);
    const channel = map[0] ?? [];
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const v = channel[y]?.[x] ?? 0;
        if (y < 96 && x < 96) inside += v / (96 * 96);
        else outside += v / (224 * 224 - 96 * 96);
      }
    }
    expect(inside).toBeGreaterThan(outside);
  });

  it('object_detector answers boxes with labels and scores', async () => {
    const res = await post('detect', redSquare);
    expect(res.status).toBe(200);
    const boxes = res.json as Array<Record<string, unknown>>;
    expect(Array.isArray(boxes)).toBe(true);
    expect(boxes.length).toBeGreaterThan(0);
    const first = boxes[0] ?? {};
    expect(typeof first.score).toBe('number');
    const label = Object.keys(first).find((k) => k !== 'score');
    expect(label).toBe('red');
    expect((first[label ?? ''] as number[]).length).toBe(4);
  });

  it('image_segmenter answers a per-pixel [class, probability] map', async () => {
    const res = await post('segment', redSquare);
    expect(res.status).toBe(200);
    const grid = res.json as Array<Array<[number, number]>>;
    const classes = new Set(grid.flat().map((p) => p[0]));
    expect(classes.has(SEGMENT_CLASSES.indexOf('red'))).toBe(true);
    expect(classes.size).toBeGreaterThan(1);
  });

  it('refuses bytes that are not an image with a 400, and keeps serving', async () => {
    const res = await post('colors', 'definitely not a png');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 400, type: 'BadRequestException' });
    expect((await post('colors', redSquare)).status).toBe(200);
  });
});

describe('silero VAD custom handler, packed by the archiver', () => {
  it('streams each speech segment as a chunk, then the summary', async () => {
    const wav = fs.readFileSync(path.join(SILERO_DIR, 'sample.wav'));
    const res = await streamed(`${api}/predictions/vad`, wav, 'audio/wav');
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const lines = res.chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(res.chunks.length).toBeGreaterThan(1);
    const segments = lines.filter((l) => 'start' in l);
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const s of segments) expect(s.end).toBeGreaterThan(s.start ?? 0);
    expect(lines.at(-1)).toMatchObject({ segments: segments.length });
  });

  it('refuses a body that is not a WAV file with a clear 400', async () => {
    const res = await http(`${api}/predictions/vad`, { method: 'POST', body: 'ID3 not a wav', headers: { 'content-type': 'audio/wav' } });
    expect(res.status).toBe(400);
    expect((res.json as { message: string }).message).toMatch(/Expected a WAV file/);
  });
});

describe('the README\'s custom handler (examples/iris_top_class)', () => {
  it('keeps the default decoding and replaces the reply', async () => {
    const res = await http(`${api}/predictions/iris_top`, { method: 'POST', body: '[6.7, 3.0, 5.2, 2.3]' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-top-class')).toBe('virginica');
    expect(res.json).toMatchObject({ label: 'virginica' });
    expect((res.json as { probability: number }).probability).toBeGreaterThan(0.9);
  });
});
