/**
 * Builds the built-in vision handler examples in `model_store/`:
 *
 *   color_classifier.mar  handler image_classifier  (input [N, 3, 224, 224] → logits [N, 4], index_to_name.json)
 *   color_detector.mar    handler object_detector   (input [N, 3, 64, 64] → boxes/labels/scores, index_to_name.json)
 *   color_segmenter.mar   handler image_segmenter   (input [N, 3, 64, 64] → out [N, 4, 64, 64])
 *   sample-red.png        96×64, black with a red 72×48 rectangle at (12, 8)
 *
 * The models are built from code (test/fixtures/vision-models.ts; what each computes is described
 * there), the archives are torch-model-archiver 0.12.0 `.mar` files (MAR-INF/MANIFEST.json in its
 * shape, built-in handler names) with a small model-config.yaml, and every byte is deterministic
 * (fixed zip timestamps and `createdOn`).
 *
 * Usage: npx tsx scripts/build-vision-examples.ts [outDir]   (outDir defaults to model_store/)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { colorClassifier, COLOR_CLASSES, colorDetector, colorSegmenter, DETECTOR_INDEX_TO_NAME } from '../test/fixtures/vision-models.js';
import { exampleManifest, zipEntries } from './build-example-model.js';

export const SAMPLE_IMAGE = 'sample-red.png';
export const SAMPLE_SIZE = { width: 96, height: 64 };
/** The red rectangle of the sample: x ∈ [12, 84), y ∈ [8, 56). */
export const SAMPLE_RECT = { x0: 12, y0: 8, x1: 84, y1: 56 };

export interface VisionExample {
  name: string;
  handler: 'image_classifier' | 'object_detector' | 'image_segmenter';
  model: () => Uint8Array;
  indexToName?: Record<string, string>;
  configYaml: string;
}

const WORKERS = ['minWorkers: 1', 'maxWorkers: 1', 'batchSize: 4', 'maxBatchDelay: 10'];

export const VISION_EXAMPLES: readonly VisionExample[] = [
  {
    name: 'color_classifier',
    handler: 'image_classifier',
    model: () => colorClassifier(),
    indexToName: Object.fromEntries(COLOR_CLASSES.map((c, i) => [String(i), c])),
    configYaml: [
      ...WORKERS,
      'handler:',
      '  topk: 3',
      '  # explanations (POST /explanations/color_classifier): occlusion sensitivity',
      '  occlusion_window: 32',
      '  occlusion_stride: 16',
      '',
    ].join('\n'),
  },
  {
    name: 'color_detector',
    handler: 'object_detector',
    model: () => colorDetector(),
    indexToName: DETECTOR_INDEX_TO_NAME,
    configYaml: [...WORKERS, 'handler:', '  threshold: 0.5', ''].join('\n'),
  },
  {
    name: 'color_segmenter',
    handler: 'image_segmenter',
    model: () => colorSegmenter(),
    configYaml: [
      ...WORKERS,
      'handler:',
      "  # TorchServe's reply: [H][W][2] of [class, probability]; class_map gives [H][W] class indices",
      '  output: class_probability',
      '',
    ].join('\n'),
  },
];

export function manifestJson(example: VisionExample): string {
  return exampleManifest(example.name, example.handler);
}

export async function archiveBytes(example: VisionExample): Promise<Buffer> {
  const entries: Array<[string, Buffer]> = [[`${example.name}.onnx`, Buffer.from(example.model())]];
  if (example.indexToName) entries.push(['index_to_name.json', Buffer.from(`${JSON.stringify(example.indexToName, null, 2)}\n`)]);
  entries.push(['model-config.yaml', Buffer.from(example.configYaml)]);
  entries.push(['MAR-INF/MANIFEST.json', Buffer.from(manifestJson(example))]);
  return zipEntries(entries);
}

/** The sample image: black, with a red rectangle covering 56% of it. */
export async function samplePng(): Promise<Buffer> {
  const { width, height } = SAMPLE_SIZE;
  const px = Buffer.alloc(width * height * 3);
  for (let y = SAMPLE_RECT.y0; y < SAMPLE_RECT.y1; y++) {
    for (let x = SAMPLE_RECT.x0; x < SAMPLE_RECT.x1; x++) px[(y * width + x) * 3] = 255;
  }
  return sharp(px, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 9, adaptiveFiltering: false, palette: false }).toBuffer();
}

export interface BuiltExample {
  name: string;
  path: string;
  size: number;
}

export async function buildVisionExamples(outDir: string, log: (msg: string) => void = () => {}): Promise<BuiltExample[]> {
  await mkdir(outDir, { recursive: true });
  const built: BuiltExample[] = [];
  for (const example of VISION_EXAMPLES) {
    const bytes = await archiveBytes(example);
    const file = path.join(outDir, `${example.name}.mar`);
    await writeFile(file, bytes);
    built.push({ name: example.name, path: file, size: bytes.length });
    log(`wrote ${file} (${bytes.length} bytes, handler ${example.handler})`);
  }
  const sample = await samplePng();
  const samplePath = path.join(outDir, SAMPLE_IMAGE);
  await writeFile(samplePath, sample);
  built.push({ name: 'sample', path: samplePath, size: sample.length });
  log(`wrote ${samplePath} (${sample.length} bytes)`);
  return built;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'model_store'));
  buildVisionExamples(outDir, (m) => console.log(m)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
