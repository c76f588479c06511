/**
 * Test plumbing for the built-in vision handlers: a real ONNX Runtime session inside a small fake
 * HandlerContext (counting `run` calls and recording per-request statuses), requests as the
 * runtime builds them, and images generated with sharp.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { expect } from 'vitest';
import { ServeError } from '../../src/errors.js';
import { isExplainRequest } from '../../src/handlers/compose.js';
import type { HandlerContext, HandlerModule, HandlerOutput, HandlerRequest } from '../../src/handlers/api.js';
import type { ModelSignature, TensorMeta } from '../../src/runtime/types.js';

export interface FakeContext extends HandlerContext {
  /** Dims of the image input of every `run` call, in order. */
  readonly runs: number[][];
  readonly statuses: Array<{ code: number; phrase?: string; index: number }>;
  readonly contentTypes: Array<{ contentType: string; index: number }>;
  readonly logs: string[];
  dispose(): Promise<void>;
}

function meta(m: ort.InferenceSession.ValueMetadata): TensorMeta {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

export interface FakeContextOptions {
  /** model-config.yaml as parsed (e.g. `{handler: {topk: 2}}`). */
  yaml?: Record<string, unknown>;
  /** Extra files in the model folder (e.g. index_to_name.json). */
  files?: Record<string, string>;
  handler?: string;
}

export async function fakeContext(model: Uint8Array, opts: FakeContextOptions = {}): Promise<FakeContext> {
  const modelDir = await mkdtemp(path.join(os.tmpdir(), 'onnxserve-builtin-'));
  const modelFile = path.join(modelDir, 'model.onnx');
  await writeFile(modelFile, model);
  for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(path.join(modelDir, name), text);
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 4 });
  const signature: ModelSignature = { inputs: session.inputMetadata.map(meta), outputs: session.outputMetadata.map(meta) };
  const runs: number[][] = [];
  const statuses: FakeContext['statuses'] = [];
  const contentTypes: FakeContext['contentTypes'] = [];
  const logs: string[] = [];
  const inputName = signature.inputs[0]?.name ?? '';
  return {
    modelName: 'm',
    modelVersion: '1.0',
    modelDir,
    modelFile,
    manifest: { runtime: 'python', model: { modelName: 'm', modelVersion: '1.0', serializedFile: 'model.onnx', ...(opts.handler ? { handler: opts.handler } : {}) } },
    modelYamlConfig: opts.yaml ?? {},
    session,
    ort,
    signature,
    runs,
    statuses,
    contentTypes,
    logs,
    run(feeds) {
      runs.push([...(feeds[inputName]?.dims ?? [])]);
      return session.run(feeds);
    },
    sendIntermediate: () => Promise.resolve(true),
    isCancelled: () => false,
    setResponseStatus(code, phrase, index = 0) {
      statuses.push({ code, ...(phrase === undefined ? {} : { phrase }), index });
    },
    setResponseContentType(contentType, index = 0) {
      contentTypes.push({ contentType, index });
    },
    setResponseHeader() {},
    log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) },
    async dispose() {
      await session.release();
      await rm(modelDir, { recursive: true, force: true });
    },
  };
}

/** A request whose `name` part (default `data`, as `curl -F data=@img.png`) holds `bytes`. */
export function imageRequest(bytes: Uint8Array, name = 'data', contentType = 'image/png', extra: Record<string, unknown> = {}): HandlerRequest {
  return {
    data: { [name]: bytes, ...extra },
    parts: [{ name, contentType, data: bytes }],
    headers: {},
  };
}

/** Runs a module as the runtime would: initialize once, then handle(batch). */
/** Runs a batch the way the runtime composes a steps module (explain requests go to `explain`). */
export async function handleWith(module: HandlerModule, context: HandlerContext, batch: HandlerRequest[]): Promise<HandlerOutput[]> {
  await module.initialize?.(context);
  if (module.handle) return module.handle(batch, context);
  const pre = await module.preprocess!(batch, context);
  if (module.explain && batch[0] && isExplainRequest(batch[0].headers)) return module.explain(pre, context, batch);
  return module.postprocess!(await module.inference!(pre, context), context);
}

/** The steps one by one (preprocess → inference → postprocess). */
export async function steps(module: HandlerModule, context: HandlerContext, batch: HandlerRequest[]): Promise<HandlerOutput[]> {
  await module.initialize?.(context);
  const pre = await module.preprocess!(batch, context);
  return module.postprocess!(await module.inference!(pre, context), context);
}

/** Expects `promise` to reject with a 400 BadRequestException whose message matches. */
export async function expectBadRequest(promise: Promise<unknown>, message: RegExp | string): Promise<ServeError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a 400 error').toBeInstanceOf(ServeError);
  const e = error as ServeError;
  expect(e.status).toBe(400);
  expect(e.type).toBe('BadRequestException');
  if (typeof message === 'string') expect(e.message).toContain(message);
  else expect(e.message).toMatch(message);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Images

export type Rgb = readonly [number, number, number];

/** Raw RGB pixels, `color(x, y)` per pixel. */
export function rgbPixels(width: number, height: number, color: (x: number, y: number) => Rgb): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) px.set(color(x, y), (y * width + x) * 3);
  }
  return px;
}

export async function encode(
  pixels: Uint8Array,
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp' = 'png',
  channels: 1 | 2 | 3 | 4 = 3,
): Promise<Uint8Array> {
  const img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  const out = format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }) : img.webp({ lossless: true });
  return new Uint8Array(await out.toBuffer());
}

export function solidPng(width: number, height: number, rgb: Rgb): Promise<Uint8Array> {
  return encode(rgbPixels(width, height, () => rgb), width, height);
}

/** The value ToTensor + Normalize gives a channel value `v` (0..255), in float64. */
export const normalized = (v: number, mean: number, std: number): number => (v / 255 - mean) / std;

/** Max |a - b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The preprocessed tensor of one request (`preprocess` output, first item). */
export function preparedOf(pre: unknown, index = 0): { data: Float32Array; height: number; width: number; original: { width: number; height: number } } {
  const items = (pre as { items: Array<{ ok: boolean; image?: unknown; error?: ServeError }> }).items;
  const item = items[index]!;
  if (!item.ok) throw item.error ?? new Error('item failed');
  return item.image as ReturnType<typeof preparedOf>;
}
