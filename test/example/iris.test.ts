import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, beforeAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildExampleModel } from '../../scripts/build-example-model.js';
import { readZipEntries } from '../fixtures/mar.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const storeDir = path.join(repoRoot, 'model_store');
const marPath = path.join(storeDir, 'iris.mar');

const CLASSES = ['setosa', 'versicolor', 'virginica'];

/** Reads every file entry of a zip into memory, keyed by entry name. */

async function runModel(onnx: Uint8Array, rows: number[][]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['probabilities']);
    const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]);
    const out = await session.run({ input });
    const probs = out['probabilities']!;
    expect(probs.type).toBe('float32');
    expect(probs.dims).toEqual([rows.length, 3]);
    const data = probs.data as Float32Array;
    return rows.map((_, i) => Array.from(data.subarray(i * 3, i * 3 + 3)));
  } finally {
    await session.release();
  }
}

const argmax = (v: number[]): number => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

describe('example model model_store/iris.mar', () => {
  let files: Map<string, Buffer>;
  let sample: number[];
  let batch: number[][];

  beforeAll(async () => {
    files = await readZipEntries(marPath);
    sample = JSON.parse(await readFile(path.join(storeDir, 'iris-sample.json'), 'utf8')) as number[];
    batch = JSON.parse(await readFile(path.join(storeDir, 'iris-batch.json'), 'utf8')) as number[][];
  });

  it('holds the model, the label map, the config and a torch-model-archiver 0.12.0 manifest', () => {
    expect([...files.keys()].sort()).toEqual(
      ['MAR-INF/MANIFEST.json', 'index_to_name.json', 'iris.onnx', 'model-config.yaml'].sort(),
    );
    const manifestText = files.get('MAR-INF/MANIFEST.json')!.toString('utf8');
    const manifest = JSON.parse(manifestText) as Record<string, unknown>;
    expect(manifest).toEqual({
      createdOn: expect.stringMatching(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/) as unknown,
      runtime: 'python',
      model: {
        modelName: 'iris',
        serializedFile: 'iris.onnx',
        modelVersion: '1.0',
        configFile: 'model-config.yaml',
      },
      archiverVersion: '0.12.0',
    });
    expect(Object.keys(manifest)).toEqual(['createdOn', 'runtime', 'model', 'archiverVersion']);
    expect(manifest['model']).not.toHaveProperty('handler');
    // 2-space JSON, like torch-model-archiver writes it.
    expect(manifestText).toBe(JSON.stringify(manifest, null, 2));

    expect(JSON.parse(files.get('index_to_name.json')!.toString('utf8'))).toEqual({
      '0': 'setosa',
      '1': 'versicolor',
      '2': 'virginica',
    });

    const yaml = files.get('model-config.yaml')!.toString('utf8');
    for (const line of ['minWorkers: 1', 'maxWorkers: 1', 'batchSize: 8', 'maxBatchDelay: 5', 'responseTimeout: 30']) {
      expect(yaml.split('\n')).toContain(line);
    }
  });

  it('ships request samples in the shapes the server takes', () => {
    expect(sample).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(batch).toEqual([
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.0, 5.2, 2.3],
    ]);
  });

  it('classifies the samples with onnxruntime-node (setosa, virginica)', async () => {
    const onnx = files.get('iris.onnx')!;
    const single = await runModel(onnx, [sample]);
    const rows = await runModel(onnx, batch);
    expect(rows).toHaveLength(2);
    for (const row of [...single, ...rows]) {
      expect(row).toHaveLength(3);
      for (const p of row) expect(p).toBeGreaterThanOrEqual(0);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-5);
    }
    expect(CLASSES[argmax(single[0]!)]).toBe('setosa');
    expect(CLASSES[argmax(rows[0]!)]).toBe('setosa');
    expect(CLASSES[argmax(rows[1]!)]).toBe('virginica');
    // The batched row equals the single-row result (dynamic batch dimension).
    single[0]!.forEach((p, k) => expect(rows[0]![k]).toBeCloseTo(p, 6));
  });

  it('rebuilds byte-identically (the committed archive is up to date and the build is deterministic)', async () => {
    const dirs = [
      await mkdtemp(path.join(os.tmpdir(), 'iris-build-a-')),
      await mkdtemp(path.join(os.tmpdir(), 'iris-build-b-')),
    ];
    try {
      const results = [];
      for (const dir of dirs) results.push(await buildExampleModel(dir));
      expect(results[0]!.model.accuracy).toBeGreaterThanOrEqual(0.95);
      for (const name of ['iris.mar', 'iris-sample.json', 'iris-batch.json']) {
        const a = await readFile(path.join(dirs[0]!, name));
        const b = await readFile(path.join(dirs[1]!, name));
        const committed = await readFile(path.join(storeDir, name));
        expect(a.equals(b), `${name} differs between two builds`).toBe(true);
        expect(a.equals(committed), `model_store/${name} is stale: rerun scripts/build-example-model.ts`).toBe(true);
      }
    } finally {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    }
  });
});
