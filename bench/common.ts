/** What every scenario shares: the run mode, the result shape, formatting and small helpers. */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

export type ScenarioId = 'B1' | 'B2' | 'B3' | 'B4' | 'B5' | 'B6' | 'B7' | 'B8' | 'B9' | 'B10' | 'B11';
export const SCENARIO_IDS: ScenarioId[] = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9', 'B10', 'B11'];

/** Short names, for the table row of a scenario that failed before it could name itself. */
export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  B1: 'tiny MLP, 32 conn, req/s',
  B2: 'tiny MLP, 1 conn, p50',
  B3: 'ResNet-18-shaped, OIP v2 binary',
  B4: 'ResNet-18-shaped, OIP v2 JSON',
  B5: 'start-up',
  B6: 'memory',
  B7: 'many models',
  B8: 'overload',
  B9: 'tiny MLP, gRPC vs REST, 32 in flight',
  B10: 'tiny MLP, gRPC vs REST, 1 in flight',
  B11: 'tiny MLP, OIP gRPC vs OIP REST binary',
};

export interface Ctx {
  /** `--smoke`: every scenario for a second or two, nothing asserted. */
  smoke: boolean;
  step(message: string): void;
}

/** One row of the final table, plus every number behind it. */
export interface ScenarioResult {
  id: ScenarioId;
  scenario: string;
  /** The server's figure, as printed. */
  server: string;
  /** The baseline's figure, as printed ('—' when the scenario has none). */
  baseline: string;
  /** The ratio the target is about (undefined: none), and how it is printed. */
  ratio?: number;
  ratioText: string;
  target: string;
  /** Whether the target is met (undefined: "report" only). Never asserted in smoke mode. */
  met?: boolean;
  /** Every number measured, for the JSON. */
  details: Record<string, unknown>;
  notes?: string[];
  /** Set instead of the figures when the scenario failed. */
  error?: string;
}

export const round = (v: number, digits = 3): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
export const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

export async function eventually<T>(check: () => Promise<T>, timeoutMs: number, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(pollMs);
    }
  }
}

/** A plain-text table, first column left-aligned, the others right-aligned. */
export function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r, ri) => {
      const line = r.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return ri === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    if (m) return m.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

const CLK_TCK = 100; // USER_HZ on Linux

/** utime + stime of a process in ms, all its threads (Linux; NaN elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU ms per thread of a process, keyed by tid, with the thread's name (Linux; empty elsewhere). */
export function threadCpu(pid: number): Map<string, { name: string; cpuMs: number }> {
  const out = new Map<string, { name: string; cpuMs: number }>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Node names no thread but the libuv pool and V8's; the main (event-loop) thread is tid = pid.
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK });
    } catch {
      // thread ended
    }
  }
  return out;
}

/**
 * CPU time a process spent between two threadCpu() snapshots, by thread: the busiest few threads
 * (name#tid → ms) and the total. Shows which thread was the bottleneck (the main thread near 100 %
 * of the wall time ⇒ HTTP/JSON bound; ORT threads near 100 % ⇒ compute bound).
 */
export function cpuBreakdown(
  before: Map<string, { name: string; cpuMs: number }>,
  after: Map<string, { name: string; cpuMs: number }>,
  wallS: number,
  top = 6,
): { totalCpuS: number; cpuPerWall: number; busiest: Array<{ thread: string; cpuS: number; share: number }> } {
  const rows: Array<{ thread: string; cpuS: number; share: number }> = [];
  let total = 0;
  for (const [tid, a] of after) {
    const ms = a.cpuMs - (before.get(tid)?.cpuMs ?? 0);
    total += ms;
    if (ms > 0) rows.push({ thread: `${a.name}#${tid}`, cpuS: round(ms / 1000, 2), share: round(ms / 1000 / wallS, 2) });
  }
  rows.sort((x, y) => y.cpuS - x.cpuS);
  return { totalCpuS: round(total / 1000, 2), cpuPerWall: round(total / 1000 / wallS, 2), busiest: rows.slice(0, top) };
}

/** Accumulates a process's per-thread CPU time and the wall time over several measured spans. */
export class CpuMeter {
  private readonly perThread = new Map<string, { name: string; cpuMs: number }>();
  private wallMs = 0;

  constructor(private readonly pid: number) {}

  async around<T>(fn: () => Promise<T>): Promise<T> {
    const before = threadCpu(this.pid);
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.wallMs += performance.now() - t0;
      for (const [tid, a] of threadCpu(this.pid)) {
        const d = a.cpuMs - (before.get(tid)?.cpuMs ?? 0);
        const acc = this.perThread.get(tid) ?? { name: a.name, cpuMs: 0 };
        acc.cpuMs += d;
        this.perThread.set(tid, acc);
      }
    }
  }

  result(top = 6): ReturnType<typeof cpuBreakdown> & { wallS: number } {
    const zero = new Map([...this.perThread].map(([k, v]) => [k, { name: v.name, cpuMs: 0 }]));
    const wallS = this.wallMs / 1000;
    return { wallS: round(wallS, 2), ...cpuBreakdown(zero, this.perThread, wallS, top) };
  }
}
