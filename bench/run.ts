/**
 * onnxserve benchmark suite (`npm run bench`, issue 5): scenarios B1–B11, each measuring the real
 * CLI (dist/) against a physical limit on the same machine in the same run, and reporting the ratio.
 *
 *   B1  tiny MLP, /predictions JSON, 32 connections  vs bare node:http, 32 connections   (req/s)
 *   B2  tiny MLP, 1 connection, p50                   vs bare node:http, 1 connection    (p50)
 *   B3  ResNet-18-shaped, OIP v2 binary, 16 conn, dynamic batching vs raw in-process ORT at its best batch (images/s)
 *   B4  the same with OIP v2 JSON tensors             vs B3's server figure
 *   B5  start-up with the example models to /ping 200 (and workers ready) vs `node -e` bare http server
 *   B6  memory: RSS idle, per added worker, growth over a full-load run
 *   B7  50 models registered over the management API: time and RSS per model
 *   B8  overload: 4× capacity, small job queue: statuses, hung requests, p99 of the accepted
 *   B9  tiny MLP over gRPC Predictions vs REST, 32 in flight   (req/s ratio, report)
 *   B10 the same, 1 in flight                                 (p50 ratio; also vs a bare grpc-js server)
 *   B11 OIP gRPC ModelInfer (raw) vs OIP REST binary, 32 in flight (req/s ratio, report)
 *
 * Usage: node --import tsx bench/run.ts [--smoke] [--only B1,B3] [--out file.json] [--config key=value ...] [--oip-only]
 *   --smoke   every scenario for a second or two (CI keeps the suite working; nothing asserted);
 *             results go to bench/results/smoke.json unless --out says otherwise.
 *   full run  results in bench/results/latest.json and bench/results/<YYYY-MM-DD>.json.
 * Exit status 1 when a scenario failed to run (a missed target is reported, not an error).
 * See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import { soak } from './soak.js';
import path from 'node:path';
import { cpuModel, fmt, SCENARIO_IDS, SCENARIO_NAMES, table, type Ctx, type ScenarioId, type ScenarioResult } from './common.js';
import { OIP_COUNTS, oipBench, type OipScenario } from './oip.js';
import { grpcScenarios } from './scenarios/grpc.js';
import { httpOverhead } from './scenarios/http-overhead.js';
import { manyModels } from './scenarios/many-models.js';
import { memory } from './scenarios/memory.js';
import { overload } from './scenarios/overload.js';
import { resnet } from './scenarios/resnet.js';
import { startup } from './scenarios/startup.js';
import { configOverridesInUse, killAllSync, overrideConfig, REPO_ROOT } from './servers.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');

/** Scenario modules, in run order; one module may produce several rows (B1+B2, B3+B4). */
const GROUPS: Array<{ ids: ScenarioId[]; run: (ctx: Ctx) => Promise<ScenarioResult[]> }> = [
  { ids: ['B1', 'B2'], run: httpOverhead },
  { ids: ['B3', 'B4'], run: resnet },
  { ids: ['B5'], run: async (ctx) => [await startup(ctx)] },
  { ids: ['B6'], run: async (ctx) => [await memory(ctx)] },
  { ids: ['B7'], run: async (ctx) => [await manyModels(ctx)] },
  { ids: ['B8'], run: async (ctx) => [await overload(ctx)] },
  { ids: ['B9', 'B10', 'B11'], run: grpcScenarios },
];

const step = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

const HEADER = ['id', 'scenario', 'server', 'baseline', 'ratio', 'target', 'met?'];

function tableRow(r: ScenarioResult, smoke: boolean): string[] {
  if (r.error) return [r.id, r.scenario, 'FAILED', '', '', r.target, 'error'];
  const met = r.met === undefined ? '—' : r.met ? 'yes' : 'no';
  return [r.id, r.scenario, r.server, r.baseline, r.ratioText, r.target, smoke && r.met !== undefined ? `(${met})` : met];
}

/** Markdown, for pasting into the README. */
function markdown(rows: string[][]): string {
  return [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function oipTable(oip: OipScenario[]): string {
  const rows: string[][] = [['OIP v2, 1 worker, c1', 'encoding', 'request KB', 'response KB', 'p50 ms', 'mean ms', 'server CPU ms/req', 'errors']];
  const kb = (b: number) => (b / 1024).toFixed(1);
  for (const s of oip) {
    for (const [enc, r] of [
      ['JSON', s.json],
      ['binary', s.binary],
    ] as const) {
      rows.push([s.name, enc, kb(r.requestBytes), kb(r.responseBytes), fmt(r.p50Ms, 3), fmt(r.meanMs, 3), r.serverCpuMsPerRequest.toFixed(2), String(r.errors)]);
    }
    const q = s.ratios;
    rows.push([s.name, 'JSON ÷ binary', `${q.requestBytes}×`, `${q.responseBytes}×`, `${q.p50}×`, `${q.mean}×`, `${q.serverCpu}×`, '']);
  }
  return table(rows);
}

function machine() {
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpuModel: cpuModel(),
    cpuCount: os.availableParallelism(),
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
  };
}

/** `--oip-only`: the OIP JSON-vs-binary micro-benchmark (image_mean / identity), into bench/results/oip.json. */
async function oipOnly(): Promise<void> {
  const oip = await oipBench(step);
  console.log(`\nonnxserve OIP bench — ${new Date().toISOString()} — node ${process.version} — ${cpuModel()} × ${os.availableParallelism()}\n`);
  console.log(oipTable(oip));
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, 'oip.json'), JSON.stringify({ date: new Date().toISOString(), ...machine(), settings: OIP_COUNTS, oip }, null, 2) + '\n');
}

async function main(): Promise<number> {
  if (process.argv.includes('soak')) {
    const minutes = Number(argValue('--minutes') ?? 3);
    const r = await soak({ minutes, smoke: process.argv.includes('--smoke'), step });
    console.log(JSON.stringify(r, null, 2));
    return r.errors === 0 ? 0 : 1;
  }
  if (process.argv.includes('--oip-only')) {
    await oipOnly();
    return 0;
  }
  const smoke = process.argv.includes('--smoke');
  const only = argValue('--only')
    ?.split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s): s is ScenarioId => (SCENARIO_IDS as string[]).includes(s));
  if (only && only.length === 0) throw new Error(`--only takes ids among ${SCENARIO_IDS.join(', ')}`);
  const out = argValue('--out');
  // --config key=value (repeatable): a config.properties key for every server the run starts.
  process.argv.forEach((a, i) => {
    if (a !== '--config') return;
    const kv = process.argv[i + 1] ?? '';
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--config takes key=value, got "${kv}"`);
    overrideConfig(kv.slice(0, eq), kv.slice(eq + 1));
  });
  const ctx: Ctx = { smoke, step };
  const began = Date.now();
  const loadavgBefore = os.loadavg();
  step(`${smoke ? 'smoke run (tiny counts, nothing asserted)' : 'full run'}: ${only?.join(', ') ?? SCENARIO_IDS.join(', ')}`);

  const results: ScenarioResult[] = [];
  const printed: string[][] = [];
  for (const g of GROUPS) {
    const ids = g.ids.filter((id) => !only || only.includes(id));
    if (ids.length === 0) continue;
    const t0 = Date.now();
    let rows: ScenarioResult[];
    try {
      rows = (await g.run(ctx)).filter((r) => ids.includes(r.id));
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      step(`${ids.join('+')} FAILED: ${msg}`);
      rows = ids.map((id) => ({ id, scenario: SCENARIO_NAMES[id], server: '', baseline: '', ratioText: '', target: '', details: {}, error: msg }));
    }
    for (const r of rows) {
      r.details.scenarioSeconds = Number(((Date.now() - t0) / 1000).toFixed(1));
      results.push(r);
      const tr = tableRow(r, smoke);
      printed.push(tr);
      console.log(`${tr[0]}  ${tr[1]}: ${tr[2]} | baseline ${tr[3]} | ratio ${tr[4]} | target ${tr[5]} | met ${tr[6]}`);
      for (const n of r.notes ?? []) console.log(`      ${n}`);
    }
  }

  const durationS = (Date.now() - began) / 1000;
  const loadavgAfter = os.loadavg();
  const m = machine();
  const header =
    `onnxserve bench (${smoke ? 'SMOKE — tiny counts, not a measurement' : 'full run'}) — ${new Date().toISOString()} — node ${m.node} — ` +
    `${m.cpuModel} × ${m.cpuCount} — load avg before ${loadavgBefore.map((v) => v.toFixed(2)).join('/')}, after ${loadavgAfter.map((v) => v.toFixed(2)).join('/')}`;
  console.log(`\n${header}\n`);
  console.log(table([HEADER, ...printed], 2));
  console.log(`\nMarkdown:\n\n${markdown(printed)}\n`);

  const json = {
    date: new Date().toISOString(),
    mode: smoke ? 'smoke' : 'full',
    ...m,
    loadavgBefore,
    loadavgAfter,
    durationS: Number(durationS.toFixed(1)),
    table: printed.map((r) => Object.fromEntries(HEADER.map((h, i) => [h, r[i]]))),
    configOverrides: configOverridesInUse(),
    scenarios: Object.fromEntries(results.map((r) => [r.id, r])),
  };
  const files = out
    ? [path.resolve(out)]
    : smoke
      ? [path.join(RESULTS_DIR, 'smoke.json')]
      : [path.join(RESULTS_DIR, 'latest.json'), path.join(RESULTS_DIR, `${json.date.slice(0, 10)}.json`)];
  for (const f of files) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, JSON.stringify(json, null, 2) + '\n');
  }
  const failed = results.filter((r) => r.error).map((r) => r.id);
  console.log(`bench took ${durationS.toFixed(1)} s; results in ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  if (failed.length) console.log(`FAILED: ${failed.join(', ')}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => {
    killAllSync();
    process.exit(code);
  },
  (e: unknown) => {
    killAllSync();
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
