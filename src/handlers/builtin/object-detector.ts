/**
 * `object_detector`: TorchServe's ObjectDetector for ONNX detection models.
 *
 * Model convention (the torchvision detection outputs, named or in this order):
 *   input   float32 [N, 3, H, W] (or [3, H, W]), RGB, values `(pixel/255 - mean) / std`
 *   boxes   float32 [N, K, 4]  x1, y1, x2, y2 in the model input's pixels (`boxes_normalized:
 *                              true`: in [0, 1] of the input size)
 *   labels  int64/float [N, K] class index (looked up in index_to_name.json)
 *   scores  float32 [N, K]     confidence; padding rows may carry score 0
 * A single-image model without the batch dimension in its outputs (`[K, 4]`, `[K]`, `[K]`, as
 * torchvision's ONNX exports) is run one image per call.
 *
 * Preprocess: decode, resize to the model's fixed input size (no crop, aspect not kept; a model
 * with dynamic H/W gets `size` from the yaml, else the image as it is — TorchServe's ToTensor),
 * scale to [0, 1], `mean`/`std` (default 0/1: no normalisation, as TorchServe's ObjectDetector).
 * Reply per image (TorchServe's shape): `[{"<label>": [x1, y1, x2, y2], "score": s}, ...]` for
 * `score >= threshold` (default 0.5), in the model's order, boxes scaled to the original image.
 *
 * model-config.yaml `handler:` keys: threshold, size, mean, std, boxes_normalized,
 * interpolation, max_image_pixels.
 */
import type { HandlerContext } from '../api.js';
import { readBool, readNumber, readSize, type Size } from './config.js';
import { decodeImage, ImageInputError, toChw } from './image.js';
import { labelOf, type LabelMap, loadLabelMapping } from './labels.js';
import { commonSettings, type CommonSettings, imageInput, type ImageInput, imageRow, runImages, visionHandler } from './vision.js';

export const NAME = 'object_detector';
export const DEFAULT_THRESHOLD = 0.5;

export interface Detection {
  label: number;
  box: [number, number, number, number];
  score: number;
}

export interface DetectorState {
  input: ImageInput;
  common: CommonSettings;
  /** Size images are resized to; undefined: kept as sent. */
  size: Size | undefined;
  threshold: number;
  boxesNormalized: boolean;
  labels: LabelMap | undefined;
  outputs: { boxes: string; labels: string; scores: string };
  /** Outputs without a batch dimension: one image per ONNX call. */
  singleImage: boolean;
}

function outputNames(context: HandlerContext): { names: DetectorState['outputs']; singleImage: boolean } {
  const outs = context.signature.outputs;
  const byName = (n: string) => outs.find((o) => o.name === n);
  let names: DetectorState['outputs'];
  if (byName('boxes') && byName('labels') && byName('scores')) {
    names = { boxes: 'boxes', labels: 'labels', scores: 'scores' };
  } else if (outs.length === 3) {
    names = { boxes: outs[0]!.name, labels: outs[1]!.name, scores: outs[2]!.name };
    context.log.warn(`${NAME}: no outputs named boxes/labels/scores; reading ${names.boxes}, ${names.labels}, ${names.scores} as those`);
  } else {
    throw new Error(`${NAME} needs a model with outputs boxes [N, K, 4], labels [N, K], scores [N, K]; this model has ${outs.map((o) => o.name).join(', ') || 'none'}`);
  }
  const boxesRank = byName(names.boxes)?.shape.length;
  return { names, singleImage: boxesRank === 2 };
}

export const objectDetector = visionHandler<DetectorState, Detection[]>({
  name: NAME,
  settings: ['threshold', 'size', 'mean', 'std', 'boxes_normalized', 'interpolation', 'max_image_pixels'],

  async init(context, section) {
    const input = imageInput(context.signature.inputs, NAME);
    const { names, singleImage } = outputNames(context);
    const sizeSetting = readSize(section, 'size');
    const configured = sizeSetting?.kind === 'short' ? { height: sizeSetting.size, width: sizeSetting.size } : sizeSetting?.size;
    if (input.size && configured && (configured.height !== input.size.height || configured.width !== input.size.width)) {
      context.log.warn(`${NAME}: handler.size does not match the model input ${input.size.height}x${input.size.width}; using the model's size`);
    }
    return {
      input,
      common: commonSettings(section, { mean: [0, 0, 0], std: [1, 1, 1] }),
      size: input.size ?? configured,
      threshold: readNumber(section, 'threshold', DEFAULT_THRESHOLD),
      boxesNormalized: readBool(section, 'boxes_normalized', false),
      labels: await loadLabelMapping(context.modelDir),
      outputs: names,
      singleImage,
    };
  },

  async prepare(source, s) {
    if (source.kind === 'tensor') {
      const [, height, width] = source.dims as [number, number, number];
      if (s.size && (s.size.height !== height || s.size.width !== width)) {
        throw new ImageInputError(`Input "${source.inputName}" as a nested list must be [3][${s.size.height}][${s.size.width}] for this model (got [3][${height}][${width}])`);
      }
      return { data: source.data, height, width, original: { height, width } };
    }
    const image = await decodeImage(source.bytes, { inputName: source.inputName, maxPixels: s.common.maxPixels, interpolation: s.common.interpolation }, () => s.size);
    return { ...toChw(image, s.common), original: image.original };
  },

  async infer(images, s, context) {
    const out = new Array<Detection[]>(images.length);
    for (const chunk of await runImages(context, s.input, images, s.singleImage ? 1 : Infinity)) {
      const get = (name: string) => {
        const t = chunk.outputs[name];
        if (!t) throw new Error(`the model returned no output "${name}"`);
        return t;
      };
      const [boxesT, labelsT, scoresT] = [get(s.outputs.boxes), get(s.outputs.labels), get(s.outputs.scores)];
      chunk.indices.forEach((idx, k) => {
        const boxes = imageRow(boxesT, s.outputs.boxes, k, chunk.rows, 2);
        const labels = imageRow(labelsT, s.outputs.labels, k, chunk.rows, 1);
        const scores = imageRow(scoresT, s.outputs.scores, k, chunk.rows, 1);
        const n = scores.data.length;
        if (boxes.dims[1] !== 4 || boxes.dims[0] !== n || labels.data.length !== n) {
          throw new Error(
            `model outputs disagree: boxes [${boxes.dims.join(', ')}], labels [${labels.dims.join(', ')}], scores [${scores.dims.join(', ')}] (expected [K, 4], [K], [K])`,
          );
        }
        out[idx] = Array.from({ length: n }, (_, d) => ({
          label: labels.data[d]!,
          score: scores.data[d]!,
          box: [boxes.data[4 * d]!, boxes.data[4 * d + 1]!, boxes.data[4 * d + 2]!, boxes.data[4 * d + 3]!],
        }));
      });
    }
    return out;
  },

  reply(detections, image, s) {
    const sx = s.boxesNormalized ? image.original.width : image.original.width / image.width;
    const sy = s.boxesNormalized ? image.original.height : image.original.height / image.height;
    return detections
      .filter((d) => d.score >= s.threshold)
      .map((d) => ({
        [labelOf(s.labels, d.label)]: [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy],
        score: d.score,
      }));
  },
});
