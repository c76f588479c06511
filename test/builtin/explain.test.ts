/**
 * image_classifier explanations (occlusion sensitivity) over the colour classifier: a black image
 * with one red square is classified "red" because of the square, so occluding the square must
 * lower the red probability the most — the attribution map peaks there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { imageClassifier } from '../../src/handlers/builtin/image-classifier.js';
import { windowStarts } from '../../src/handlers/builtin/occlusion.js';
import { COLOR_CLASSES, colorClassifier } from '../fixtures/vision-models.js';
import { encode, type FakeContext, fakeContext, handleWith, imageRequest, type Rgb, rgbPixels } from './helpers.js';

let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

const INDEX_TO_NAME = JSON.stringify(Object.fromEntries(COLOR_CLASSES.map((c, i) => [String(i), c])));
/** Images are 224×224 and the yaml keeps them so: attribution pixels = image pixels. */
const ONE_TO_ONE = { resize: 224, crop: 224 };

async function ctxFor(handler: Record<string, unknown> = {}): Promise<FakeContext> {
  const ctx = await fakeContext(colorClassifier(), { yaml: { handler: { ...ONE_TO_ONE, ...handler } }, files: { 'index_to_name.json': INDEX_TO_NAME } });
  contexts.push(ctx);
  await imageClassifier.initialize!(ctx);
  return ctx;
}

const SQUARE = { x0: 112, x1: 208, y0: 16, y1: 112 };
const inSquare = (x: number, y: number) => x >= SQUARE.x0 && x < SQUARE.x1 && y >= SQUARE.y0 && y < SQUARE.y1;
const squareImage = () => encode(rgbPixels(224, 224, (x, y): Rgb => (inSquare(x, y) ? [255, 0, 0] : [0, 0, 0])), 224, 224);

async function explain(ctx: FakeContext, requests: Parameters<NonNullable<typeof imageClassifier.explain>>[2]) {
  const pre = await imageClassifier.preprocess!(requests, ctx);
  return imageClassifier.explain!(pre, ctx, requests);
}

function stats(map: number[][]) {
  let inside = 0;
  let outside = 0;
  let nIn = 0;
  let best = { v: -Infinity, x: -1, y: -1 };
  map.forEach((row, y) =>
    row.forEach((v, x) => {
      if (inSquare(x, y)) {
        inside += v;
        nIn++;
      } else outside += v;
      if (v > best.v) best = { v, x, y };
    }),
  );
  return { inside: inside / nIn, outside: outside / (224 * 224 - nIn), best };
}

describe('occlusion windows', () => {
  it('cover the whole axis, the last one flush with the edge', () => {
    expect(windowStarts(224, 32, 16)).toEqual(Array.from({ length: 13 }, (_, i) => i * 16));
    expect(windowStarts(100, 32, 30)).toEqual([0, 30, 60, 68]);
    expect(windowStarts(20, 32, 16)).toEqual([0]);
  });
});

describe('image_classifier explain (occlusion sensitivity)', () => {
  it('replies [3][224][224] per image; the red square is where the attribution is', async () => {
    const ctx = await ctxFor();
    const [reply] = await explain(ctx, [imageRequest(await squareImage())]);
    const map = reply as number[][][];
    expect(map).toHaveLength(3);
    for (const channel of map) {
      expect(channel).toHaveLength(224);
      expect(channel.every((row) => row.length === 224 && row.every((v) => Number.isFinite(v)))).toBe(true);
    }
    expect(map[1]).toEqual(map[0]);
    expect(map[2]).toEqual(map[0]);
    const s = stats(map[0]!);
    expect(inSquare(s.best.x, s.best.y)).toBe(true);
    expect(s.inside).toBeGreaterThan(0);
    expect(s.inside).toBeGreaterThan(5 * Math.abs(s.outside));
    // 1 run for the base probabilities + ceil(169 windows / 32) runs of occluded variants.
    expect(ctx.runs).toHaveLength(1 + 6);
    expect(Math.max(...ctx.runs.map((d) => d[0]!))).toBe(32);
  });

  it('handle() with the explain header routes to explain; `target` picks the class', async () => {
    const ctx = await ctxFor({ occlusion_window: 56, occlusion_stride: 56, occlusion_batch_size: 100 });
    const png = await squareImage();
    const request = { ...imageRequest(png, 'data', 'image/png', { target: 'blue' }), headers: { explain: 'True' } };
    const [blueMap] = (await handleWith(imageClassifier, ctx, [request])) as number[][][][];
    // 16 windows in one run (+ the base run).
    expect(ctx.runs).toEqual([
      [1, 3, 224, 224],
      [16, 3, 224, 224],
    ]);
    // Hiding the red square raises "blue" (the other classes gain what red loses): negative there.
    expect(stats(blueMap![0]!).inside).toBeLessThan(0);
    const [redMap] = (await handleWith(imageClassifier, ctx, [{ ...request, data: { ...request.data, target: 0 } }])) as number[][][][];
    expect(stats(redMap![0]!).inside).toBeGreaterThan(0);
  });

  it('a bad target is a 400', async () => {
    const ctx = await ctxFor({ occlusion_window: 112, occlusion_stride: 112 });
    await expect(explain(ctx, [imageRequest(await squareImage(), 'data', 'image/png', { target: 'purple' })])).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('"target" must be a class index between 0 and 3'),
    });
  });
});
