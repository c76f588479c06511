/**
 * image_classifier end to end over a real ONNX Runtime session of the colour classifier, whose
 * probabilities are known in closed form (test/fixtures/vision-models.ts): top-k, labels,
 * TorchServe's reply shape, batching into one run, and yaml settings.
 * Probabilities are compared to 1e-5 (float32 model, float64 reference).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_HANDLERS } from '../../src/handlers/builtin/index.js';
import { imageClassifier } from '../../src/handlers/builtin/image-classifier.js';
import { validateHandlerModule } from '../../src/handlers/module-contract.js';
import { COLOR_CLASSES, colorClassifier, colorProbabilities } from '../fixtures/vision-models.js';
import { encode, type FakeContext, fakeContext, handleWith, imageRequest, type Rgb, rgbPixels, solidPng, steps } from './helpers.js';
import { BUILTIN_HANDLER_NAMES } from '../../src/handlers/builtin/names.js';

const INDEX_TO_NAME = JSON.stringify(Object.fromEntries(COLOR_CLASSES.map((c, i) => [String(i), c])));

let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

async function ctxFor(opts: { yaml?: Record<string, unknown>; labels?: boolean; model?: Uint8Array } = {}): Promise<FakeContext> {
  const ctx = await fakeContext(opts.model ?? colorClassifier(), {
    ...(opts.yaml ? { yaml: opts.yaml } : {}),
    files: opts.labels === false ? {} : { 'index_to_name.json': INDEX_TO_NAME },
  });
  contexts.push(ctx);
  return ctx;
}

/** Expected `{label: p}` top-k for a constant colour (raw means = rgb/255), best first. */
function expectedTop(rgb: Rgb, k = 5): Array<[string, number]> {
  const p = colorProbabilities(rgb.map((v) => v / 255));
  return COLOR_CLASSES.map((c, i): [string, number] => [c, p[i]!])
    .sort((a, b) => b[1] - a[1])
    .slice(0, k);
}

function expectReply(reply: unknown, expected: Array<[string, number]>): void {
  expect(typeof reply).toBe('object');
  const entries = Object.entries(reply as Record<string, number>);
  expect(entries.map(([k]) => k)).toEqual(expected.map(([k]) => k));
  entries.forEach(([, p], i) => expect(p).toBeCloseTo(expected[i]![1], 5));
}

describe('image_classifier', () => {
  it('is registered under TorchServe names and honours the module contract', () => {
    expect(Object.keys(BUILTIN_HANDLERS).sort()).toEqual(['image_classifier', 'image_segmenter', 'object_detector']);
    // The names the server checks without loading the handlers are exactly these.
    expect([...BUILTIN_HANDLER_NAMES].sort()).toEqual(Object.keys(BUILTIN_HANDLERS).sort());
    for (const mod of Object.values(BUILTIN_HANDLERS)) {
      const checked = validateHandlerModule(mod);
      // Steps only: the runtime composes them (and routes explanations to `explain`).
      expect(Object.keys(checked)).toEqual(expect.arrayContaining(['initialize', 'preprocess', 'inference', 'postprocess']));
      expect(checked.handle).toBeUndefined();
    }
    expect(BUILTIN_HANDLERS['image_classifier']!.explain).toBeTypeOf('function');
  });

  it('red ⇒ "red": softmax, labels, keys in descending probability', async () => {
    const ctx = await ctxFor();
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(64, 48, [255, 0, 0]))]);
    expectReply(reply, expectedTop([255, 0, 0]));
    expect(Object.keys(reply as object)[0]).toBe('red');
  });

  it('a mixed colour gives the closed-form probabilities (all 4 classes, top-k 5 > K)', async () => {
    const ctx = await ctxFor();
    const rgb: Rgb = [120, 160, 90];
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(30, 30, rgb))]);
    expect(Object.keys(reply as object)).toHaveLength(4);
    expectReply(reply, expectedTop(rgb));
  });

  it('N images ⇒ ONE run with N stacked, replies in request order', async () => {
    const ctx = await ctxFor();
    const colors: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 10, 255],
      [100, 100, 100],
    ];
    const batch = await Promise.all(colors.map(async (c, i) => imageRequest(await solidPng(40 + i * 10, 50, c))));
    const replies = await handleWith(imageClassifier, ctx, batch);
    expect(ctx.runs).toEqual([[4, 3, 224, 224]]);
    replies.forEach((r, i) => expectReply(r, expectedTop(colors[i]!)));
    expect(replies.map((r) => Object.keys(r as object)[0])).toEqual(['red', 'green', 'blue', 'gray']);
  });

  it('the steps (preprocess → inference → postprocess) give what handle gives', async () => {
    const ctx = await ctxFor();
    const batch = [imageRequest(await solidPng(20, 20, [10, 200, 30])), imageRequest(await solidPng(20, 20, [200, 10, 30]), 'body')];
    expect(await steps(imageClassifier, ctx, batch)).toEqual(await handleWith(imageClassifier, ctx, batch));
  });

  it('a model with a fixed batch of 1 runs the images one by one; a rank-3 model too', async () => {
    const batch = [imageRequest(await solidPng(20, 20, [0, 10, 255])), imageRequest(await solidPng(20, 20, [0, 255, 0]))];
    const fixed = await ctxFor({ model: colorClassifier({ batch: 1 }) });
    const r1 = await handleWith(imageClassifier, fixed, batch);
    expect(fixed.runs).toEqual([
      [1, 3, 224, 224],
      [1, 3, 224, 224],
    ]);
    const rank3 = await ctxFor({ model: colorClassifier({ batch: 'none' }) });
    const r2 = await handleWith(imageClassifier, rank3, batch);
    expect(rank3.runs).toEqual([
      [3, 224, 224],
      [3, 224, 224],
    ]);
    expect(r2).toEqual(r1);
    expectReply(r1[0], expectedTop([0, 10, 255]));
  });

  it('a fixed batch of 2: three images run as two calls, the last padded', async () => {
    const ctx = await ctxFor({ model: colorClassifier({ batch: 2 }) });
    const colors: Rgb[] = [
      [250, 20, 0],
      [0, 20, 250],
      [20, 250, 0],
    ];
    const replies = await handleWith(imageClassifier, ctx, await Promise.all(colors.map(async (c) => imageRequest(await solidPng(24, 24, c)))));
    expect(ctx.runs).toEqual([
      [2, 3, 224, 224],
      [2, 3, 224, 224],
    ]);
    replies.forEach((r, i) => expectReply(r, expectedTop(colors[i]!)));
  });

  it('logs yaml handler keys it does not know (typos)', async () => {
    const ctx = await ctxFor({ yaml: { handler: { top_k: 3, topk: 1 } } });
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(8, 8, [255, 0, 0]))]);
    expect(Object.keys(reply as object)).toEqual(['red']);
    expect(ctx.logs).toEqual([expect.stringMatching(/^warn image_classifier: model-config.yaml handler keys top_k are not used/)]);
  });

  it('yaml: topk 2; softmax false for a model that outputs probabilities', async () => {
    const ctx = await ctxFor({ yaml: { handler: { topk: 2, softmax: false } }, model: colorClassifier({ probabilities: true }) });
    const rgb: Rgb = [90, 30, 150];
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(16, 16, rgb))]);
    expectReply(reply, expectedTop(rgb, 2));
  });

  it('without index_to_name.json: class indexes as keys, still best first (JSON text)', async () => {
    const ctx = await ctxFor({ labels: false });
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(16, 16, [0, 10, 255]))]);
    expect(typeof reply).toBe('string');
    const text = reply as string;
    const keys = [...text.matchAll(/"(\d+)":/g)].map((m) => m[1]);
    expect(keys).toEqual(expectedTop([0, 10, 255]).map(([label]) => String(COLOR_CLASSES.indexOf(label as (typeof COLOR_CLASSES)[number]))));
    expect(ctx.contentTypes).toEqual([{ contentType: 'application/json', index: 0 }]);
    const parsed = JSON.parse(text) as Record<string, number>;
    expect(parsed['2']).toBeCloseTo(colorProbabilities([0, 10 / 255, 1])[2]!, 5);
    // The layout of JSON.stringify(value, null, 2), four entries.
    expect(text).toMatch(/^\{\n(  "\d": [-+.\de]+,\n){3}  "\d": [-+.\de]+\n\}$/);
  });

  it('ImageNet-style index_to_name.json ({"0": ["n01", "red"]}) uses the last entry', async () => {
    const ctx = await fakeContext(colorClassifier(), {
      files: { 'index_to_name.json': JSON.stringify(Object.fromEntries(COLOR_CLASSES.map((c, i) => [String(i), [`n0${i}`, c]]))) },
    });
    contexts.push(ctx);
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(await solidPng(16, 16, [0, 255, 0]))]);
    expect(Object.keys(reply as object)[0]).toBe('green');
  });

  it('a half red / half blue image: probabilities from the mean colour', async () => {
    // 448×448 → 256 → crop 224: the crop keeps the left/right halves equal, so raw means are
    // (0.5, 0, 0.5) up to the blurred seam (two 1-pixel columns), tolerance 1e-3.
    const png = await encode(rgbPixels(448, 448, (x) => (x < 224 ? [255, 0, 0] : [0, 0, 255])), 448, 448);
    const ctx = await ctxFor();
    const [reply] = await handleWith(imageClassifier, ctx, [imageRequest(png)]);
    const p = colorProbabilities([0.5, 0, 0.5]);
    const r = reply as Record<string, number>;
    expect(r['red']).toBeCloseTo(p[0]!, 3);
    expect(r['blue']).toBeCloseTo(p[2]!, 3);
  });

  it('refuses bad yaml settings at initialize, naming the key', async () => {
    const ctx = await ctxFor({ yaml: { handler: { topk: 0 } } });
    await expect(imageClassifier.initialize!(ctx)).rejects.toThrow(/handler\.topk must be an integer/);
    const ctx2 = await ctxFor({ yaml: { handler: { std: [1, 0, 1] } } });
    await expect(imageClassifier.initialize!(ctx2)).rejects.toThrow(/handler\.std must be a list of 3 positive numbers/);
  });
});
