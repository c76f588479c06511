/**
 * A/B of server builds (or configs) in one run: each `<cli>[@key=value...]` is started over its own
 * tiny-MLP store (1 worker, batchSize 1), then closed-loop loads alternate between them in rounds,
 * as B1/B2 do — so builds are compared under the same machine conditions. For chasing a regression:
 *
 *   git worktree add /tmp/old <rev> && (cd /tmp/old && ln -s $PWD/node_modules . && npm run build)
 *   CONC=1 ROUNDS=6 node --import tsx bench/ab.ts /tmp/old/dist/cli/main.js dist/cli/main.js dist/cli/main.js@metrics_mode=prometheus
 *
 * Prints pooled p50 and req/s per server and each round's p50. CONC (default 1) connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closedLoop, interleaved, type LoadResult } from './load.js';
import { mlpMar, ROW_BODY } from './models.js';
import { makeSandbox, onnxserveSpec, waitWorkersReady } from './servers.js';

const clis = process.argv.slice(2);
const conc = Number(process.env.CONC ?? 1);
const children: ChildProcess[] = [];
const urls: Record<string, string> = {};
for (const arg of clis) {
  const [given, ...kvs] = arg.split('@') as [string, ...string[]];
  const cli = path.resolve(given);
  const extra = Object.fromEntries(kvs.map((kv) => kv.split('=') as [string, string]));
  const sandbox = makeSandbox('ab');
  const store = path.join(sandbox, 'model_store');
  fs.mkdirSync(store);
  await mlpMar(store, 'mlp', { workers: 1, batchSize: 1 });
  const spec = onnxserveSpec(sandbox, store, extra);
  const child = spawn(process.execPath, [cli, ...spec.args.slice(1)], { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  while (!out.includes('Model server started.')) {
    if (exited) throw new Error(`${arg} exited before starting:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /Inference API bind to: (http:\/\/\S+)/.exec(out)![1]!;
  await waitWorkersReady(/Management API bind to: (http:\/\/\S+)/.exec(out)![1]!, ['mlp']);
  urls[[given, ...kvs].join('@')] = url;
}
const loads = Object.fromEntries(Object.entries(urls).map(([k, u]) => [k, () => closedLoop({ url: `${u}/predictions/mlp`, body: ROW_BODY, concurrency: conc, durationS: 1.5, warmup: 0.3, keepSamples: true })])) as Record<string, () => Promise<LoadResult>>;
const r = await interleaved(Number(process.env.ROUNDS ?? 6), loads);
for (const [k, v] of Object.entries(r.pooled)) console.log(`${k.padEnd(48)} p50 ${v.p50Ms.toFixed(3)} ms  req/s ${v.reqPerS.toFixed(0)}  per-round p50 ${r.rounds[k]!.map((x) => x.p50Ms.toFixed(3)).join(' ')}`);
for (const c of children) c.kill('SIGTERM');
process.exit(0);
