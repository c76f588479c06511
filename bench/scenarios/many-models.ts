/**
 * B7: many models. The tiny MLP archive copied 50× (smoke: 3) into the model store under different
 * names; the server starts with none loaded (`load_models=` empty, `enable_model_api=true`), then
 * each is registered over the management API, one after the other:
 *   POST /models?url=<name>.mar&model_name=<name>&initial_workers=1&synchronous=true
 * (synchronous: the answer comes once its worker is READY). Reports the registration time per model
 * (mean, p50, max; first and last ten, to show whether it degrades with the count) and the RSS per
 * model: (RSS after all − RSS with none) ÷ count. Every model then answers one prediction.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmt, median, round, sleep, type Ctx, type ScenarioResult } from '../common.js';
import { request } from '../load.js';
import { mlpMar, ROW_BODY } from '../models.js';
import { procMemory, rssMB, withOnnxserve } from '../servers.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function manyModels(ctx: Ctx): Promise<ScenarioResult> {
  const count = ctx.smoke ? 3 : 50;
  const names = Array.from({ length: count }, (_, i) => `mlp_${String(i).padStart(2, '0')}`);
  return withOnnxserve(
    'many',
    async (store) => {
      const first = await mlpMar(store, 'template');
      for (const n of names) fs.copyFileSync(first, path.join(store, `${n}.mar`));
      fs.rmSync(first);
    },
    { load_models: '', enable_model_api: 'true' },
    async ({ server, mgmt }) => {
      await sleep(ctx.smoke ? 200 : 1000);
      const before = rssMB(server.pid);
      const threadsBefore = procMemory(server.pid)?.threads;
      ctx.step(`B7: registering ${count} models, 1 worker each, synchronous`);
      const times: number[] = [];
      const t0 = performance.now();
      for (const n of names) {
        const t = performance.now();
        const r = await request({ url: `${mgmt}/models?url=${n}.mar&model_name=${n}&initial_workers=1&synchronous=true`, method: 'POST' });
        times.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`register ${n}: HTTP ${r.status} ${r.body.toString()}`);
      }
      const totalS = (performance.now() - t0) / 1000;
      await sleep(ctx.smoke ? 200 : 1000);
      const after = rssMB(server.pid);
      const threadsAfter = procMemory(server.pid)?.threads;
      for (const n of names) {
        const r = await request({ url: `${server.url}/predictions/${n}`, body: ROW_BODY });
        if (r.status !== 200) throw new Error(`predict ${n}: HTTP ${r.status} ${r.body.toString()}`);
      }
      const afterPredict = rssMB(server.pid);
      const perModelMB = (after - before) / count;
      const perModelAfterPredictMB = (afterPredict - before) / count;
      const ms = mean(times);
      const k = Math.min(10, Math.ceil(count / 2));
      return {
        id: 'B7',
        scenario: `${count} tiny models registered, 1 worker each`,
        server: `${fmt(ms, 0)} ms/model (p50 ${fmt(median(times), 0)}), ${fmt(perModelMB, 1)} MB/model`,
        baseline: '—',
        ratioText: '—',
        target: 'report',
        details: {
          models: count,
          registerMs: times.map((v) => round(v, 1)),
          meanMs: round(ms, 1),
          p50Ms: round(median(times), 1),
          maxMs: round(Math.max(...times), 1),
          firstMeanMs: round(mean(times.slice(0, k)), 1),
          lastMeanMs: round(mean(times.slice(-k)), 1),
          totalS: round(totalS, 2),
          rssNoModelsMB: round(before, 1),
          rssAllModelsMB: round(after, 1),
          rssAfterOnePredictionEachMB: round(afterPredict, 1),
          perModelMB: round(perModelMB, 2),
          perModelAfterPredictionMB: round(perModelAfterPredictMB, 2),
          threads: { before: threadsBefore, after: threadsAfter },
        },
        notes: [
          `first ${k}: ${fmt(mean(times.slice(0, k)), 0)} ms, last ${k}: ${fmt(mean(times.slice(-k)), 0)} ms each; RSS ${fmt(before, 0)} → ${fmt(after, 0)} MB (${fmt(afterPredict, 0)} after one prediction each); threads ${threadsBefore} → ${threadsAfter}`,
        ],
      };
    },
  );
}
