/**
 * B8: overload. A model whose every request costs its worker a fixed amount of compute (the `slow`
 * fixture, 60 rounds of a 256×256 MatMul+Tanh ≈ 20 ms here; a small JSON row in and out), so the
 * worker — not HTTP — is the bottleneck. 1 worker, batchSize 1, `jobQueueSize: 4`.
 *   1. capacity: closed loop, 4 connections (never more than the queue holds), 4 s (smoke 0.5 s);
 *   2. overload: an open loop at 4 × capacity for 30 s (smoke 1.5 s): requests go out on time
 *      whatever the answers, each with a client timeout (10 s; smoke 5 s) — one with no full
 *      answer by then counts as hung. Every status is counted; errors are anything but 200 and 503
 *      (socket errors included);
 *   3. afterwards the server must still answer /ping and a prediction.
 * Target: 0 errors other than 503, 0 hung requests; p99 of the accepted (200) requests reported.
 */
import { fmt, round, type Ctx, type ScenarioResult } from '../common.js';
import { closedLoop, openLoop, request } from '../load.js';
import { ROW_BODY, slowMar } from '../models.js';
import { waitWorkersReady, withOnnxserve } from '../servers.js';

const ROUNDS = 60;
const QUEUE = 4;

export async function overload(ctx: Ctx): Promise<ScenarioResult> {
  const S = ctx.smoke ? { capacityS: 0.5, overloadS: 1.5, timeoutMs: 5_000 } : { capacityS: 4, overloadS: 30, timeoutMs: 10_000 };
  return withOnnxserve(
    'overload',
    async (store) => {
      await slowMar(store, 'slow', ROUNDS, { workers: 1, batchSize: 1, jobQueueSize: QUEUE });
    },
    {},
    async ({ server, mgmt }) => {
      await waitWorkersReady(mgmt, ['slow']);
      const url = `${server.url}/predictions/slow`;
      ctx.step(`B8: capacity (closed loop, ${QUEUE} connections, ${S.capacityS} s)`);
      const cap = await closedLoop({ url, body: ROW_BODY, concurrency: QUEUE, durationS: S.capacityS, warmup: 0.2 });
      if (cap.errors) throw new Error(`errors while measuring capacity: ${cap.firstError}`);
      const rate = Math.max(1, Math.round(4 * cap.reqPerS));
      ctx.step(`B8: overload: ${rate} req/s (4 × ${fmt(cap.reqPerS, 1)}) for ${S.overloadS} s, client timeout ${S.timeoutMs} ms`);
      const o = await openLoop({ url, body: ROW_BODY, ratePerS: rate, durationS: S.overloadS, timeoutMs: S.timeoutMs });
      const ping = await request({ url: `${server.url}/ping` }, 10_000);
      const after = await request({ url, body: ROW_BODY }, 10_000);
      const ok = o.statuses['200'] ?? 0;
      const rejected = o.statuses['503'] ?? 0;
      const otherStatuses = Object.entries(o.statuses)
        .filter(([s]) => s !== '200' && s !== '503')
        .reduce((a, [, n]) => a + n, 0);
      const errors = otherStatuses + o.socketErrors;
      const recovered = ping.status === 200 && after.status === 200;
      const met = errors === 0 && o.timeouts === 0 && ok > 0 && recovered;
      return {
        id: 'B8',
        scenario: `overload 4× capacity, ${S.overloadS} s, jobQueueSize ${QUEUE}`,
        server: `p99 accepted ${fmt(o.accepted.p99Ms, 1)} ms; ${ok} × 200, ${rejected} × 503, ${errors} errors, ${o.timeouts} hung`,
        baseline: `capacity ${fmt(cap.reqPerS, 1)} req/s`,
        ratio: round(ok / o.durationS / cap.reqPerS, 3),
        ratioText: `${fmt(ok / o.durationS / cap.reqPerS, 2)}× cap. served`,
        target: '0 errors ≠ 503, 0 hung',
        met,
        details: {
          model: `slow fixture, ${ROUNDS} rounds`,
          jobQueueSize: QUEUE,
          capacity: { reqPerS: round(cap.reqPerS, 2), p50Ms: round(cap.p50Ms, 2), p99Ms: round(cap.p99Ms, 2), connections: QUEUE },
          overload: {
            ratePerS: rate,
            durationS: S.overloadS,
            clientTimeoutMs: S.timeoutMs,
            sent: o.sent,
            statuses: o.statuses,
            timeouts: o.timeouts,
            socketErrors: o.socketErrors,
            ...(o.firstSocketError ? { firstSocketError: o.firstSocketError } : {}),
            accepted: { ...o.accepted, p50Ms: round(o.accepted.p50Ms, 2), p99Ms: round(o.accepted.p99Ms, 2), maxMs: round(o.accepted.maxMs, 2), meanMs: round(o.accepted.meanMs, 2) },
            rejected: { count: o.rejected.count, p50Ms: round(o.rejected.p50Ms, 2), p99Ms: round(o.rejected.p99Ms, 2) },
            acceptedPerS: round(ok / o.durationS, 2),
            drainMs: round(o.drainMs, 1),
          },
          errors,
          recovered: { pingStatus: ping.status, predictionStatus: after.status },
        },
        notes: [
          `sent ${o.sent} at ${rate} req/s; 200s served at ${fmt(ok / o.durationS, 1)}/s (capacity ${fmt(cap.reqPerS, 1)}); 503 p50 ${fmt(o.rejected.p50Ms, 2)} ms; accepted p50 ${fmt(o.accepted.p50Ms, 1)} ms; after: /ping ${ping.status}, predict ${after.status}`,
        ],
      };
    },
  );
}
