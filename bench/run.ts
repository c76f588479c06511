/**
 * onnxserve benchmark (`npm run bench`): one run measures, on the same machine and minute,
 *   1. raw ONNX Runtime in this process (session.run on one iris row, sequential),
 *   2. a bare node:http server in a child process (the HTTP floor),
 *   3. the real onnxserve CLI serving iris with a few worker/batching settings,
 *   4. the onnxserve process's memory after load,
 * and reports ratios between them (absolute numbers depend on the machine; ratios much less).
 * Results: a table on stdout and bench/results/latest.json. See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import yauzl from 'yauzl';
import { sessionOptions } from '../src/runtime/session.js';
import { intraOpThreadsFor } from '../src/registry/settings.js';
import { writeMar } from '../test/fixtures/mar.js';
import { closedLoop, latencyStats, type LatencyStats, type LoadResult } from './load.js';
import { OIP_COUNTS, oipBench, type OipScenario } from './oip.js';
import {
  killAllSync,
  makeSandbox,
  procMemory,
  removeSandbox,
  REPO_ROOT,
  startBare,
  startOnnxserve,
  type ProcMemory,
  type RunningServer,
} from './servers.js';

// ---- settings (fixed counts, so every run does the same work) ------------------------------------

const CONCURRENCIES = [1, 8] as const;
const ORT_WARMUP = 1_000;
const ORT_RUNS = 10_000;
const BARE = { warmup: 1_000, requests: 10_000 };
const SERVE = { warmup: 500, requests: 4_000 };

const IRIS_MAR = path.join(REPO_ROOT, 'model_store/iris.mar');
const SAMPLE = [5.1, 3.5, 1.4, 0.2];
const SAMPLE_BODY = JSON.stringify(SAMPLE);
const RESULTS = path.join(REPO_ROOT, 'bench/results/latest.json');

interface ServeConfig {
  name: string;
  workers: number;
  batchSize: number;
  /** Left out of model-config.yaml when undefined (it only matters with batchSize > 1; 0 means "unset" there). */
  maxBatchDelay?: number;
}

const SERVE_CONFIGS: ServeConfig[] = [
  { name: '1w b1', workers: 1, batchSize: 1 },
  { name: '1w b8/2ms', workers: 1, batchSize: 8, maxBatchDelay: 2 },
  { name: '2w b8/2ms', workers: 2, batchSize: 8, maxBatchDelay: 2 },
];

// ---- helpers ----------------------------------------------------------------------------------------

/** Every file of a zip (the .mar) as name → bytes. */
function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error(`cannot open ${file}`));
      const files = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(files));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error(`cannot read ${entry.fileName}`));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

function need(files: Map<string, Buffer>, name: string): Buffer {
  const f = files.get(name);
  if (!f) throw new Error(`${IRIS_MAR} has no ${name}`);
  return f;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
const round = (v: number, digits = 3) => Number(v.toFixed(digits));
const step = (s: string) => process.stderr.write(`[bench] ${s}\n`);

async function eventually<T>(check: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// ---- 1. raw ORT ----------------------------------------------------------------------------------

interface RawOrtResult {
  intraOpThreads: number;
  single: LatencyStats & { runsPerS: number };
  /** One session.run over 8 rows (what a full batch costs the worker). */
  batch8: LatencyStats & { runsPerS: number; rowsPerS: number };
}

async function timeRuns(session: ort.InferenceSession, input: string, rows: number, warmup: number, runs: number) {
  const data = Float32Array.from({ length: rows * 4 }, (_, i) => SAMPLE[i % 4]!);
  const once = () => session.run({ [input]: new ort.Tensor('float32', data.slice(), [rows, 4]) });
  for (let i = 0; i < warmup; i++) await once();
  const lat: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    lat.push(performance.now() - t0);
  }
  const wallS = (performance.now() - start) / 1000;
  return { ...latencyStats(lat), runsPerS: runs / wallS };
}

async function rawOrt(model: Buffer): Promise<RawOrtResult> {
  // The same options a single onnxserve worker uses (threads = cores / maxWorkers).
  const intraOpThreads = intraOpThreadsFor(0, os.availableParallelism(), 1);
  const session = await ort.InferenceSession.create(new Uint8Array(model), sessionOptions(intraOpThreads));
  try {
    const input = session.inputNames[0]!;
    const single = await timeRuns(session, input, 1, ORT_WARMUP, ORT_RUNS);
    const b8 = await timeRuns(session, input, 8, ORT_WARMUP / 5, ORT_RUNS / 5);
    return { intraOpThreads, single, batch8: { ...b8, rowsPerS: b8.runsPerS * 8 } };
  } finally {
    await session.release();
  }
}

// ---- 2. bare node:http -----------------------------------------------------------------------------

interface HttpScenario {
  name: string;
  pid: number;
  byConcurrency: Record<string, LoadResult>;
  memory: { idle?: ProcMemory; afterLoad?: ProcMemory };
}

async function loadAll(server: RunningServer, urlPath: string, counts: { warmup: number; requests: number }, check?: (b: string) => void) {
  const out: Record<string, LoadResult> = {};
  for (const c of CONCURRENCIES) {
    out[`c${c}`] = await closedLoop({ url: server.url + urlPath, body: SAMPLE_BODY, concurrency: c, ...counts, check });
  }
  return out;
}

async function bareHttp(): Promise<HttpScenario> {
  const server = await startBare();
  try {
    const idle = procMemory(server.pid);
    const byConcurrency = await loadAll(server, '/', BARE, (b) => void JSON.parse(b));
    return { name: 'bare node:http', pid: server.pid, byConcurrency, memory: { idle, afterLoad: procMemory(server.pid) } };
  } finally {
    await server.stop();
  }
}

// ---- 3. onnxserve ---------------------------------------------------------------------------------

interface ServeScenario extends HttpScenario {
  config: ServeConfig;
  startupMs: number;
  /** What the management API says the server actually runs (checked against `config`). */
  described: { minWorkers: unknown; maxWorkers: unknown; batchSize: unknown; maxBatchDelay: unknown; workers: number };
}

/** GET /models/iris on the management API: proves the model-config.yaml took effect. */
async function describeIris(server: RunningServer, cfg: ServeConfig): Promise<ServeScenario['described']> {
  const mgmt = /Management API bind to: (http:\/\/\S+)/i.exec(server.startupOutput)?.[1];
  if (!mgmt) throw new Error('no management address in the start-up output');
  const res = await fetch(`${mgmt}/models/iris`);
  const body = (await res.json()) as Array<Record<string, unknown>>;
  const d = body[0] ?? {};
  const described = {
    minWorkers: d.minWorkers,
    maxWorkers: d.maxWorkers,
    batchSize: d.batchSize,
    maxBatchDelay: d.maxBatchDelay,
    workers: Array.isArray(d.workers) ? d.workers.length : 0,
  };
  if (
    described.workers !== cfg.workers ||
    described.batchSize !== cfg.batchSize ||
    (cfg.maxBatchDelay !== undefined && described.maxBatchDelay !== cfg.maxBatchDelay)
  ) {
    throw new Error(`onnxserve runs ${JSON.stringify(described)}, expected ${JSON.stringify(cfg)}`);
  }
  return described;
}

function checkIris(body: string): void {
  const v = JSON.parse(body) as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || typeof v.setosa !== 'number') throw new Error(`unexpected iris answer: ${body}`);
}

async function onnxserve(cfg: ServeConfig, mar: Map<string, Buffer>): Promise<ServeScenario> {
  const sandbox = makeSandbox('serve');
  try {
    const store = path.join(sandbox, 'model_store');
    fs.mkdirSync(store);
    const yaml =
      `minWorkers: ${cfg.workers}\nmaxWorkers: ${cfg.workers}\n` +
      `batchSize: ${cfg.batchSize}\n` +
      (cfg.maxBatchDelay !== undefined ? `maxBatchDelay: ${cfg.maxBatchDelay}\n` : '') +
      'responseTimeout: 30\n';
    await writeMar(path.join(store, 'iris.mar'), {
      modelName: 'iris',
      serializedFile: 'iris.onnx',
      configFile: 'model-config.yaml',
      files: {
        'iris.onnx': need(mar, 'iris.onnx'),
        'index_to_name.json': need(mar, 'index_to_name.json'),
        'model-config.yaml': yaml,
      },
    });
    const t0 = performance.now();
    const server = await startOnnxserve(sandbox, store);
    try {
      // Started means listening; poll until a worker answers.
      await eventually(
        () => closedLoop({ url: `${server.url}/predictions/iris`, body: SAMPLE_BODY, concurrency: 1, requests: 1, warmup: 0, check: checkIris }).then((r) => {
          if (r.errors) throw new Error(r.firstError);
        }),
        30_000,
      );
      const startupMs = performance.now() - t0;
      const described = await eventually(() => describeIris(server, cfg), 10_000);
      const idle = procMemory(server.pid);
      const byConcurrency = await loadAll(server, '/predictions/iris', SERVE, checkIris);
      const afterLoad = procMemory(server.pid);
      return { name: `onnxserve ${cfg.name}`, config: cfg, described, pid: server.pid, startupMs, byConcurrency, memory: { idle, afterLoad } };
    } catch (e) {
      throw new Error(
        `${e instanceof Error ? e.message : String(e)}\n--- onnxserve output (tail, access log left out) ---\n${server
          .output()
          .split('\n')
          .filter((l) => !l.includes('ACCESS_LOG'))
          .slice(-40)
          .join('\n')}`,
      );
    } finally {
      await server.stop();
    }
  } finally {
    removeSandbox(sandbox);
  }
}

// ---- report ---------------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r, ri) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const mb = (m?: ProcMemory) => (m ? (m.vmRssKB / 1024).toFixed(1) : '-');

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    if (m) return m.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function oipTable(oip: OipScenario[]): string {
  const rows: string[][] = [['OIP v2, 1 worker, c1', 'encoding', 'request KB', 'response KB', 'p50 ms', 'mean ms', 'server CPU ms/req', 'errors']];
  const kb = (b: number) => (b / 1024).toFixed(1);
  for (const s of oip) {
    for (const [enc, r] of [
      ['JSON', s.json],
      ['binary', s.binary],
    ] as const) {
      rows.push([s.name, enc, kb(r.requestBytes), kb(r.responseBytes), ms(r.p50Ms), ms(r.meanMs), r.serverCpuMsPerRequest.toFixed(2), String(r.errors)]);
    }
    const q = s.ratios;
    rows.push([s.name, 'JSON ÷ binary', `${q.requestBytes}×`, `${q.responseBytes}×`, `${q.p50}×`, `${q.mean}×`, `${q.serverCpu}×`, '']);
  }
  return table(rows);
}

/** `--oip-only`: just the OIP JSON-vs-binary scenario, results in bench/results/oip.json. */
async function oipOnly(): Promise<void> {
  const oip = await oipBench(step);
  console.log(`\nonnxserve OIP bench — ${new Date().toISOString()} — node ${process.version} — ${cpuModel()} × ${os.availableParallelism()}\n`);
  console.log(oipTable(oip));
  const file = path.join(path.dirname(RESULTS), 'oip.json');
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpuModel: cpuModel(), cpuCount: os.availableParallelism(), settings: OIP_COUNTS, oip }, null, 2) + '\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--oip-only')) return oipOnly();
  const began = Date.now();
  const loadavgBefore = os.loadavg();
  const mar = await readZip(IRIS_MAR);

  step(`raw ORT: ${ORT_RUNS} sequential runs (+${ORT_WARMUP} warm-up)`);
  const ortResult = await rawOrt(need(mar, 'iris.onnx'));

  step(`bare node:http: ${BARE.requests} requests per concurrency (+${BARE.warmup} warm-up)`);
  const bare = await bareHttp();

  const serve: ServeScenario[] = [];
  for (const cfg of SERVE_CONFIGS) {
    step(`onnxserve ${cfg.name}: ${SERVE.requests} requests per concurrency (+${SERVE.warmup} warm-up)`);
    serve.push(await onnxserve(cfg, mar));
  }

  const oip = await oipBench(step);

  // ---- ratios --------------------------------------------------------------------------------------
  const ortP50 = ortResult.single.p50Ms;
  const ratios = serve.map((s) => {
    const per: Record<string, unknown> = {};
    for (const c of CONCURRENCIES) {
      const k = `c${c}`;
      const sv = s.byConcurrency[k]!;
      const bv = bare.byConcurrency[k]!;
      per[k] = {
        reqPerSVsBare: round(sv.reqPerS / bv.reqPerS),
        p50MinusOrtP50Ms: round(sv.p50Ms - ortP50),
        p50MinusBareP50MinusOrtP50Ms: round(sv.p50Ms - bv.p50Ms - ortP50),
      };
    }
    return { scenario: s.name, ...per };
  });

  // ---- table ---------------------------------------------------------------------------------------
  const rows: string[][] = [['scenario', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors']];
  rows.push([
    `raw ORT session.run 1 row (in-process, ${ortResult.intraOpThreads} threads)`,
    '1',
    ortResult.single.runsPerS.toFixed(0),
    ms(ortResult.single.p50Ms),
    ms(ortResult.single.p99Ms),
    ms(ortResult.single.maxMs),
    '0',
  ]);
  rows.push([
    'raw ORT session.run 8 rows (in-process)',
    '1',
    ortResult.batch8.runsPerS.toFixed(0),
    ms(ortResult.batch8.p50Ms),
    ms(ortResult.batch8.p99Ms),
    ms(ortResult.batch8.maxMs),
    '0',
  ]);
  for (const s of [bare, ...serve]) {
    for (const c of CONCURRENCIES) {
      const r = s.byConcurrency[`c${c}`]!;
      rows.push([
        s.name,
        String(c),
        r.reqPerS.toFixed(0),
        ms(r.p50Ms),
        ms(r.p99Ms),
        ms(r.maxMs),
        String(r.errors),
      ]);
    }
  }
  const ratioRows: string[][] = [['onnxserve vs floors', 'conc', 'req/s ÷ bare', 'p50 − ORT p50 ms', 'p50 − bare p50 − ORT p50 ms']];
  for (const r of ratios) {
    for (const c of CONCURRENCIES) {
      const v = (r as Record<string, unknown>)[`c${c}`] as { reqPerSVsBare: number; p50MinusOrtP50Ms: number; p50MinusBareP50MinusOrtP50Ms: number };
      // At c8 the p50 is mostly queueing: the differences are in the JSON, not the table.
      const c1 = c === 1;
      ratioRows.push([r.scenario, String(c), v.reqPerSVsBare.toFixed(3), c1 ? ms(v.p50MinusOrtP50Ms) : '', c1 ? ms(v.p50MinusBareP50MinusOrtP50Ms) : '']);
    }
  }
  const memRows: string[][] = [['server process memory', 'idle RSS MB', 'after-load RSS MB', 'peak RSS MB', 'threads']];
  for (const s of [bare, ...serve]) {
    memRows.push([s.name, mb(s.memory.idle), mb(s.memory.afterLoad), s.memory.afterLoad ? (s.memory.afterLoad.vmHwmKB / 1024).toFixed(1) : '-', String(s.memory.afterLoad?.threads ?? '-')]);
  }

  const durationS = (Date.now() - began) / 1000;
  const header =
    `onnxserve bench — ${new Date().toISOString()} — node ${process.version} — ${cpuModel()} × ${os.availableParallelism()} — ` +
    `load avg before ${loadavgBefore.map((v) => v.toFixed(2)).join('/')}`;
  console.log(`\n${header}\n`);
  console.log(table(rows));
  console.log('');
  console.log(table(ratioRows));
  console.log('');
  console.log(table(memRows));
  console.log('(RSS of the whole server process: onnxserve worker threads and their ORT sessions share it.)');
  console.log('');
  console.log(oipTable(oip));
  console.log(`\nbench took ${durationS.toFixed(1)} s; results in ${path.relative(process.cwd(), RESULTS)}`);

  // ---- JSON ----------------------------------------------------------------------------------------
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpuModel: cpuModel(),
    cpuCount: os.availableParallelism(),
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    loadavgBefore,
    loadavgAfter: os.loadavg(),
    durationS: round(durationS, 1),
    settings: {
      concurrencies: CONCURRENCIES,
      ort: { warmup: ORT_WARMUP, runs: ORT_RUNS },
      bare: BARE,
      onnxserve: SERVE,
      client: 'closed loop, node:http, keep-alive Agent (maxSockets = concurrency), in the bench process',
      bareServer: 'bench/bare-server.mjs in its own node process',
      body: SAMPLE_BODY,
      oip: OIP_COUNTS,
    },
    rawOrt: ortResult,
    bareHttp: bare,
    onnxserve: serve,
    ratios,
    oip,
    notes: [
      'RSS is of the whole server process; onnxserve worker threads (and their ORT sessions) share it.',
      'p50 − ORT p50 is server + HTTP + client overhead per request; subtracting the bare p50 too leaves what onnxserve adds over a minimal node:http server.',
      'At c8 the p50 includes queueing, so the p50 differences are only meaningful at c1.',
      'OIP: request bodies are encoded once before timing; server CPU ms/req is utime+stime of the server process (its worker threads included) over the measured requests.',
    ],
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(json, null, 2) + '\n');
}

main().then(
  () => {
    killAllSync();
    process.exit(0);
  },
  (e: unknown) => {
    killAllSync();
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
