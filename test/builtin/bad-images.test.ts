/**
 * Bad image bytes never crash a worker: a request alone fails with a 400 BadRequestException
 * naming the input; in a batch, only the bad requests fail (status 400 + error envelope) and the
 * good images still run, together, in one ONNX call.
 */
import { crc32, deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerModule } from '../../src/handlers/api.js';
import { imageClassifier } from '../../src/handlers/builtin/image-classifier.js';
import { imageSegmenter } from '../../src/handlers/builtin/image-segmenter.js';
import { objectDetector } from '../../src/handlers/builtin/object-detector.js';
import { colorClassifier, colorDetector, colorSegmenter } from '../fixtures/vision-models.js';
import { encode, expectBadRequest, type FakeContext, fakeContext, handleWith, imageRequest, rgbPixels, solidPng } from './helpers.js';
import { ServeError } from '../../src/errors.js';

let contexts: FakeContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  contexts = [];
});

async function ctxFor(model: Uint8Array, yaml: Record<string, unknown> = {}): Promise<FakeContext> {
  const ctx = await fakeContext(model, { yaml });
  contexts.push(ctx);
  return ctx;
}

const NOT_DECODABLE = 'Input "data" is not a decodable image (expected JPEG, PNG or WebP)';

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), data])));
  return Buffer.concat([len, Buffer.from(type), data, crc]);
}

/** A small PNG file claiming `width`×`height` (valid header, one row of pixel data). */
function hugePng(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('bad images ⇒ 400', () => {
  const handlers: Array<[string, HandlerModule, () => Uint8Array]> = [
    ['image_classifier', imageClassifier, () => colorClassifier()],
    ['object_detector', objectDetector, () => colorDetector()],
    ['image_segmenter', imageSegmenter, () => colorSegmenter()],
  ];

  for (const [name, module, model] of handlers) {
    it(`${name}: empty, not an image, SVG, truncated PNG/JPEG, corrupt JPEG`, async () => {
      const ctx = await ctxFor(model());
      const png = await encode(rgbPixels(64, 64, (x, y) => [x * 4, y * 4, 100]), 64, 64);
      const jpeg = await encode(rgbPixels(64, 64, (x, y) => [x * 4, y * 4, 100]), 64, 64, 'jpeg');
      const corrupt = Uint8Array.from(jpeg);
      corrupt.fill(0xff, 200, corrupt.length - 2);
      const cases: Array<[Uint8Array, string | RegExp]> = [
        [new Uint8Array(), 'Input "data" is empty (expected a JPEG, PNG or WebP image)'],
        [enc('{"not": "an image"}'), NOT_DECODABLE],
        [enc('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), NOT_DECODABLE],
        [enc('GIF89a\x01\x00\x01\x00'), NOT_DECODABLE],
        [png.subarray(0, png.length / 2), NOT_DECODABLE],
        [jpeg.subarray(0, jpeg.length / 2), NOT_DECODABLE],
        [png.subarray(0, 20), NOT_DECODABLE],
        [corrupt, NOT_DECODABLE],
      ];
      for (const [bytes, message] of cases) {
        await expectBadRequest(handleWith(module, ctx, [imageRequest(bytes, 'data', 'application/octet-stream')]), message);
      }
      expect(ctx.runs).toEqual([]);
    });
  }

  it('too many pixels: refused from the header (default 50 MP), or by handler.max_image_pixels', async () => {
    const ctx = await ctxFor(colorClassifier());
    await expectBadRequest(handleWith(imageClassifier, ctx, [imageRequest(hugePng(30000, 30000))]), /Input "data" is too large: 30000x30000 = 900000000 pixels, more than the limit of 50000000/);
    const small = await ctxFor(colorClassifier(), { handler: { max_image_pixels: 100 } });
    await expectBadRequest(handleWith(imageClassifier, small, [imageRequest(await solidPng(20, 20, [1, 2, 3]))]), 'handler.max_image_pixels');
    await handleWith(imageClassifier, small, [imageRequest(await solidPng(10, 10, [1, 2, 3]))]);
  });

  it('takes the "data" part, else "body", else the first part that is an image', async () => {
    const ctx = await ctxFor(colorClassifier());
    const red = await solidPng(8, 8, [255, 0, 0]);
    const target = enc('1');
    const replies = await handleWith(imageClassifier, ctx, [
      { data: { target, file: red }, parts: [{ name: 'target', data: target }, { name: 'file', contentType: 'image/png', data: red }], headers: {} },
    ]);
    expect(Object.keys(replies[0] as object)[0]).toBe('0');
  });

  it('a request without any part, or with a JSON object, is a 400 too', async () => {
    const ctx = await ctxFor(colorClassifier());
    await expectBadRequest(handleWith(imageClassifier, ctx, [{ data: {}, parts: [], headers: {} }]), 'The request has no image');
    await expectBadRequest(
      handleWith(imageClassifier, ctx, [{ data: { body: { instances: [] } }, parts: [{ name: 'body', contentType: 'application/json', data: enc('{"instances": []}') }], headers: {} }]),
      'Input "body" is not a decodable image',
    );
    await expectBadRequest(
      handleWith(imageClassifier, ctx, [{ data: { body: [[1, 2], [3, 4]] }, parts: [{ name: 'body', contentType: 'application/json', data: enc('[[1,2],[3,4]]') }], headers: {} }]),
      'must be a [3][H][W] array of numbers',
    );
  });

  it('in a batch, only the bad requests fail (their slot holds the 400 error); the good ones run together', async () => {
    const ctx = await ctxFor(colorClassifier());
    const good = await solidPng(32, 32, [255, 0, 0]);
    const replies = await handleWith(imageClassifier, ctx, [imageRequest(good), imageRequest(enc('garbage')), imageRequest(good), imageRequest(new Uint8Array())]);
    expect(ctx.runs).toEqual([[2, 3, 224, 224]]);
    expect(Object.keys(replies[0] as object)[0]).toBe('0');
    expect(replies[2]).toEqual(replies[0]);
    expect(replies[1]).toBeInstanceOf(ServeError);
    expect(replies[1]).toMatchObject({ status: 400, type: 'BadRequestException', message: NOT_DECODABLE });
    expect(replies[3]).toBeInstanceOf(ServeError);
    expect(replies[3]).toMatchObject({ status: 400, type: 'BadRequestException', message: expect.stringContaining('is empty') });
  });

  it('a batch where every image is bad makes no run and fails each request', async () => {
    const ctx = await ctxFor(colorDetector());
    const replies = await handleWith(objectDetector, ctx, [imageRequest(enc('a')), imageRequest(enc('b'))]);
    expect(ctx.runs).toEqual([]);
    expect(replies).toHaveLength(2);
    for (const r of replies) expect(r).toMatchObject({ status: 400, type: 'BadRequestException', message: NOT_DECODABLE });
  });
});
