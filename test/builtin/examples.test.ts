/**
 * The built-in handler examples in model_store/ (scripts/build-vision-examples.ts): up to date
 * and deterministic, small, in torch-model-archiver 0.12.0's shape, and each serves the sample
 * image through its built-in handler with the expected answer.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BUILTIN_HANDLERS } from '../../src/handlers/builtin/index.js';
import { buildVisionExamples, SAMPLE_IMAGE, SAMPLE_RECT, VISION_EXAMPLES } from '../../scripts/build-vision-examples.js';
import { type FakeContext, fakeContext, handleWith, imageRequest } from './helpers.js';
import { readZipEntries } from '../fixtures/mar.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const storeDir = path.join(repoRoot, 'model_store');


describe('vision examples in model_store/', () => {
  let fresh: string;
  let contexts: FakeContext[] = [];
  let sample: Uint8Array;

  beforeAll(async () => {
    fresh = await mkdtemp(path.join(os.tmpdir(), 'onnxserve-vision-examples-'));
    await buildVisionExamples(fresh);
    sample = await readFile(path.join(storeDir, SAMPLE_IMAGE));
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.dispose()));
    contexts = [];
    await rm(fresh, { recursive: true, force: true });
  });

  it('are up to date (rebuilding gives the same bytes) and small', async () => {
    for (const file of [...VISION_EXAMPLES.map((e) => `${e.name}.mar`), SAMPLE_IMAGE]) {
      const committed = await readFile(path.join(storeDir, file));
      expect(committed.equals(await readFile(path.join(fresh, file))), `${file} is stale: run npx tsx scripts/build-vision-examples.ts`).toBe(true);
      expect(committed.length).toBeLessThan(64 * 1024);
    }
  });

  for (const example of VISION_EXAMPLES) {
    it(`${example.name}.mar: torch-model-archiver 0.12.0 manifest naming ${example.handler}, workers 1/1`, async () => {
      const files = await readZipEntries(path.join(storeDir, `${example.name}.mar`));
      const expectedFiles = [`${example.name}.onnx`, 'model-config.yaml', 'MAR-INF/MANIFEST.json', ...(example.indexToName ? ['index_to_name.json'] : [])];
      expect([...files.keys()].sort()).toEqual(expectedFiles.sort());
      const text = files.get('MAR-INF/MANIFEST.json')!.toString('utf8');
      const manifest = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(manifest)).toEqual(['createdOn', 'runtime', 'model', 'archiverVersion']);
      expect(manifest['model']).toEqual({
        modelName: example.name,
        serializedFile: `${example.name}.onnx`,
        handler: example.handler,
        modelVersion: '1.0',
        configFile: 'model-config.yaml',
      });
      expect(Object.keys(manifest['model'] as object)).toEqual(['modelName', 'serializedFile', 'handler', 'modelVersion', 'configFile']);
      expect(text).toBe(JSON.stringify(manifest, null, 2));
      const yaml = YAML.parse(files.get('model-config.yaml')!.toString('utf8')) as Record<string, unknown>;
      expect(yaml).toMatchObject({ minWorkers: 1, maxWorkers: 1 });
      expect(BUILTIN_HANDLERS[example.handler]).toBeDefined();
    });
  }

  async function serve(name: string): Promise<unknown> {
    const files = await readZipEntries(path.join(storeDir, `${name}.mar`));
    const example = VISION_EXAMPLES.find((e) => e.name === name)!;
    const ctx = await fakeContext(files.get(`${name}.onnx`)!, {
      yaml: YAML.parse(files.get('model-config.yaml')!.toString('utf8')) as Record<string, unknown>,
      files: files.has('index_to_name.json') ? { 'index_to_name.json': files.get('index_to_name.json')!.toString('utf8') } : {},
      handler: example.handler,
    });
    contexts.push(ctx);
    const [reply] = await handleWith(BUILTIN_HANDLERS[example.handler]!, ctx, [imageRequest(sample)]);
    return reply;
  }

  it('color_classifier: sample-red.png ⇒ "red" first, top 3', async () => {
    const reply = (await serve('color_classifier')) as Record<string, number>;
    expect(Object.keys(reply)).toHaveLength(3);
    expect(Object.keys(reply)[0]).toBe('red');
    expect(reply['red']).toBeGreaterThan(0.9);
  });

  it('color_detector: sample-red.png ⇒ one red box around the rectangle, in image pixels', async () => {
    const reply = (await serve('color_detector')) as Array<Record<string, number[] | number>>;
    expect(reply).toHaveLength(1);
    expect(reply[0]!['score']).toBe(1);
    const box = reply[0]!['red'] as number[];
    // 96×64 → 64×64: x scale 1.5; ±1 model pixel for the resampling blur.
    [SAMPLE_RECT.x0, SAMPLE_RECT.y0, SAMPLE_RECT.x1, SAMPLE_RECT.y1].forEach((v, i) => expect(Math.abs(box[i]! - v)).toBeLessThanOrEqual(1.5));
  });

  it('color_segmenter: sample-red.png ⇒ [64][64][2], red inside, background at the top edge', async () => {
    const map = (await serve('color_segmenter')) as number[][][];
    expect(map).toHaveLength(64);
    expect(map[0]).toHaveLength(64);
    expect(map[32]![32]![0]).toBe(1);
    expect(map[32]![32]![1]).toBeGreaterThan(0.99);
    expect(map[0]![0]![0]).toBe(0);
  });
});
