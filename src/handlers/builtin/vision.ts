/**
 * What the built-in vision handlers share: the model's image input, reading the image out of a
 * request, running many images as few ONNX calls, per-request failures, and the
 * HandlerModule plumbing (initialize / preprocess / inference / postprocess / explain).
 *
 * Bad input policy: each request of a batch is validated on its own. A batch of one request
 * with a bad image throws a 400 BadRequestException (the runtime replies it). In a batch of
 * several, only the bad requests fail: their slot holds the 400 ServeError, which the runtime
 * renders as that request's error reply; the good images still run (as one ONNX call).
 * Nothing a client sends can throw anything but a 400.
 */
import type { Tensor } from 'onnxruntime-node';
import { ServeError, badRequest } from '../../errors.js';
import type { HandlerContext, HandlerModule, HandlerOutput, HandlerRequest } from '../api.js';
import type { TensorMeta } from '../../runtime/types.js';
import { type HandlerSection, HandlerConfigError, handlerSection, readEnum, readInt, readNumberList, type Size } from './config.js';
import { EXPECTED_FORMATS, ImageInputError, INTERPOLATIONS, type Interpolation, type Normalization, sniffFormat } from './image.js';

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
/** Default `max_image_pixels`: 50 megapixels (e.g. 8660×5773). */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;
/** Largest nested-list tensor accepted as a preprocessed image. */
const MAX_TENSOR_VALUES = 3 * 4096 * 4096;

/** The model's image input: float32 `[N, 3, H, W]` (rank 4) or `[3, H, W]` (rank 3, one image per run). */
export interface ImageInput {
  name: string;
  rank: 3 | 4;
  /** Images per ONNX call: 1 for rank 3 or a fixed batch dim of 1, the fixed size, or Infinity. */
  maxBatch: number;
  /** A fixed batch dimension: calls are padded to exactly this many images. */
  fixedBatch?: number;
  /** Fixed spatial size, when the model declares one. */
  size?: Size;
}

const fixed = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
const shapeText = (shape: ReadonlyArray<number | string>): string => `[${shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : String(d))).join(', ')}]`;

export function imageInput(inputs: readonly TensorMeta[], handlerName: string): ImageInput {
  const meta = inputs[0];
  if (!meta || inputs.length !== 1) {
    throw new HandlerConfigError(`${handlerName} needs a model with one image input; this model has ${inputs.length === 0 ? 'none' : `inputs ${inputs.map((m) => m.name).join(', ')}`}`);
  }
  const { name, type, shape } = meta;
  if (type !== 'float32') throw new HandlerConfigError(`${handlerName} needs a float32 image input; input "${name}" is ${type}`);
  if (shape.length !== 3 && shape.length !== 4) {
    throw new HandlerConfigError(`${handlerName} needs an image input [N, 3, H, W] or [3, H, W]; input "${name}" is ${shapeText(shape)}`);
  }
  const rank = shape.length as 3 | 4;
  const [c, h, w] = rank === 4 ? shape.slice(1) : shape;
  const channels = fixed(c);
  if (channels !== undefined && channels !== 3) {
    throw new HandlerConfigError(`${handlerName} needs 3 (RGB) channels; input "${name}" is ${shapeText(shape)} (NCHW expected)`);
  }
  const height = fixed(h);
  const width = fixed(w);
  const batch = rank === 4 ? fixed(shape[0]) : 1;
  return {
    name,
    rank,
    maxBatch: batch ?? Infinity,
    ...(rank === 4 && batch !== undefined ? { fixedBatch: batch } : {}),
    ...(height !== undefined && width !== undefined ? { size: { height, width } } : {}),
  };
}

/** Settings every vision handler reads from the handler section. */
export interface CommonSettings extends Normalization {
  maxPixels: number;
  interpolation: Interpolation;
}

export function commonSettings(section: HandlerSection, defaults: Normalization): CommonSettings {
  return {
    mean: readNumberList(section, 'mean', defaults.mean, () => true, 'numbers (one per RGB channel)'),
    std: readNumberList(section, 'std', defaults.std, (n) => n > 0, 'positive numbers (one per RGB channel)'),
    maxPixels: readInt(section, 'max_image_pixels', DEFAULT_MAX_IMAGE_PIXELS, 1, 1_000_000_000),
    interpolation: readEnum(section, 'interpolation', INTERPOLATIONS, 'bilinear'),
  };
}

/** What a request carries: encoded image bytes, or an already preprocessed CHW nested list. */
export type ImageSource =
  | { kind: 'bytes'; inputName: string; bytes: Uint8Array }
  | { kind: 'tensor'; inputName: string; dims: number[]; data: Float32Array };

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

function fromValue(inputName: string, value: unknown, raw: Uint8Array | undefined): ImageSource {
  if (value instanceof Uint8Array) return { kind: 'bytes', inputName, bytes: value };
  if (typeof value === 'string') {
    // TorchServe's vision handlers take a base64 string as the image.
    if (value.length > 0 && BASE64.test(value)) return { kind: 'bytes', inputName, bytes: new Uint8Array(Buffer.from(value, 'base64')) };
    return { kind: 'bytes', inputName, bytes: raw ?? new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) return { kind: 'tensor', inputName, ...nestedToTensor(inputName, value) };
  if (raw) return { kind: 'bytes', inputName, bytes: raw };
  throw new ImageInputError(`Input "${inputName}" is not an image (expected ${EXPECTED_FORMATS} bytes)`);
}

/**
 * The image of one request, as TorchServe reads it (`data`, else `body`; onnxserve then takes
 * the first part that is a JPEG/PNG/WebP, else the first part):
 * bytes (decoded as JPEG/PNG/WebP), a base64 string, or a nested list used as the input tensor.
 */
export function requestImage(request: HandlerRequest): ImageSource {
  const part =
    request.parts.find((p) => p.name === 'data') ??
    request.parts.find((p) => p.name === 'body') ??
    request.parts.find((p) => sniffFormat(p.data) !== undefined) ??
    request.parts[0];
  if (part) return fromValue(part.name, request.data[part.name], part.data);
  for (const name of ['data', 'body']) {
    if (request.data[name] !== undefined && request.data[name] !== null) return fromValue(name, request.data[name], undefined);
  }
  throw new ImageInputError(`The request has no image: send ${EXPECTED_FORMATS} bytes as the body or as the "data" field`);
}

/** A nested list [3][H][W] of numbers (TorchServe: `torch.FloatTensor(image)`, no preprocessing). */
function nestedToTensor(inputName: string, value: unknown[]): { dims: number[]; data: Float32Array } {
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    dims.push(probe.length);
    probe = probe[0];
  }
  const total = dims.reduce((a, b) => a * b, 1);
  if (dims.length !== 3 || dims[0] !== 3 || total === 0 || total > MAX_TENSOR_VALUES) {
    throw new ImageInputError(`Input "${inputName}" as a nested list must be a [3][H][W] array of numbers (got shape [${dims.join(', ')}])`);
  }
  const data = new Float32Array(total);
  let k = 0;
  const walk = (v: unknown, depth: number): void => {
    if (depth === dims.length) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ImageInputError(`Input "${inputName}" contains a non-number: ${JSON.stringify(v) ?? String(v)}`);
      data[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) throw new ImageInputError(`Input "${inputName}" is a ragged nested list (expected shape [${dims.join(', ')}])`);
    for (const item of v as unknown[]) walk(item, depth + 1);
  };
  walk(value, 0);
  return { dims, data };
}

/** One preprocessed image: CHW float32 at the model's input size, plus what postprocessing needs. */
export interface PreparedImage {
  data: Float32Array;
  height: number;
  width: number;
  /** Size of the image as sent (boxes are scaled back to it). */
  original: Size;
}

export type PreparedItem = { ok: true; image: PreparedImage } | { ok: false; error: ServeError };

/** The output of a built-in's `preprocess` (and the input of its `inference`/`explain`). */
export interface VisionBatch {
  readonly kind: 'onnxserve.vision-batch';
  readonly handler: string;
  readonly items: readonly PreparedItem[];
}

interface VisionResults<R> {
  readonly kind: 'onnxserve.vision-results';
  readonly handler: string;
  readonly batch: VisionBatch;
  /** One result per ok item, in order. */
  readonly results: readonly R[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function asBatch(input: unknown, handler: string, step: string): VisionBatch {
  if (isRecord(input) && input['kind'] === 'onnxserve.vision-batch' && input['handler'] === handler) return input as unknown as VisionBatch;
  throw new Error(`${handler}.${step} expects the output of ${handler}.preprocess`);
}

/** The chunks `images` run in: same size images together, at most `limit` per call. */
export interface RunChunk {
  /** Positions in the `images` argument, in order. */
  indices: number[];
  /** Rows in the call (more than indices.length when padded to a fixed batch). */
  rows: number;
  outputs: Record<string, Tensor>;
}

export async function runImages(
  context: HandlerContext,
  input: ImageInput,
  images: ReadonlyArray<Pick<PreparedImage, 'data' | 'height' | 'width'>>,
  limit = Infinity,
): Promise<RunChunk[]> {
  const perCall = Math.max(1, Math.min(input.rank === 3 ? 1 : input.maxBatch, limit));
  const groups = new Map<string, number[]>();
  images.forEach((img, i) => {
    const key = `${img.height}x${img.width}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const chunks: RunChunk[] = [];
  for (const group of groups.values()) {
    for (let start = 0; start < group.length; start += perCall) {
      const indices = group.slice(start, start + perCall);
      const first = images[indices[0]!]!;
      const plane = 3 * first.height * first.width;
      const rows = input.rank === 3 ? 1 : (input.fixedBatch ?? indices.length);
      const data = indices.length === 1 && rows === 1 ? first.data : new Float32Array(rows * plane);
      if (data !== first.data) indices.forEach((idx, k) => data.set(images[idx]!.data, k * plane));
      const dims = input.rank === 4 ? [rows, 3, first.height, first.width] : [3, first.height, first.width];
      const outputs = await context.run({ [input.name]: new context.ort.Tensor('float32', data, dims) });
      chunks.push({ indices, rows, outputs });
    }
  }
  return chunks;
}

/** A model output as numbers (int64 → Number). */
export function numbers(t: Tensor, outputName: string): ArrayLike<number> {
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d, (v) => Number(v));
  if (Array.isArray(d)) throw new Error(`output "${outputName}" is a ${t.type} tensor, expected numbers`);
  if (t.type === 'float16') throw new Error(`output "${outputName}" is float16, which the built-in handlers do not read`);
  return d as ArrayLike<number>;
}

/**
 * Row `k` of a chunk's output whose per-image rank is `rank`: `[rows, ...]` is sliced; a tensor
 * without the batch dim (`rank` dims) is accepted when the call held one image.
 */
export function imageRow(t: Tensor, outputName: string, k: number, rows: number, rank: number): { dims: number[]; data: ArrayLike<number> } {
  const dims = [...t.dims];
  const data = numbers(t, outputName);
  if (dims.length === rank + 1 && dims[0] === rows) {
    const per = data.length / rows;
    const slice = 'subarray' in data ? (data as Float32Array).subarray(k * per, (k + 1) * per) : Array.prototype.slice.call(data, k * per, (k + 1) * per);
    return { dims: dims.slice(1), data: slice };
  }
  if (dims.length === rank && rows === 1) return { dims, data };
  throw new Error(`model output "${outputName}" has shape [${dims.join(', ')}]; expected ${rank + 1} dims with ${rows} rows (one per image)${rows === 1 ? ` or ${rank} dims` : ''}`);
}

export function pickOutput(outputs: Record<string, Tensor>, preferred: string[], names: readonly string[]): [string, Tensor] {
  for (const name of [...preferred, ...names]) {
    const t = outputs[name];
    if (t) return [name, t];
  }
  throw new Error('the model returned no outputs');
}

export interface VisionHandlerDefinition<S, R> {
  name: string;
  /** The `handler:` keys this handler reads (others are logged as ignored, to catch typos). */
  settings: readonly string[];
  /** Reads settings and the model's signature; throws HandlerConfigError on bad settings. */
  init(context: HandlerContext, section: HandlerSection): Promise<S>;
  /** One request's image → model input (throws ImageInputError for a bad image). */
  prepare(source: ImageSource, state: S): Promise<PreparedImage>;
  /** All good images of the batch → one result each (as few ONNX calls as the model allows). */
  infer(images: PreparedImage[], state: S, context: HandlerContext): Promise<R[]>;
  reply(result: R, image: PreparedImage, state: S, context: HandlerContext, index: number): HandlerOutput;
  explain?(images: PreparedImage[], requests: HandlerRequest[], state: S, context: HandlerContext): Promise<HandlerOutput[]>;
}

/** Per-session state, built once (by `initialize`, or on first use when it was not called). */
function perSession<S>(init: (context: HandlerContext) => Promise<S>): (context: HandlerContext) => Promise<S> {
  const states = new WeakMap<object, Promise<S>>();
  return (context) => {
    const key: object = context.session ?? context;
    let state = states.get(key);
    if (!state) {
      state = init(context);
      states.set(key, state);
      state.catch(() => states.delete(key));
    }
    return state;
  };
}

function badImage(e: unknown): ServeError {
  if (e instanceof ServeError) return e;
  if (e instanceof ImageInputError) return badRequest(e.message);
  throw e;
}

/** Builds the HandlerModule of a built-in vision handler from its definition. */
export function visionHandler<S, R>(def: VisionHandlerDefinition<S, R>): HandlerModule {
  const state = perSession((context) => {
    const section = handlerSection(context);
    const unknown = Object.keys(section).filter((k) => !def.settings.includes(k));
    if (unknown.length > 0) {
      context.log.warn(`${def.name}: model-config.yaml handler keys ${unknown.join(', ')} are not used (known: ${def.settings.join(', ')})`);
    }
    return def.init(context, section);
  });

  const finish = (batch: VisionBatch, context: HandlerContext, value: (image: PreparedImage, k: number, index: number) => HandlerOutput): HandlerOutput[] => {
    const first = batch.items[0];
    if (batch.items.length === 1 && first && !first.ok) throw first.error;
    let k = 0;
    // A returned ServeError fails only its own request (rendered by the runtime as the error envelope).
    return batch.items.map((item, index) => (item.ok ? value(item.image, k++, index) : item.error));
  };

  const goodImages = (batch: VisionBatch): PreparedImage[] => batch.items.flatMap((it) => (it.ok ? [it.image] : []));

  const module: HandlerModule = {
    async initialize(context) {
      await state(context);
    },

    async preprocess(batch, context): Promise<VisionBatch> {
      const s = await state(context);
      const items = await Promise.all(
        batch.map(async (request): Promise<PreparedItem> => {
          try {
            return { ok: true, image: await def.prepare(requestImage(request), s) };
          } catch (e) {
            return { ok: false, error: badImage(e) };
          }
        }),
      );
      return { kind: 'onnxserve.vision-batch', handler: def.name, items };
    },

    async inference(input, context): Promise<VisionResults<R>> {
      const batch = asBatch(input, def.name, 'inference');
      const s = await state(context);
      const images = goodImages(batch);
      const results = images.length > 0 ? await def.infer(images, s, context) : [];
      if (results.length !== images.length) throw new Error(`${def.name}: ${results.length} results for ${images.length} images`);
      return { kind: 'onnxserve.vision-results', handler: def.name, batch, results };
    },

    async postprocess(output, context) {
      if (!isRecord(output) || output['kind'] !== 'onnxserve.vision-results' || output['handler'] !== def.name) {
        throw new Error(`${def.name}.postprocess expects the output of ${def.name}.inference`);
      }
      const { batch, results } = output as unknown as VisionResults<R>;
      const s = await state(context);
      return finish(batch, context, (image, k, index) => def.reply(results[k]!, image, s, context, index));
    },
  };

  if (def.explain) {
    const explain = def.explain;
    module.explain = async (input, context, requests) => {
      const batch = asBatch(input, def.name, 'explain');
      const s = await state(context);
      const images = goodImages(batch);
      const okRequests = requests.filter((_, i) => batch.items[i]?.ok === true);
      const results = images.length > 0 ? await explain(images, okRequests, s, context) : [];
      return finish(batch, context, (_image, k) => results[k]);
    };
  }
  return module;
}
