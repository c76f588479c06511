/**
 * image_segmenter over the colour segmenter (test/fixtures/vision-models.ts): logits
 * 10·[0.25, r, g, b] per pixel, so the class map is known from the image. Probabilities are
 * compared to 1e-5 (float32 model, float64 reference).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { imageSegmenter } from '../../src/handlers/builtin/image-segmenter.js';
import { colorSegmenter, segmentPixel } from '../fixtures/vision-models.js';
import { encode, type FakeContext, fakeContext, handleWith, imageRequest, type Rgb, rgbPixels, solidPng } from './helpers.js';

let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

async function ctxFor(yaml: Record<string, unknown> = {}, model = colorSegmenter({ size: 'dynamic' })): Promise<FakeContext> {
  const ctx = await fakeContext(model, { yaml });
  contexts.push(ctx);
  return ctx;
}

const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const BLACK: Rgb = [0, 0, 0];
/** 16×16: left half red, right half blue, bottom-left 4×4 black. */
const quadrantsColor = (x: number, y: number): Rgb => (x < 4 && y >= 12 ? BLACK : x < 8 ? RED : BLUE);
const quadrants = () => encode(rgbPixels(16, 16, quadrantsColor), 16, 16);
const SAME_SIZE = { handler: { resize: 16, crop: 16 } };

describe('image_segmenter', () => {
  it('default reply (TorchServe shape): [H][W][2] of [class, probability]', async () => {
    const ctx = await ctxFor(SAME_SIZE);
    const [reply] = await handleWith(imageSegmenter, ctx, [imageRequest(await quadrants())]);
    const map = reply as number[][][];
    expect(map).toHaveLength(16);
    expect(map.every((row) => row.length === 16 && row.every((px) => px.length === 2))).toBe(true);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const [cls, p] = segmentPixel(quadrantsColor(x, y).map((v) => v / 255));
        expect(map[y]![x]![0]).toBe(cls);
        expect(map[y]![x]![1]).toBeCloseTo(p, 5);
      }
    }
    expect(map[0]![0]![0]).toBe(1); // red
    expect(map[0]![15]![0]).toBe(2 + 1); // blue
    expect(map[15]![0]![0]).toBe(0); // background
  });

  it('output: class_map gives [H][W] class indices', async () => {
    const ctx = await ctxFor({ handler: { ...SAME_SIZE.handler, output: 'class_map' } });
    const [reply] = await handleWith(imageSegmenter, ctx, [imageRequest(await quadrants())]);
    const expected = Array.from({ length: 16 }, (_, y) => Array.from({ length: 16 }, (_, x) => segmentPixel(quadrantsColor(x, y).map((v) => v / 255))[0]));
    expect(reply).toEqual(expected);
  });

  it('a fixed 64x64 model: Resize(73) + CenterCrop(64), one run for a batch, map at the output size', async () => {
    const ctx = await ctxFor({ handler: { output: 'class_map' } }, colorSegmenter({ size: 64 }));
    const replies = await handleWith(imageSegmenter, ctx, [imageRequest(await solidPng(100, 80, [0, 200, 0])), imageRequest(await solidPng(30, 30, [10, 10, 10]))]);
    expect(ctx.runs).toEqual([[2, 3, 64, 64]]);
    const [green, dark] = replies as number[][][];
    expect(green).toHaveLength(64);
    expect(green!.every((row) => row.length === 64 && row.every((c) => c === 2))).toBe(true);
    expect(dark!.every((row) => row.every((c) => c === 0))).toBe(true);
  });

  it('a single-image model ([3,H,W] → [C,H,W]) runs one image per call', async () => {
    const ctx = await ctxFor({ handler: { output: 'class_map', resize: 8, crop: 8 } }, colorSegmenter({ size: 8, batch: 'none' }));
    const replies = await handleWith(imageSegmenter, ctx, [imageRequest(await solidPng(8, 8, RED)), imageRequest(await solidPng(8, 8, BLUE))]);
    expect(ctx.runs).toEqual([
      [3, 8, 8],
      [3, 8, 8],
    ]);
    expect((replies[0] as number[][])[4]![4]).toBe(1);
    expect((replies[1] as number[][])[4]![4]).toBe(3);
  });

  it('refuses an unknown output setting at initialize', async () => {
    const ctx = await ctxFor({ handler: { output: 'masks' } });
    await expect(imageSegmenter.initialize!(ctx)).rejects.toThrow(/handler\.output must be one of class_probability, class_map/);
  });
});
