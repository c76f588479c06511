/**
 * Model-agnostic explanations by occlusion sensitivity (Zeiler & Fergus 2014; Captum's
 * `Occlusion`): a window of `occlusion_window`² pixels, moved by `occlusion_stride`, is set to
 * `occlusion_baseline` (in the normalised input space, so the default 0 is the dataset's mean
 * colour: a "gray" patch) in all channels; the occluded variants run through the model in chunks
 * of `occlusion_batch_size`. A pixel's attribution is the mean, over the windows that cover it,
 * of `score(original) − score(occluded)` for the target class: positive where hiding the pixel
 * lowers the class's probability. The last window of a row/column is aligned to the image edge,
 * so every pixel is covered.
 *
 * Reply per image: `[3][H][W]` (channel, row, column) at the model input's size — the shape of
 * TorchServe's `get_insights` (Captum attributions of the `[N, 3, H, W]` input, one `[3][H][W]`
 * per request). A window occludes all channels at once, so the three channels hold the same map.
 */
import { type HandlerSection, readInt, readNumber } from './config.js';
import type { PreparedImage } from './vision.js';

export interface OcclusionSettings {
  window: number;
  stride: number;
  /** The occluding value, in the model's (normalised) input space. */
  baseline: number;
  /** Occluded variants per ONNX call. */
  batchSize: number;
}

export const OCCLUSION_SETTINGS = ['occlusion_window', 'occlusion_stride', 'occlusion_baseline', 'occlusion_batch_size'] as const;

export function readOcclusionSettings(section: HandlerSection): OcclusionSettings {
  return {
    window: readInt(section, 'occlusion_window', 32, 1, 16384),
    stride: readInt(section, 'occlusion_stride', 16, 1, 16384),
    baseline: readNumber(section, 'occlusion_baseline', 0),
    batchSize: readInt(section, 'occlusion_batch_size', 32, 1, 4096),
  };
}

/** Window starts along one axis: every `stride`, plus one flush with the end if needed. */
export function windowStarts(size: number, window: number, stride: number): number[] {
  if (window >= size) return [0];
  const starts: number[] = [];
  for (let s = 0; s + window <= size; s += stride) starts.push(s);
  const last = starts[starts.length - 1]!;
  if (last + window < size) starts.push(size - window);
  return starts;
}

type Image = Pick<PreparedImage, 'data' | 'height' | 'width'>;

/** Significant enough for a heat map, and keeps the JSON reply reasonably small. */
const round = (v: number): number => Math.round(v * 1e7) / 1e7 || 0;

/**
 * Attribution map of `image` as `[3][H][W]`. `score` returns the target-class score of each
 * variant; `baseScore` is the unoccluded image's.
 */
export async function occlusionAttribution(
  image: Image,
  settings: OcclusionSettings,
  baseScore: number,
  score: (variants: Image[]) => Promise<number[]>,
): Promise<number[][][]> {
  const { height: H, width: W } = image;
  const wh = Math.min(settings.window, H);
  const ww = Math.min(settings.window, W);
  const windows = windowStarts(H, wh, settings.stride).flatMap((top) => windowStarts(W, ww, settings.stride).map((left) => ({ top, left })));
  const plane = H * W;
  const sum = new Float64Array(plane);
  const count = new Uint32Array(plane);
  for (let start = 0; start < windows.length; start += settings.batchSize) {
    const chunk = windows.slice(start, start + settings.batchSize);
    const variants = chunk.map(({ top, left }) => {
      const data = Float32Array.from(image.data);
      for (let c = 0; c < 3; c++) {
        for (let y = top; y < top + wh; y++) data.fill(settings.baseline, c * plane + y * W + left, c * plane + y * W + left + ww);
      }
      return { data, height: H, width: W };
    });
    const scores = await score(variants);
    chunk.forEach(({ top, left }, k) => {
      const drop = baseScore - scores[k]!;
      for (let y = top; y < top + wh; y++) {
        for (let x = left; x < left + ww; x++) {
          sum[y * W + x]! += drop;
          count[y * W + x]! += 1;
        }
      }
    });
  }
  const rows = Array.from({ length: H }, (_, y) => Array.from({ length: W }, (_, x) => round(sum[y * W + x]! / Math.max(1, count[y * W + x]!))));
  return [rows, rows.map((r) => [...r]), rows.map((r) => [...r])];
}
