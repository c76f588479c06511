/**
 * Per access-line cost of the logger (docs/architecture.md, "Performance notes", item 1):
 * 20 000 access lines, one per event-loop turn, as a server logs them. Reports, per line, the
 * synchronous time of `access.info()` and the process CPU (every thread) above a baseline loop
 * that does the same turns without logging. Not a test (vitest only runs *.test.ts).
 *
 *   node --import tsx test/logging/bench-access-line.ts [module] [rounds] > /dev/null
 *
 * `module`: the logging module to measure (default src/logging.ts), e.g. a copy of an older one.
 * BENCH_CONSOLE=1: with the console echo on (send stdout to /dev/null; results go to stderr).
 * BENCH_FORMAT=json: every destination in pino's JSON (modules that take a `config`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Loggers {
  access: { info(m: string): void };
  close(): Promise<void>;
}
type Create = (o: { logLocation: string; console: boolean; config?: { format?: string } }) => Loggers;

const LINES = 20_000;
const turn = () => new Promise<void>((r) => setImmediate(r));

async function loop(log?: (i: number) => void): Promise<{ syncNs: number; cpuUs: number }> {
  let syncNs = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    await turn();
    if (log) {
      const t0 = process.hrtime.bigint();
      log(i);
      syncNs += Number(process.hrtime.bigint() - t0);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { syncNs, cpuUs: cpu.user + cpu.system };
}

async function main(): Promise<void> {
  const modPath = path.resolve(process.argv[2] ?? 'src/logging.ts');
  const rounds = Number(process.argv[3] ?? 5);
  const { createLoggers } = (await import(pathToFileURL(modPath).href)) as { createLoggers: Create };
  const results: Array<{ sync: number; cpu: number }> = [];
  for (let r = 0; r < rounds; r++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-logbench-'));
    const base = await loop();
    const loggers = createLoggers({
      logLocation: dir,
      console: process.env.BENCH_CONSOLE === '1',
      ...(process.env.BENCH_FORMAT ? { config: { format: process.env.BENCH_FORMAT } } : {}),
    });
    const t = await loop((i) => loggers.access.info(`/127.0.0.1:53514 "POST /predictions/iris HTTP/1.1" 200 ${i % 7}`));
    const cpu1 = process.cpuUsage();
    await loggers.close();
    const closeCpu = process.cpuUsage(cpu1);
    const lines = fs.readFileSync(path.join(dir, 'access_log.log'), 'utf8').split('\n').length - 1;
    if (lines !== LINES && process.env.BENCH_FORMAT !== 'json') throw new Error(`expected ${LINES} access lines, found ${lines}`);
    fs.rmSync(dir, { recursive: true, force: true });
    results.push({
      sync: t.syncNs / LINES / 1000,
      cpu: (t.cpuUs + closeCpu.user + closeCpu.system - base.cpuUs) / LINES,
    });
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const f = (x: number) => x.toFixed(2);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  for (const [i, r] of results.entries()) say(`round ${i + 1}: sync ${f(r.sync)} µs/line, CPU ${f(r.cpu)} µs/line`);
  say(`${path.relative(process.cwd(), modPath)}: median sync ${f(med(results.map((r) => r.sync)))} µs/line, CPU ${f(med(results.map((r) => r.cpu)))} µs/line (above the bare loop)`);
}

await main();
