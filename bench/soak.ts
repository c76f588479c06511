/**
 * `npm run bench -- soak [--minutes N]` (issue 7): steady load for a few minutes (default 3) while
 * a worker is killed every 20 s (a handler that exits its thread on request) and the served
 * model switches version halfway (v2 registered, made default, v1 unregistered). Reports requests
 * served, errors by status, and the server's RSS at the start and the end (target: < 10 % growth).
 * Results: bench/results/soak.json. `--smoke` runs it for 10 s.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeMar } from '../test/fixtures/mar.js';
import { mlp } from '../test/fixtures/models.js';
import { closedLoop, request } from './load.js';
import { ROW_BODY } from './models.js';
import { rssMB, waitWorkersReady, withOnnxserve } from './servers.js';

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

/** Echoes, or ends its worker thread on "crash": the pool must replace it. */
const CRASHY = `export function handle(batch) {
  return batch.map((r) => {
    const text = new TextDecoder().decode(r.parts[0].data);
    if (text === 'crash') process.exit(3);
    return 'ok';
  });
}\n`;

export async function soak(opts: { minutes: number; smoke: boolean; step: (m: string) => void }): Promise<Record<string, unknown>> {
  const totalS = opts.smoke ? 10 : opts.minutes * 60;
  return withOnnxserve(
    'soak',
    async (store) => {
      const dir = fs.mkdtempSync(path.join(store, '.build-'));
      const onnx = fs.readFileSync((await mlp(dir)).path);
      fs.rmSync(dir, { recursive: true, force: true });
      const yaml = 'minWorkers: 1\nmaxWorkers: 1\nbatchSize: 8\nmaxBatchDelay: 2\n';
      for (const [file, version] of [
        ['mlp_v1.mar', '1.0'],
        ['mlp_v2.mar', '2.0'],
      ] as const) {
        await writeMar(path.join(store, file), { modelName: 'mlp', modelVersion: version, serializedFile: 'model.onnx', configFile: 'model-config.yaml', files: { 'model.onnx': onnx, 'model-config.yaml': yaml } });
      }
      await writeMar(path.join(store, 'crashy.mar'), {
        modelName: 'crashy',
        serializedFile: 'model.onnx',
        handler: 'crashy.mjs',
        configFile: 'model-config.yaml',
        files: { 'model.onnx': onnx, 'crashy.mjs': CRASHY, 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
      });
    },
    { load_models: 'mlp_v1.mar,crashy.mar', enable_model_api: 'true' },
    async ({ server, mgmt }) => {
      await waitWorkersReady(mgmt, ['mlp', 'crashy']);
      const url = `${server.url}/predictions/mlp`;
      // Warm up, then take the starting RSS.
      await closedLoop({ url, body: ROW_BODY, concurrency: 8, durationS: Math.min(5, totalS / 4), warmup: 0 });
      const rssStart = rssMB(server.pid);
      const events: string[] = [];
      const t0 = Date.now();
      let stop = false;
      const chaos = (async () => {
        let switched = false;
        let kills = 0;
        while (!stop) {
          await new Promise((r) => setTimeout(r, opts.smoke ? 2_000 : 20_000));
          if (stop) break;
          const k = await request({ url: `${server.url}/predictions/crashy`, body: 'crash' }, 30_000).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
          kills++;
          events.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: worker kill ${kills} → ${k.status}`);
          if (!switched && Date.now() - t0 > (totalS * 1000) / 2) {
            switched = true;
            const reg = await request({ url: `${mgmt}/models?url=mlp_v2.mar&initial_workers=1&synchronous=true`, method: 'POST' }, 60_000);
            const def = await request({ url: `${mgmt}/models/mlp/2.0/set-default`, method: 'PUT' }, 60_000);
            const del = await request({ url: `${mgmt}/models/mlp/1.0`, method: 'DELETE' }, 60_000);
            events.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: version switch: register ${reg.status}, set-default ${def.status}, unregister v1 ${del.status}`);
          }
        }
      })();
      opts.step(`soak: ${totalS} s at 8 connections, a worker kill every ${opts.smoke ? 2 : 20} s, version switch halfway`);
      const load = await closedLoop({ url, body: ROW_BODY, concurrency: 8, durationS: totalS, warmup: 0 });
      stop = true;
      await chaos;
      const rssEnd = rssMB(server.pid);
      const after = await request({ url, body: ROW_BODY }, 10_000);
      const result = {
        date: new Date().toISOString(),
        seconds: totalS,
        served: load.count,
        reqPerS: Math.round(load.reqPerS),
        errors: load.errors,
        firstError: load.firstError,
        p50Ms: Number(load.p50Ms.toFixed(3)),
        p99Ms: Number(load.p99Ms.toFixed(3)),
        rssStartMB: Math.round(rssStart),
        rssEndMB: Math.round(rssEnd),
        rssGrowthPct: Number((((rssEnd - rssStart) / rssStart) * 100).toFixed(1)),
        afterwards: after.status,
        events,
      };
      fs.mkdirSync(RESULTS, { recursive: true });
      fs.writeFileSync(path.join(RESULTS, opts.smoke ? 'soak-smoke.json' : 'soak.json'), JSON.stringify(result, null, 2) + '\n');
      return result;
    },
  );
}
