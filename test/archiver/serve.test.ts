/**
 * End to end: the compiled archiver (`dist/archiver/main.js`, built by `npm test`, run through a
 * link named `torch-model-archiver` as the npm bin would be) packs the mlp model in every format
 * straight into a model store, and the real server (`dist/cli/main.js`) serves each archive.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';
import { archiver, MAIN_JS } from './helpers.js';

const FORMATS = [
  ['mlp_mar', 'default'],
  ['mlp_store', 'zip-store'],
  ['mlp_tgz', 'tgz'],
  ['mlp_dir', 'no-archive'],
] as const;

let sb: Sandbox;
let server: ForegroundServer;
let model: MlpModel;

beforeAll(async () => {
  sb = makeSandbox();
  model = await mlp(sb.dir);
  fs.writeFileSync(path.join(sb.dir, 'model-config.yaml'), 'minWorkers: 1\nmaxWorkers: 1\n');
  const link = path.join(sb.dir, 'torch-model-archiver');
  fs.symlinkSync(MAIN_JS, link);
  for (const [name, format] of FORMATS) {
    const r = await archiver(
      ['--model-name', name, '--version', '1.0', '--serialized-file', 'mlp.onnx', '--handler', 'base_handler',
        '--config-file', 'model-config.yaml', '--archive-format', format, '--export-path', sb.store],
      { cwd: sb.dir, entry: link, compiled: true },
    );
    if (r.code !== 0) throw new Error(`torch-model-archiver failed for ${format}:\n${r.stdout}\n${r.stderr}`);
  }
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all' });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

describe('archives built by the archiver CLI are served', () => {
  it('wrote one archive per format into the model store', () => {
    expect(fs.readdirSync(sb.store).sort()).toEqual(['mlp_dir', 'mlp_mar.mar', 'mlp_store.mar', 'mlp_tgz.tar.gz']);
  });

  it.each(FORMATS)('%s (%s) answers a prediction equal to the reference forward pass', async (name) => {
    const res = await eventually(async () => {
      const r = await http(`${server.endpoints.inference}/predictions/${name}`, { method: 'POST', body: '[1, 2, 3, 4]' });
      if (r.status !== 200) throw new Error(`${name}: ${r.status} ${r.text}`);
      return r;
    }, 30_000);
    const got = res.json as number[];
    const want = model.expected([[1, 2, 3, 4]])[0] ?? [];
    expect(got).toHaveLength(3);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i] ?? NaN, 4));
  });

  it('describes each model with the name and version from the manifest', async () => {
    for (const [name] of FORMATS) {
      const res = await http(`${server.endpoints.management}/models/${name}`);
      expect(res.status).toBe(200);
      const [d] = res.json as Array<{ modelName: string; modelVersion: string }>;
      expect(d).toMatchObject({ modelName: name, modelVersion: '1.0' });
    }
  });
});
