/**
 * B6: memory of the server process (VmRSS from /proc; worker threads and their ORT sessions live
 * in that one process), serving the tiny MLP:
 *   1. idle with 1 model × 1 worker: right after the worker is READY, and after a short warm-up;
 *   2. a full-load run (32 connections, closed loop; 60 s, smoke 1.5 s), RSS sampled every
 *      second: growth = mean RSS over the last sixth of the run vs over the second sixth (allocator
 *      pools, JIT and V8 heap sizing settle in the first); also the least-squares slope after the
 *      first sixth, and the peak;
 *   3. per added worker: scaled with `PUT /models/mlp?min_worker=N&max_worker=N&synchronous=true`
 *      (to 4 workers; smoke 2), RSS after each.
 */
import { performance } from 'node:perf_hooks';
import { fmt, round, sleep, type Ctx, type ScenarioResult } from '../common.js';
import { closedLoop, request } from '../load.js';
import { mlpMar, ROW_BODY } from '../models.js';
import { procMemory, rssMB, waitWorkersReady, withOnnxserve } from '../servers.js';

function slopeMBPerMin(samples: Array<{ s: number; mb: number }>): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mx = samples.reduce((a, p) => a + p.s, 0) / n;
  const my = samples.reduce((a, p) => a + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.s - mx) * (p.mb - my);
    den += (p.s - mx) ** 2;
  }
  return den > 0 ? (num / den) * 60 : NaN;
}

export async function memory(ctx: Ctx): Promise<ScenarioResult> {
  const S = ctx.smoke ? { loadS: 1.5, tickMs: 250, maxWorkers: 2, settleMs: 200 } : { loadS: 60, tickMs: 1000, maxWorkers: 4, settleMs: 1000 };
  return withOnnxserve(
    'memory',
    async (store) => {
      await mlpMar(store, 'mlp', { workers: 1, batchSize: 1 });
    },
    {},
    async ({ server, mgmt }) => {
      await waitWorkersReady(mgmt, ['mlp']);
      await sleep(S.settleMs);
      const idleReady = rssMB(server.pid);
      const url = `${server.url}/predictions/mlp`;
      await closedLoop({ url, body: ROW_BODY, concurrency: 4, requests: 500 });
      await sleep(S.settleMs);
      const idleWarm = rssMB(server.pid);

      ctx.step(`B6: ${S.loadS} s full load (32 connections), RSS every ${S.tickMs} ms`);
      const samples: Array<{ s: number; mb: number }> = [{ s: 0, mb: idleWarm }];
      const load = await closedLoop({
        url,
        body: ROW_BODY,
        concurrency: 32,
        durationS: S.loadS,
        tickMs: S.tickMs,
        onTick: (s) => samples.push({ s: round(s, 2), mb: round(rssMB(server.pid), 1) }),
      });
      const endMB = rssMB(server.pid);
      samples.push({ s: round(load.wallS, 2), mb: round(endMB, 1) });
      // RSS under load is a saw-tooth (V8 heap growing, then collected: ±10 % here), so compare
      // windows, not single samples: the mean over the second sixth of the run (allocator pools, JIT
      // and heap sizing settle in the first) against the mean over the last sixth.
      const sixth = S.loadS / 6;
      const inWindow = (from: number, to: number) => samples.filter((p) => p.s >= from && p.s <= to);
      const refWin = inWindow(sixth, 2 * sixth);
      const endWin = inWindow(load.wallS - sixth, Infinity);
      const avg = (w: Array<{ mb: number }>) => w.reduce((a, p) => a + p.mb, 0) / Math.max(1, w.length);
      const refMB = avg(refWin.length ? refWin : samples.slice(0, 1));
      const endAvgMB = avg(endWin.length ? endWin : samples.slice(-1));
      const growth = (endAvgMB - refMB) / refMB;
      const floor = (w: Array<{ mb: number }>) => Math.min(...w.map((p) => p.mb));
      const peakMB = (procMemory(server.pid)?.vmHwmKB ?? NaN) / 1024;
      const slope = slopeMBPerMin(samples.filter((p) => p.s >= sixth));

      ctx.step(`B6: scaling mlp to ${S.maxWorkers} workers, one at a time`);
      await sleep(S.settleMs);
      const perWorker: Array<{ workers: number; rssMB: number; scaleMs: number }> = [{ workers: 1, rssMB: round(rssMB(server.pid), 1), scaleMs: 0 }];
      for (let n = 2; n <= S.maxWorkers; n++) {
        const t0 = performance.now();
        const r = await request({ url: `${mgmt}/models/mlp?min_worker=${n}&max_worker=${n}&synchronous=true`, method: 'PUT' });
        const scaleMs = performance.now() - t0;
        if (r.status !== 200) throw new Error(`scale to ${n}: HTTP ${r.status} ${r.body.toString()}`);
        const [d] = await waitWorkersReady(mgmt, ['mlp']);
        if (d!.ready !== n) throw new Error(`scaled to ${n} but ${d!.ready} workers are READY`);
        // Each new worker answers once, so its session has run (first-run allocations included).
        await closedLoop({ url, body: ROW_BODY, concurrency: n * 2, requests: 50 * n });
        await sleep(S.settleMs);
        perWorker.push({ workers: n, rssMB: round(rssMB(server.pid), 1), scaleMs: round(scaleMs, 1) });
      }
      const increments = perWorker.slice(1).map((p, i) => p.rssMB - perWorker[i]!.rssMB);
      const perAdded = increments.reduce((a, b) => a + b, 0) / Math.max(1, increments.length);
      const threads = procMemory(server.pid)?.threads;
      return {
        id: 'B6',
        scenario: `memory: tiny MLP, idle / per worker / ${S.loadS} s full load`,
        server: `idle ${fmt(idleReady, 0)} MB, +${fmt(perAdded, 1)} MB/worker; ${fmt(refMB, 0)}→${fmt(endAvgMB, 0)} MB under load`,
        baseline: '—',
        ratio: round(growth, 4),
        ratioText: `${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)} % growth`,
        target: '< 10 % growth',
        met: growth < 0.1,
        details: {
          idleAtReadyMB: round(idleReady, 1),
          idleAfterWarmupMB: round(idleWarm, 1),
          load: { durationS: S.loadS, connections: 32, reqPerS: round(load.reqPerS, 1), requests: load.count, errors: load.errors, p99Ms: round(load.p99Ms, 2) },
          growthWindows: {
            reference: { fromS: round(sixth, 1), toS: round(2 * sixth, 1), meanMB: round(refMB, 1), minMB: refWin.length ? floor(refWin) : null },
            end: { fromS: round(load.wallS - sixth, 1), meanMB: round(endAvgMB, 1), minMB: endWin.length ? floor(endWin) : null },
          },
          endMB: round(endMB, 1),
          growth: round(growth, 4),
          growthFromIdle: round((endAvgMB - idleWarm) / idleWarm, 4),
          slopeMBPerMinAfterReference: round(slope, 2),
          peakRssMB: round(peakMB, 1),
          samples,
          perWorker,
          perAddedWorkerMB: round(perAdded, 1),
          threadsAtEnd: threads,
        },
        notes: [
          `RSS by workers: ${perWorker.map((p) => `${p.workers}: ${p.rssMB}`).join(', ')} MB; under load slope ${fmt(slope, 2)} MB/min, peak ${fmt(peakMB, 0)} MB, ${fmt(load.reqPerS, 0)} req/s`,
        ],
      };
    },
  );
}
