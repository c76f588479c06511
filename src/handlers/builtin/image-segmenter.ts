/**
 * `image_segmenter`: TorchServe's ImageSegmenter for an ONNX model with one float32 image input
 * and a logits output `[N, C, H, W]` (named `out` as torchvision's segmentation models, else the
 * first output; `[C, H, W]` for a single-image model).
 *
 * Preprocess: as image_classifier (Resize 256, CenterCrop 224 or the model's fixed size,
 * ImageNet mean/std; yaml `resize`, `crop`, `mean`, `std`, `interpolation`, `max_image_pixels`).
 * Reply per image, at the output's resolution, after a softmax over C:
 *   `output: class_probability` (default, TorchServe's shape) — `[H][W][2]`, each pixel
 *     `[class, probability]` (TorchServe: `torch.stack([indices, values], dim=3)` of the max);
 *   `output: class_map` — `[H][W]` of class indices.
 */
import { type HandlerSection, readEnum, type Size, type SizeSetting } from './config.js';
import { classifierGeometry, prepareCropped } from './image-classifier.js';
import { commonSettings, type CommonSettings, IMAGENET_MEAN, IMAGENET_STD, imageInput, type ImageInput, imageRow, runImages, visionHandler } from './vision.js';

export const NAME = 'image_segmenter';
export type SegmenterOutput = 'class_probability' | 'class_map';
export const SEGMENTER_OUTPUTS: readonly SegmenterOutput[] = ['class_probability', 'class_map'];

export interface SegmenterState {
  input: ImageInput;
  outputName: string;
  singleImage: boolean;
  common: CommonSettings;
  resize: SizeSetting;
  crop: Size;
  output: SegmenterOutput;
}

export interface Segmentation {
  height: number;
  width: number;
  classes: Int32Array;
  probabilities: Float64Array;
}

/** Per-pixel argmax over C and its softmax probability, from CHW logits. */
export function segment(dims: number[], logits: ArrayLike<number>): Segmentation {
  const [C, H, W] = dims as [number, number, number];
  const plane = H * W;
  const classes = new Int32Array(plane);
  const probabilities = new Float64Array(plane);
  for (let p = 0; p < plane; p++) {
    let best = 0;
    let max = logits[p]!;
    for (let c = 1; c < C; c++) {
      const v = logits[c * plane + p]!;
      if (v > max) {
        max = v;
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[c * plane + p]! - max);
    classes[p] = best;
    probabilities[p] = 1 / sum;
  }
  return { height: H, width: W, classes, probabilities };
}

function readOutput(section: HandlerSection): SegmenterOutput {
  return readEnum(section, 'output', SEGMENTER_OUTPUTS, 'class_probability');
}

export const imageSegmenter = visionHandler<SegmenterState, Segmentation>({
  name: NAME,
  settings: ['output', 'resize', 'crop', 'mean', 'std', 'interpolation', 'max_image_pixels'],

  async init(context, section) {
    const input = imageInput(context.signature.inputs, NAME);
    const outs = context.signature.outputs;
    const output = outs.find((o) => o.name === 'out') ?? outs[0];
    if (!output) throw new Error(`${NAME} needs a model with a logits output [N, C, H, W]`);
    return {
      input,
      outputName: output.name,
      singleImage: output.shape.length === 3,
      common: commonSettings(section, { mean: IMAGENET_MEAN, std: IMAGENET_STD }),
      ...classifierGeometry(section, input, context.log, NAME),
      output: readOutput(section),
    };
  },

  prepare: (source, s) => prepareCropped(source, s),

  async infer(images, s, context) {
    const out = new Array<Segmentation>(images.length);
    for (const chunk of await runImages(context, s.input, images, s.singleImage ? 1 : Infinity)) {
      const t = chunk.outputs[s.outputName];
      if (!t) throw new Error(`the model returned no output "${s.outputName}"`);
      chunk.indices.forEach((idx, k) => {
        const row = imageRow(t, s.outputName, k, chunk.rows, 3);
        out[idx] = segment(row.dims, row.data);
      });
    }
    return out;
  },

  reply(seg, _image, s) {
    const { height: H, width: W, classes, probabilities } = seg;
    return Array.from({ length: H }, (_, y) =>
      Array.from({ length: W }, (_, x) => (s.output === 'class_map' ? classes[y * W + x]! : [classes[y * W + x]!, probabilities[y * W + x]!])),
    );
  },
});
