/**
 * object_detector over the colour detector (test/fixtures/vision-models.ts): one detection per
 * colour channel, box = bounding box of the pixels above 0.5, score = the channel's maximum.
 * Box scaling is checked exactly against the model's own output on the preprocessed tensor
 * (tolerance 1e-9), and loosely (±1 model pixel) against the drawn rectangle.
 */
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { objectDetector } from '../../src/handlers/builtin/object-detector.js';
import { colorDetector, DETECTOR_INDEX_TO_NAME } from '../fixtures/vision-models.js';
import { encode, type FakeContext, fakeContext, handleWith, imageRequest, preparedOf, type Rgb, rgbPixels, solidPng } from './helpers.js';

let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

async function ctxFor(opts: { yaml?: Record<string, unknown>; labels?: boolean; model?: Uint8Array } = {}): Promise<FakeContext> {
  const ctx = await fakeContext(opts.model ?? colorDetector(), {
    ...(opts.yaml ? { yaml: opts.yaml } : {}),
    files: opts.labels === false ? {} : { 'index_to_name.json': JSON.stringify(DETECTOR_INDEX_TO_NAME) },
  });
  contexts.push(ctx);
  return ctx;
}

type Detection = Record<string, number[] | number>;
const RED: Rgb = [255, 0, 0];
const BLACK: Rgb = [0, 0, 0];

/** 128×128 black with a red rectangle x ∈ [16, 80), y ∈ [24, 88). */
const redRectangle = () => encode(rgbPixels(128, 128, (x, y) => (x >= 16 && x < 80 && y >= 24 && y < 88 ? RED : BLACK)), 128, 128);

describe('object_detector', () => {
  it('boxes are scaled back to the original image size (TorchServe reply shape)', async () => {
    const ctx = await ctxFor();
    const png = await redRectangle();
    const [reply] = await handleWith(objectDetector, ctx, [imageRequest(png)]);
    const detections = reply as Detection[];
    expect(detections).toHaveLength(1);
    const d = detections[0]!;
    expect(Object.keys(d)).toEqual(['red', 'score']);
    expect(d['score']).toBeCloseTo(1, 6);

    // Exact: the model's own box on the preprocessed tensor, times 128/64.
    const pre = preparedOf(await objectDetector.preprocess!([imageRequest(png)], ctx));
    expect([pre.height, pre.width]).toEqual([64, 64]);
    const out = await ctx.session.run({ image: new ort.Tensor('float32', pre.data, [1, 3, 64, 64]) });
    const modelBox = Array.from((out['boxes']!.data as Float32Array).subarray(0, 4));
    const box = d['red'] as number[];
    box.forEach((v, i) => expect(Math.abs(v - modelBox[i]! * 2)).toBeLessThan(1e-9));
    // Loose: the drawn rectangle, ±1 model pixel (2 image pixels) for the resampling blur.
    [16, 24, 80, 88].forEach((v, i) => expect(Math.abs(box[i]! - v)).toBeLessThanOrEqual(2));
  });

  it('threshold: default 0.5, inclusive, and from the yaml', async () => {
    // raw (0.8, 0.6, 0.098) everywhere ⇒ red 0.8, green 0.6, blue 0.098, boxes = whole image.
    const png = await solidPng(100, 50, [204, 153, 25]);
    const whole = [0, 0, 100, 50];
    const byDefault = (await handleWith(objectDetector, await ctxFor(), [imageRequest(png)]))[0] as Detection[];
    expect(byDefault.map((d) => Object.keys(d)[0])).toEqual(['red', 'green']);
    expect(byDefault[0]!['red']).toEqual(whole);
    expect(byDefault[1]!['green']).toEqual(whole);
    expect(byDefault[0]!['score']).toBeCloseTo(0.8, 6);
    expect(byDefault[1]!['score']).toBeCloseTo(0.6, 6);

    const strict = (await handleWith(objectDetector, await ctxFor({ yaml: { handler: { threshold: 0.7 } } }), [imageRequest(png)]))[0] as Detection[];
    expect(strict.map((d) => Object.keys(d)[0])).toEqual(['red']);
    const inclusive = await handleWith(objectDetector, await ctxFor({ yaml: { handler: { threshold: Math.fround(0.6) } } }), [imageRequest(png)]);
    expect((inclusive[0] as Detection[]).map((d) => Object.keys(d)[0])).toEqual(['red', 'green']);
    const none = await handleWith(objectDetector, await ctxFor({ yaml: { handler: { threshold: 0.9 } } }), [imageRequest(png)]);
    expect(none).toEqual([[]]);
  });

  it('without index_to_name.json the label is the class index as a string', async () => {
    const [reply] = await handleWith(objectDetector, await ctxFor({ labels: false }), [imageRequest(await solidPng(10, 10, [0, 0, 255]))]);
    expect(reply).toEqual([{ '3': [0, 0, 10, 10], score: 1 }]);
  });

  it('N images ⇒ one run; a single-image model ([3,H,W] in, [K,4]/[K]/[K] out) runs one per call', async () => {
    const batch = await Promise.all([
      solidPng(64, 64, [255, 0, 0]).then((b) => imageRequest(b)),
      redRectangle().then((b) => imageRequest(b, 'body')),
      solidPng(32, 96, [0, 255, 0]).then((b) => imageRequest(b)),
    ]);
    const batched = await ctxFor();
    const r1 = await handleWith(objectDetector, batched, batch);
    expect(batched.runs).toEqual([[3, 3, 64, 64]]);
    const single = await ctxFor({ model: colorDetector({ batch: 'none' }) });
    const r2 = await handleWith(objectDetector, single, batch);
    expect(single.runs).toEqual([
      [3, 64, 64],
      [3, 64, 64],
      [3, 64, 64],
    ]);
    expect(r2).toEqual(r1);
    expect(r1[0]).toEqual([{ red: [0, 0, 64, 64], score: 1 }]);
    expect(r1[2]).toEqual([{ green: [0, 0, 32, 96], score: 1 }]);
  });

  it('a model with dynamic H/W sees each image at its own size (no scaling); images of one size share a run', async () => {
    const ctx = await ctxFor({ model: colorDetector({ size: 'dynamic' }) });
    const rect = (w: number, h: number) => encode(rgbPixels(w, h, (x, y) => (x >= 5 && x < 12 && y >= 3 && y < 9 ? RED : BLACK)), w, h);
    const replies = await handleWith(objectDetector, ctx, [imageRequest(await rect(20, 10)), imageRequest(await rect(30, 30)), imageRequest(await rect(20, 10))]);
    expect(ctx.runs).toEqual([
      [2, 3, 10, 20],
      [1, 3, 30, 30],
    ]);
    for (const r of replies) expect(r).toEqual([{ red: [5, 3, 12, 9], score: 1 }]);
  });

  it('mean/std from the yaml reach the model', async () => {
    const mean = [0.5, 0.5, 0.5];
    const std = [0.5, 0.5, 0.5];
    const ctx = await ctxFor({ yaml: { handler: { mean, std } }, model: colorDetector({ mean, std }) });
    const [reply] = await handleWith(objectDetector, ctx, [imageRequest(await solidPng(8, 8, [0, 255, 0]))]);
    expect(reply).toEqual([{ green: [0, 0, 8, 8], score: 1 }]);
  });
});
