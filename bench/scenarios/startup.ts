/**
 * B5: start-up. `node dist/cli/main.js --start --foreground --ncs` over a copy of the example
 * model store (model_store/*.mar: every example, the default workers per model = cores each),
 * timed from spawn to
 *   - the first 200 from `GET /ping` (as soon as the start-up output names the inference address,
 *     /ping is polled every few ms), and
 *   - every model's workers READY (`GET /models/<name>` on the management API): when the server
 *     can actually answer predictions — /ping already says Healthy while workers still load, as
 *     TorchServe's does within maxRetryTimeoutInSec.
 * Baseline: `node --input-type=module -e <bench/bare-server.mjs>` to its first 200, timed the same
 * way. Repeated (median), alternating the two.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmt, median, round, sleep, type Ctx, type ScenarioResult } from '../common.js';
import { request } from '../load.js';
import {
  listModels,
  makeSandbox,
  managementUrl,
  onnxserveSpec,
  REPO_ROOT,
  removeSandbox,
  rssMB,
  startProcess,
  waitWorkersReady,
  type RunningServer,
} from '../servers.js';

/** Polls GET `url` every 2 ms until a 200; returns performance.now() of that answer. */
async function firstOk(url: string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await request({ url }, 5_000);
      if (r.status === 200) return performance.now();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
    await sleep(2);
  }
}

async function bareOnce(): Promise<number> {
  const code = fs.readFileSync(path.join(REPO_ROOT, 'bench/bare-server.mjs'), 'utf8');
  const server = await startProcess({
    args: ['--input-type=module', '-e', code],
    cwd: REPO_ROOT,
    env: process.env,
    ready: (o) => {
      const port = /listening (\d+)/.exec(o)?.[1];
      return port ? `http://127.0.0.1:${port}` : undefined;
    },
    timeoutMs: 20_000,
  });
  try {
    return (await firstOk(`${server.url}/`)) - server.spawnedAt;
  } finally {
    await server.stop();
  }
}

async function onnxserveOnce(store: string): Promise<{ pingMs: number; workersMs: number; models: string[]; workers: number; rssMB: number }> {
  const sandbox = makeSandbox('startup');
  let server: RunningServer | undefined;
  try {
    // Ready as soon as the inference address is printed (it listens then), not at "Model server started.".
    const spec = onnxserveSpec(sandbox, store);
    server = await startProcess({ ...spec, ready: (o) => /Inference API bind to: (http:\/\/\S+)/i.exec(o)?.[1] });
    const pingAt = await firstOk(`${server.url}/ping`);
    // The management address follows the inference one in the same burst of output.
    let mgmt: string | undefined;
    const until = Date.now() + 10_000;
    while (!mgmt) {
      try {
        mgmt = managementUrl({ ...server, startupOutput: server.output() });
      } catch (e) {
        if (Date.now() > until) throw e;
        await sleep(2);
      }
    }
    const models = await listModels(mgmt);
    const described = await waitWorkersReady(mgmt, models, 120_000, 5);
    const workersAt = performance.now();
    return {
      pingMs: pingAt - server.spawnedAt,
      workersMs: workersAt - server.spawnedAt,
      models,
      workers: described.reduce((a, d) => a + d.ready, 0),
      rssMB: rssMB(server.pid),
    };
  } finally {
    await server?.stop();
    removeSandbox(sandbox);
  }
}

export async function startup(ctx: Ctx): Promise<ScenarioResult> {
  const reps = ctx.smoke ? 1 : 3;
  const sandbox = makeSandbox('startup-store');
  try {
    const store = path.join(sandbox, 'model_store');
    fs.mkdirSync(store);
    const examples = fs.readdirSync(path.join(REPO_ROOT, 'model_store')).filter((f) => f.endsWith('.mar'));
    for (const f of examples) fs.copyFileSync(path.join(REPO_ROOT, 'model_store', f), path.join(store, f));
    ctx.step(`B5: start-up × ${reps}: bare \`node -e\` http server, onnxserve with ${examples.join(', ')}`);
    const bare: number[] = [];
    const serve: Awaited<ReturnType<typeof onnxserveOnce>>[] = [];
    for (let i = 0; i < reps; i++) {
      bare.push(await bareOnce());
      serve.push(await onnxserveOnce(store));
    }
    const bareMs = median(bare);
    const pingMs = median(serve.map((s) => s.pingMs));
    const workersMs = median(serve.map((s) => s.workersMs));
    const last = serve[serve.length - 1]!;
    return {
      id: 'B5',
      scenario: `start-up, ${last.models.length} example models (${last.workers} workers)`,
      server: `/ping ${fmt(pingMs, 0)} ms; workers ready ${fmt(workersMs, 0)} ms`,
      baseline: `${fmt(bareMs, 0)} ms (node -e http)`,
      ratio: round(pingMs / bareMs, 2),
      ratioText: `${fmt(pingMs / bareMs, 1)}× (/ping)`,
      target: 'report',
      details: {
        repetitions: reps,
        archives: examples,
        models: last.models,
        workersReady: last.workers,
        bareMs: bare.map((v) => round(v, 1)),
        pingMs: serve.map((s) => round(s.pingMs, 1)),
        workersReadyMs: serve.map((s) => round(s.workersMs, 1)),
        medians: { bareMs: round(bareMs, 1), pingMs: round(pingMs, 1), workersReadyMs: round(workersMs, 1) },
        workersReadyVsBare: round(workersMs / bareMs, 2),
        rssAtReadyMB: round(last.rssMB, 1),
        measuredFrom: 'spawn of the node process',
      },
      notes: [`workers ready is ${fmt(workersMs / bareMs, 1)}× the bare start; RSS then ${fmt(last.rssMB, 0)} MB`],
    };
  } finally {
    removeSandbox(sandbox);
  }
}
