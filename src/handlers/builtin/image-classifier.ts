/**
 * `image_classifier`: TorchServe's ImageClassifier for an ONNX model with one float32 image input
 * `[N, 3, H, W]` (or `[3, H, W]`) and one score output `[N, K]`.
 *
 * Preprocess: decode, `Resize(256)` (shorter side, bilinear), `CenterCrop(224)`, `ToTensor`,
 * `Normalize(ImageNet mean/std)`. A model with a fixed H×W other than 224 gets a crop of its own
 * size and a resize of `round(min(H, W) · 256 / 224)`. Every image of a batch runs in ONE
 * `context.run` (split only when the model's batch dimension is fixed).
 * Postprocess: softmax (unless `softmax: false`), top-k (`topk`, default 5), labels from
 * `index_to_name.json`; per image `{"<label>": probability, ...}`, best first (TorchServe's
 * `map_class_to_label`).
 * Explain: occlusion sensitivity (see occlusion.ts), `[3][H][W]` per image.
 *
 * model-config.yaml `handler:` keys: topk, softmax, resize, crop, mean, std, interpolation,
 * max_image_pixels, occlusion_window, occlusion_stride, occlusion_baseline, occlusion_batch_size.
 */
import type { HandlerContext, HandlerOutput, HandlerRequest } from '../api.js';
import { badRequest } from '../../errors.js';
import { type HandlerSection, readBool, readInt, readSize, type Size, type SizeSetting } from './config.js';
import { decodeImage, ImageInputError, resizedSize, toChw } from './image.js';
import { labelOf, type LabelMap, loadLabelMapping } from './labels.js';
import { OCCLUSION_SETTINGS, occlusionAttribution, readOcclusionSettings, type OcclusionSettings } from './occlusion.js';
import {
  commonSettings,
  type CommonSettings,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imageInput,
  type ImageInput,
  type ImageSource,
  numbers,
  pickOutput,
  type PreparedImage,
  runImages,
  visionHandler,
} from './vision.js';

export const DEFAULT_TOPK = 5;
const DEFAULT_RESIZE = 256;
const DEFAULT_CROP = 224;

export interface ClassifierState {
  input: ImageInput;
  outputName: string;
  common: CommonSettings;
  resize: SizeSetting;
  crop: Size;
  topk: number;
  softmax: boolean;
  labels: LabelMap | undefined;
  occlusion: OcclusionSettings;
}

/** Resize/crop for a model: the yaml's, else ImageNet's scaled to the model's fixed input size. */
export function classifierGeometry(section: HandlerSection, input: ImageInput, log: HandlerContext['log'], handler: string): { resize: SizeSetting; crop: Size } {
  const cropSetting = readSize(section, 'crop');
  let crop: Size =
    cropSetting === undefined
      ? { height: DEFAULT_CROP, width: DEFAULT_CROP }
      : cropSetting.kind === 'short'
        ? { height: cropSetting.size, width: cropSetting.size }
        : cropSetting.size;
  if (input.size && (input.size.height !== crop.height || input.size.width !== crop.width)) {
    if (cropSetting !== undefined) {
      log.warn(`${handler}: handler.crop ${crop.height}x${crop.width} does not match the model input ${input.size.height}x${input.size.width}; using the model's size`);
    }
    crop = input.size;
  }
  const resize: SizeSetting = readSize(section, 'resize') ?? {
    kind: 'short',
    size: crop.height === DEFAULT_CROP && crop.width === DEFAULT_CROP ? DEFAULT_RESIZE : Math.round((Math.min(crop.height, crop.width) * DEFAULT_RESIZE) / DEFAULT_CROP),
  };
  return { resize, crop };
}

/** Turns a request's image into the model input (also used by the segmenter). */
export async function prepareCropped(
  source: ImageSource,
  s: { input: ImageInput; common: CommonSettings; resize: SizeSetting; crop: Size },
): Promise<PreparedImage> {
  if (source.kind === 'tensor') {
    const [, height, width] = source.dims as [number, number, number];
    if (s.input.size && (s.input.size.height !== height || s.input.size.width !== width)) {
      throw new ImageInputError(
        `Input "${source.inputName}" as a nested list must be [3][${s.input.size.height}][${s.input.size.width}] for this model (got [3][${height}][${width}])`,
      );
    }
    return { data: source.data, height, width, original: { height, width } };
  }
  const image = await decodeImage(source.bytes, { inputName: source.inputName, maxPixels: s.common.maxPixels, interpolation: s.common.interpolation }, (original) =>
    resizedSize(original, s.resize),
  );
  return { ...toChw(image, s.common, s.crop), original: image.original };
}

function softmaxInPlace(v: Float64Array): Float64Array {
  let max = -Infinity;
  for (const x of v) max = Math.max(max, x);
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] = Math.exp(v[i]! - max);
  for (let i = 0; i < v.length; i++) v[i]! /= sum;
  return v;
}

/** Class probabilities (or the model's scores with `softmax: false`) of each image, in order. */
export async function classify(images: ReadonlyArray<Pick<PreparedImage, 'data' | 'height' | 'width'>>, s: ClassifierState, context: HandlerContext, limit = Infinity): Promise<Float64Array[]> {
  const out = new Array<Float64Array>(images.length);
  for (const chunk of await runImages(context, s.input, images, limit)) {
    const [name, t] = pickOutput(chunk.outputs, [s.outputName], Object.keys(chunk.outputs));
    const data = numbers(t, name);
    const batched = t.dims.length >= 2 && t.dims[0] === chunk.rows;
    if (!batched && chunk.rows !== 1) {
      throw new Error(`model output "${name}" has shape [${t.dims.join(', ')}]; expected [${chunk.rows}, classes]`);
    }
    const per = batched ? data.length / chunk.rows : data.length;
    chunk.indices.forEach((idx, k) => {
      const row = Float64Array.from({ length: per }, (_, c) => data[k * per + c]!);
      out[idx] = s.softmax ? softmaxInPlace(row) : row;
    });
  }
  return out;
}

/** Indices of the `k` largest values, largest first (ties: lower index first, like a stable sort). */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, Math.min(k, idx.length));
}

/** A canonical array-index key ("0", "17"): JS objects would list such keys first, in numeric order. */
const isIndexKey = (k: string): boolean => /^(0|[1-9]\d*)$/.test(k) && Number(k) < 4294967295;

/**
 * `{label: value}` with keys in the given order. A plain object when that keeps the order; when
 * some key is an integer (no index_to_name.json), the JSON text itself (`JSON.stringify(…, null,
 * 2)` layout), since a JS object would reorder integer keys.
 */
export function orderedObject(entries: Array<[string, number]>, context: HandlerContext, index: number): HandlerOutput {
  if (!entries.some(([k]) => isIndexKey(k))) return Object.fromEntries(entries);
  context.setResponseContentType('application/json', index);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n}`;
}

/** The class an explanation attributes: the request's `target` (index or label), else the top class. */
function explainTarget(request: HandlerRequest | undefined, labels: LabelMap | undefined, classes: number): number | undefined {
  let v = request?.data['target'];
  if (v === undefined || v === null) return undefined;
  if (v instanceof Uint8Array) v = new TextDecoder().decode(v);
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^\d+$/.test(t)) v = Number(t);
    else {
      for (const [key, name] of labels ?? []) if (name === t && /^\d+$/.test(key)) v = Number(key);
    }
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < classes) return v;
  throw badRequest(`"target" must be a class index between 0 and ${classes - 1} or a label of index_to_name.json (got ${JSON.stringify(typeof v === 'string' ? v : (v ?? null))})`);
}

const argmax = (v: ArrayLike<number>): number => topIndices(v, 1)[0] ?? 0;

export const NAME = 'image_classifier';

export const imageClassifier = visionHandler<ClassifierState, Float64Array>({
  name: NAME,
  settings: ['topk', 'softmax', 'resize', 'crop', 'mean', 'std', 'interpolation', 'max_image_pixels', ...OCCLUSION_SETTINGS],

  async init(context, section) {
    const input = imageInput(context.signature.inputs, NAME);
    const output = context.signature.outputs[0];
    if (!output) throw new Error(`${NAME} needs a model with a score output`);
    return {
      input,
      outputName: output.name,
      common: commonSettings(section, { mean: IMAGENET_MEAN, std: IMAGENET_STD }),
      ...classifierGeometry(section, input, context.log, NAME),
      topk: readInt(section, 'topk', DEFAULT_TOPK),
      softmax: readBool(section, 'softmax', true),
      labels: await loadLabelMapping(context.modelDir),
      occlusion: readOcclusionSettings(section),
    };
  },

  prepare: (source, s) => prepareCropped(source, s),

  infer: (images, s, context) => classify(images, s, context),

  reply(probs, _image, s, context, index) {
    const entries = topIndices(probs, s.topk).map((c): [string, number] => [labelOf(s.labels, c), probs[c]!]);
    return orderedObject(entries, context, index);
  },

  async explain(images, requests, s, context) {
    const base = await classify(images, s, context);
    const results: HandlerOutput[] = [];
    for (let i = 0; i < images.length; i++) {
      const image = images[i]!;
      const probs = base[i]!;
      const target = explainTarget(requests[i], s.labels, probs.length) ?? argmax(probs);
      const map = await occlusionAttribution(image, s.occlusion, probs[target]!, async (variants) =>
        (await classify(variants, s, context, s.occlusion.batchSize)).map((p) => p[target]!),
      );
      results.push(map);
    }
    return results;
  },
});
