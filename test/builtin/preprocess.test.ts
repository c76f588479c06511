/**
 * image_classifier preprocessing (Resize 256 → CenterCrop 224 → ToTensor → Normalize) compared
 * with computations that do not use the handler's code:
 * - constant and blocky images, whose resized values are known exactly away from edges
 *   (tolerance 1e-6: float32 rounding of the normalised value);
 * - sharp's own resize + extract of the same image with the crop box computed here by hand
 *   (tolerance 1e-6: same resampler, float32 rounding only);
 * - JPEG (quality 100, 4:4:4) of a constant colour: ±2/255 before normalisation.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { classifierGeometry, imageClassifier } from '../../src/handlers/builtin/image-classifier.js';
import { cropOrigin, resizedSize, roundHalfEven, sniffFormat } from '../../src/handlers/builtin/image.js';
import { colorClassifier, IMAGENET_MEAN, IMAGENET_STD } from '../fixtures/vision-models.js';
import { encode, type FakeContext, fakeContext, imageRequest, maxAbsDiff, normalized, preparedOf, type Rgb, rgbPixels, solidPng } from './helpers.js';

const TOL = 1e-6;
let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

async function classifierContext(yaml: Record<string, unknown> = {}, model = colorClassifier()): Promise<FakeContext> {
  const ctx = await fakeContext(model, { yaml });
  contexts.push(ctx);
  await imageClassifier.initialize!(ctx);
  return ctx;
}

async function preprocessOne(ctx: FakeContext, bytes: Uint8Array) {
  return preparedOf(await imageClassifier.preprocess!([imageRequest(bytes)], ctx));
}

/** tensor[c][y][x] of a CHW Float32Array. */
const at = (t: { data: Float32Array; height: number; width: number }, c: number, y: number, x: number): number => t.data[(c * t.height + y) * t.width + x]!;

describe('torchvision geometry', () => {
  it('rounds crop offsets half to even, as Python round()', () => {
    expect([0.5, 1.5, 2.5, 16.5, 58.5, 3, 4.2].map(roundHalfEven)).toEqual([0, 2, 2, 16, 58, 3, 4]);
    expect(cropOrigin({ width: 341, height: 256 }, { width: 224, height: 224 })).toEqual({ left: 58, top: 16 });
    expect(cropOrigin({ width: 100, height: 100 }, { width: 128, height: 128 })).toEqual({ left: -14, top: -14 });
  });

  it('resizes the shorter side, the longer one to int(size * long / short)', () => {
    expect(resizedSize({ width: 320, height: 240 }, { kind: 'short', size: 256 })).toEqual({ width: 341, height: 256 });
    expect(resizedSize({ width: 200, height: 300 }, { kind: 'short', size: 256 })).toEqual({ width: 256, height: 384 });
    expect(resizedSize({ width: 500, height: 500 }, { kind: 'exact', size: { width: 30, height: 20 } })).toEqual({ width: 30, height: 20 });
  });

  it('a fixed model size other than 224 scales the resize as 256/224 (299 → 342, 64 → 73)', () => {
    const log = { info() {}, warn() {}, error() {} };
    const geometry = (size: number) => classifierGeometry({}, { name: 'x', rank: 4, maxBatch: Infinity, size: { height: size, width: size } }, log, 'test');
    expect(geometry(299)).toEqual({ resize: { kind: 'short', size: 342 }, crop: { height: 299, width: 299 } });
    expect(geometry(64)).toEqual({ resize: { kind: 'short', size: 73 }, crop: { height: 64, width: 64 } });
    expect(geometry(224)).toEqual({ resize: { kind: 'short', size: 256 }, crop: { height: 224, width: 224 } });
    expect(classifierGeometry({ resize: [300, 200], crop: 128 }, { name: 'x', rank: 4, maxBatch: Infinity }, log, 'test')).toEqual({
      resize: { kind: 'exact', size: { height: 300, width: 200 } },
      crop: { height: 128, width: 128 },
    });
  });

  it('recognises JPEG, PNG and WebP by their magic bytes only', async () => {
    const px = rgbPixels(2, 2, () => [1, 2, 3]);
    expect(sniffFormat(await encode(px, 2, 2, 'png'))).toBe('png');
    expect(sniffFormat(await encode(px, 2, 2, 'jpeg'))).toBe('jpeg');
    expect(sniffFormat(await encode(px, 2, 2, 'webp'))).toBe('webp');
    expect(sniffFormat(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
  });
});

describe('image_classifier preprocessing', () => {
  it('a constant colour gives (v/255 - mean)/std everywhere, [3, 224, 224]', async () => {
    const ctx = await classifierContext();
    const color: Rgb = [200, 100, 50];
    const t = await preprocessOne(ctx, await solidPng(300, 200, color));
    expect([t.height, t.width]).toEqual([224, 224]);
    expect(t.data.length).toBe(3 * 224 * 224);
    expect(t.original).toEqual({ width: 300, height: 200 });
    for (let c = 0; c < 3; c++) {
      const expected = normalized(color[c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
      const plane = t.data.subarray(c * 224 * 224, (c + 1) * 224 * 224);
      expect(maxAbsDiff(plane, new Float64Array(plane.length).fill(expected))).toBeLessThan(TOL);
    }
  });

  it('resize + center crop geometry on a blocky image (2x2 quadrants, 448 → 256 → crop at 16)', async () => {
    const colors: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 0],
    ];
    const quadrant = (x: number, y: number) => (y < 224 ? 0 : 2) + (x < 224 ? 0 : 1);
    const png = await encode(rgbPixels(448, 448, (x, y) => colors[quadrant(x, y)]!), 448, 448);
    const ctx = await classifierContext();
    const t = await preprocessOne(ctx, png);
    // Resized 256×256, boundary at 128; crop offset 16 ⇒ boundary at 112 in the crop.
    let checked = 0;
    let worst = 0;
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        if (Math.abs(y - 111.5) < 3 || Math.abs(x - 111.5) < 3) continue;
        const q = (y < 112 ? 0 : 2) + (x < 112 ? 0 : 1);
        for (let c = 0; c < 3; c++) {
          const expected = normalized(colors[q]![c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
          worst = Math.max(worst, Math.abs(at(t, c, y, x) - expected));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200 * 200);
    expect(worst).toBeLessThan(TOL);
  });

  it('non-square: 600x300 with 100 px stripes → 512x256, crop left 144 (stripes at 26.7, 112, 197.3)', async () => {
    const stripes: Rgb[] = [
      [10, 20, 30],
      [250, 0, 0],
      [0, 250, 0],
      [0, 0, 250],
      [250, 250, 250],
      [90, 90, 90],
    ];
    const png = await encode(rgbPixels(600, 300, (x) => stripes[Math.floor(x / 100)]!), 600, 300);
    const ctx = await classifierContext();
    const t = await preprocessOne(ctx, png);
    const boundaries = [26.67, 112, 197.33];
    for (let x = 0; x < 224; x++) {
      if (boundaries.some((b) => Math.abs(x + 0.5 - b) < 3)) continue;
      // crop x → resized x + 144 → original (x + 144 + 0.5) · 600/512
      const stripe = Math.floor(((x + 144 + 0.5) * 600) / 512 / 100);
      for (const y of [0, 100, 223]) {
        for (let c = 0; c < 3; c++) {
          expect(Math.abs(at(t, c, y, x) - normalized(stripes[stripe]![c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!))).toBeLessThan(TOL);
        }
      }
    }
  });

  it('matches sharp resize (linear, 341x256) + extract(58, 16, 224, 224) of a noisy image', async () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256);
    const png = await encode(rgbPixels(320, 240, () => [rnd(), rnd(), rnd()]), 320, 240);
    const { data } = await sharp(Buffer.from(png))
      .resize({ width: 341, height: 256, fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
      .extract({ left: 58, top: 16, width: 224, height: 224 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const expected = new Float64Array(3 * 224 * 224);
    for (let i = 0; i < 224 * 224; i++) {
      for (let c = 0; c < 3; c++) expected[c * 224 * 224 + i] = normalized(data[i * 3 + c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
    }
    const ctx = await classifierContext();
    const t = await preprocessOne(ctx, png);
    expect(maxAbsDiff(t.data, expected)).toBeLessThan(TOL);
  });

  it('pads with black when the crop is larger than the resized image', async () => {
    const ctx = await classifierContext({ handler: { resize: 100, crop: 128 } }, colorClassifier({ size: 'dynamic' }));
    const t = await preprocessOne(ctx, await solidPng(50, 50, [255, 255, 255]));
    expect([t.height, t.width]).toEqual([128, 128]);
    for (let c = 0; c < 3; c++) {
      const black = normalized(0, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
      const white = normalized(255, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
      expect(at(t, c, 0, 0)).toBeCloseTo(black, 5);
      expect(at(t, c, 13, 64)).toBeCloseTo(black, 5);
      expect(at(t, c, 14, 14)).toBeCloseTo(white, 5);
      expect(at(t, c, 113, 113)).toBeCloseTo(white, 5);
      expect(at(t, c, 114, 64)).toBeCloseTo(black, 5);
    }
  });

  it('mean/std from the yaml; a fixed 64x64 model input gives a 64x64 crop', async () => {
    const mean = [0.5, 0.5, 0.5];
    const std = [0.25, 0.5, 1];
    const ctx = await classifierContext({ handler: { mean, std } }, colorClassifier({ size: 64, mean, std }));
    const t = await preprocessOne(ctx, await solidPng(100, 80, [51, 102, 204]));
    expect([t.height, t.width]).toEqual([64, 64]);
    [51, 102, 204].forEach((v, c) => expect(at(t, c, 10, 10)).toBeCloseTo(normalized(v, mean[c]!, std[c]!), 6));
  });

  it('drops alpha (RGBA), expands grayscale to RGB, decodes JPEG and WebP', async () => {
    const ctx = await classifierContext();
    const check = (t: Awaited<ReturnType<typeof preprocessOne>>, rgb: Rgb, tol: number) => {
      for (let c = 0; c < 3; c++) {
        const expected = normalized(rgb[c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!);
        expect(Math.abs(at(t, c, 100, 100) - expected), `channel ${c}`).toBeLessThanOrEqual(tol);
      }
    };
    const rgba = new Uint8Array(40 * 40 * 4);
    for (let i = 0; i < 40 * 40; i++) rgba.set([255, 0, 0, 0], i * 4);
    check(await preprocessOne(ctx, await encode(rgba, 40, 40, 'png', 4)), [255, 0, 0], TOL);
    check(await preprocessOne(ctx, await encode(new Uint8Array(40 * 40).fill(128), 40, 40, 'png', 1)), [128, 128, 128], TOL);
    check(await preprocessOne(ctx, await encode(rgbPixels(40, 40, () => [30, 160, 90]), 40, 40, 'webp')), [30, 160, 90], TOL);
    const jpegTol = 2 / 255 / Math.min(...IMAGENET_STD);
    check(await preprocessOne(ctx, await encode(rgbPixels(40, 40, () => [30, 160, 90]), 40, 40, 'jpeg')), [30, 160, 90], jpegTol);
  });

  it('accepts a base64 string (TorchServe) and a [3][H][W] nested list used as the tensor', async () => {
    const ctx = await classifierContext({}, colorClassifier({ size: 4 }));
    const png = await solidPng(8, 8, [0, 255, 0]);
    const b64 = Buffer.from(png).toString('base64');
    const fromB64 = preparedOf(await imageClassifier.preprocess!([{ data: { data: b64 }, parts: [{ name: 'data', contentType: 'text/plain', data: new TextEncoder().encode(b64) }], headers: {} }], ctx));
    expect(at(fromB64, 1, 0, 0)).toBeCloseTo(normalized(255, IMAGENET_MEAN[1]!, IMAGENET_STD[1]!), 5);
    const nested = [0, 1, 2].map((c) => Array.from({ length: 4 }, (_, y) => Array.from({ length: 4 }, (_, x) => c + y / 10 + x / 100)));
    const raw = preparedOf(await imageClassifier.preprocess!([{ data: { body: nested }, parts: [{ name: 'body', contentType: 'application/json', data: new Uint8Array() }], headers: {} }], ctx));
    expect(at(raw, 2, 3, 1)).toBeCloseTo(2.31, 5);
  });
});
