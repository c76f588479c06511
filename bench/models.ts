/**
 * Models the bench serves, all built from code (nothing is downloaded):
 *   - the tiny MLP 4→8→3 of test/fixtures/models.ts (`mlp`), as a .mar with a model-config.yaml;
 *   - a ResNet-18-shaped convolutional network with random weights: the layer shapes and the
 *     compute (≈1.8 GFLOPs per 224×224 image) of torchvision's resnet18, batch-norm folded away as
 *     an exporter with constant folding would leave it (conv + bias). 11.7 M float32 parameters,
 *     a ~45 MB .onnx, built once into bench/.cache/ and reused;
 *   - the `slow` fixture with a fixed number of rounds: a small JSON request that costs the worker
 *     a known amount of compute (B8's overload, where the worker, not HTTP, must be the bottleneck).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type onnxProto from 'onnx-proto';
import { writeMar } from '../test/fixtures/mar.js';
import { mlp, slow } from '../test/fixtures/models.js';
import { intAttr, intsAttr, modelBytes, node, onnx, seededRandom, valueInfo } from '../test/fixtures/onnx.js';
import { REPO_ROOT } from './servers.js';

export const CACHE_DIR = path.join(REPO_ROOT, 'bench/.cache');

/** A valid input row for the MLP (and the slow model): x float32 [N,4]. */
export const ROW = [5.1, 3.5, 1.4, 0.2];
export const ROW_BODY = JSON.stringify(ROW);

export interface ModelYaml {
  workers: number;
  batchSize?: number;
  maxBatchDelay?: number;
  jobQueueSize?: number;
  responseTimeout?: number;
}

export function modelYaml(y: ModelYaml): string {
  return (
    `minWorkers: ${y.workers}\nmaxWorkers: ${y.workers}\n` +
    (y.batchSize !== undefined ? `batchSize: ${y.batchSize}\n` : '') +
    (y.maxBatchDelay !== undefined ? `maxBatchDelay: ${y.maxBatchDelay}\n` : '') +
    (y.jobQueueSize !== undefined ? `jobQueueSize: ${y.jobQueueSize}\n` : '') +
    `responseTimeout: ${y.responseTimeout ?? 60}\n`
  );
}

async function marOf(file: string, modelName: string, onnxBytes: Uint8Array, yaml?: ModelYaml): Promise<string> {
  await writeMar(file, {
    modelName,
    serializedFile: 'model.onnx',
    ...(yaml ? { configFile: 'model-config.yaml' } : {}),
    files: { 'model.onnx': onnxBytes, ...(yaml ? { 'model-config.yaml': modelYaml(yaml) } : {}) },
  });
  return file;
}

/** `<store>/<name>.mar`: the tiny MLP (x float32 [N,4] → y float32 [N,3]). */
export async function mlpMar(store: string, name: string, yaml?: ModelYaml): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-bench-mlp-'));
  try {
    const m = await mlp(tmp);
    return await marOf(path.join(store, `${name}.mar`), name, fs.readFileSync(m.path), yaml);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** `<store>/<name>.mar`: x float32 [N,4] → y, `rounds` rounds of a 256×256 MatMul+Tanh per call. */
export async function slowMar(store: string, name: string, rounds: number, yaml?: ModelYaml): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-bench-slow-'));
  try {
    const file = await slow(tmp, { iterations: rounds });
    return await marOf(path.join(store, `${name}.mar`), name, fs.readFileSync(file), yaml);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- ResNet-18-shaped ------------------------------------------------------------------------------

export interface ResnetSpec {
  /** Channels of the stem and of the four stages (resnet18: 64; 64, 128, 256, 512). */
  widths: [number, number, number, number];
  classes: number;
}

export const RESNET18: ResnetSpec = { widths: [64, 128, 256, 512], classes: 1000 };
/** Smoke mode: the same layers with 1/8 of the channels (~1/64 of the compute). */
export const RESNET18_SMOKE: ResnetSpec = { widths: [8, 16, 32, 64], classes: 1000 };

/** Bump when the graph or the weights change, so cached files are rebuilt. */
const BUILDER_VERSION = 1;

/** Weights as raw little-endian float32 (rawData: far smaller and faster to encode than floatData). */
function rawFloat(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

/**
 * x float32 [N,3,224,224] → logits float32 [N,classes]. torchvision resnet18's layers: conv 7×7/2
 * (64) + ReLU, max-pool 3×3/2, four stages of two BasicBlocks (conv 3×3 + ReLU + conv 3×3, plus the
 * identity or, where the stage halves the size, a 1×1/2 conv; + ReLU), global average pool, FC.
 * Uniform He-scaled random weights keep the activations finite (no NaN/inf/denormal slow paths).
 */
export function resnetBytes(spec: ResnetSpec, seed = 18): { bytes: Uint8Array; params: number; macsPerImage: number } {
  const rnd = seededRandom(seed);
  const init: onnxProto.onnx.ITensorProto[] = [];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  let params = 0;
  let macs = 0;
  let size = 224;
  const weights = (name: string, dims: number[], fanIn: number, gain = 1) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const a = gain * Math.sqrt(6 / fanIn);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (rnd() * 2 - 1) * a;
    init.push(rawFloat(name, dims, v));
    params += n;
  };
  const conv = (name: string, input: string, cin: number, cout: number, k: number, stride: number, gain = 1): string => {
    weights(`${name}.w`, [cout, cin, k, k], cin * k * k, gain);
    weights(`${name}.b`, [cout], cout, 0.01);
    const pad = Math.floor(k / 2);
    nodes.push(
      node('Conv', [input, `${name}.w`, `${name}.b`], [name], [
        intsAttr('kernel_shape', [k, k]),
        intsAttr('strides', [stride, stride]),
        intsAttr('pads', [pad, pad, pad, pad]),
      ]),
    );
    const out = Math.floor((size + 2 * pad - k) / stride) + 1;
    macs += cout * out * out * cin * k * k;
    return name;
  };
  const relu = (input: string): string => {
    nodes.push(node('Relu', [input], [`${input}.relu`]));
    return `${input}.relu`;
  };

  const [w0] = spec.widths;
  let x = relu(conv('conv1', 'x', 3, w0, 7, 2));
  size = 112;
  nodes.push(node('MaxPool', [x], ['pool'], [intsAttr('kernel_shape', [3, 3]), intsAttr('strides', [2, 2]), intsAttr('pads', [1, 1, 1, 1])]));
  x = 'pool';
  size = 56;
  let cin = w0;
  spec.widths.forEach((width, stage) => {
    for (let block = 0; block < 2; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${block}`;
      const inSize = size;
      const a = relu(conv(`${p}.conv1`, x, cin, width, 3, stride));
      if (stride === 2) size = Math.floor((inSize + 2 - 3) / 2) + 1;
      // Scaled down so that the residual sums grow slowly without batch-norm.
      const b = conv(`${p}.conv2`, a, width, width, 3, 1, 0.5);
      let skip = x;
      if (stride !== 1 || cin !== width) {
        const s = size;
        size = inSize;
        skip = conv(`${p}.downsample`, x, cin, width, 1, stride);
        size = s;
      }
      nodes.push(node('Add', [b, skip], [`${p}.sum`]));
      x = relu(`${p}.sum`);
      cin = width;
    }
  });
  nodes.push(node('GlobalAveragePool', [x], ['gap']));
  nodes.push(node('Flatten', ['gap'], ['flat'], [intAttr('axis', 1)]));
  weights('fc.w', [spec.classes, cin], cin);
  weights('fc.b', [spec.classes], spec.classes, 0.01);
  nodes.push(node('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], [intAttr('transB', 1)]));
  macs += cin * spec.classes;

  const bytes = modelBytes({
    name: 'resnet18_shaped',
    inputs: [valueInfo('x', 'float32', ['N', 3, 224, 224])],
    outputs: [valueInfo('logits', 'float32', ['N', spec.classes])],
    initializers: init,
    nodes,
  });
  return { bytes, params, macsPerImage: macs };
}

export interface CachedResnet {
  onnxFile: string;
  params: number;
  macsPerImage: number;
  onnxBytes: number;
  /** Whether this run built it (false: reused from bench/.cache/). */
  built: boolean;
  buildMs: number;
}

/** The ResNet-18-shaped .onnx in bench/.cache/, built on first use. */
export function cachedResnet(spec: ResnetSpec): CachedResnet {
  const tag = `resnet18-shaped-w${spec.widths.join('-')}-c${spec.classes}-v${BUILDER_VERSION}`;
  const onnxFile = path.join(CACHE_DIR, `${tag}.onnx`);
  const metaFile = path.join(CACHE_DIR, `${tag}.json`);
  if (fs.existsSync(onnxFile) && fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { params: number; macsPerImage: number };
    return { onnxFile, ...meta, onnxBytes: fs.statSync(onnxFile).size, built: false, buildMs: 0 };
  }
  const t0 = Date.now();
  const { bytes, params, macsPerImage } = resnetBytes(spec);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  // Write-then-rename, so an interrupted build never leaves a truncated model in the cache.
  const tmp = `${onnxFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, onnxFile);
  fs.writeFileSync(metaFile, JSON.stringify({ params, macsPerImage }) + '\n');
  return { onnxFile, params, macsPerImage, onnxBytes: bytes.length, built: true, buildMs: Date.now() - t0 };
}

/** `<store>/<name>.mar` holding the cached ResNet-shaped model. */
export async function resnetMar(store: string, name: string, model: CachedResnet, yaml: ModelYaml): Promise<string> {
  return marOf(path.join(store, `${name}.mar`), name, fs.readFileSync(model.onnxFile), yaml);
}
