/**
 * Host metrics as TorchServe's `ts/metrics/system_metrics.py` computes them with psutil: CPU busy
 * share since the previous sample, virtual memory (MB, Linux `/proc/meminfo` definitions), and the
 * disk holding the working directory (GB). Read every `metric_time_interval` seconds, off the hot path.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';

export interface SystemSample {
  cpuPercent: number;
  memoryUsedMb: number;
  memoryAvailableMb: number;
  memoryPercent: number;
  /** Absent when the file system could not be queried. */
  disk?: { usedGb: number; availableGb: number; percent: number };
}

const MB = 1024 * 1024;
const GB = 1024 * MB;

/** psutil rounds percentages to one decimal. */
const round1 = (x: number) => Math.round(x * 10) / 10;

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** `psutil.virtual_memory()` on Linux: used = total − free − buffers − cached (incl. SReclaimable). */
async function memory(): Promise<{ total: number; used: number; available: number }> {
  try {
    const text = await fsp.readFile('/proc/meminfo', 'utf8');
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const total = kb('MemTotal');
    const free = kb('MemFree');
    const available = kb('MemAvailable');
    if (total !== undefined && free !== undefined && available !== undefined) {
      const cached = (kb('Cached') ?? 0) + (kb('SReclaimable') ?? 0);
      let used = total - free - cached - (kb('Buffers') ?? 0);
      if (used < 0) used = total - free;
      return { total, used, available };
    }
  } catch {
    // Not Linux: fall through to what Node reports.
  }
  const total = os.totalmem();
  const available = os.freemem();
  return { total, used: total - available, available };
}

/** `psutil.disk_usage(dir)`: used = blocks − bfree, available to unprivileged users = bavail. */
async function disk(dir: string): Promise<SystemSample['disk']> {
  try {
    const s = await fsp.statfs(dir);
    const used = (s.blocks - s.bfree) * s.bsize;
    const available = s.bavail * s.bsize;
    return { usedGb: used / GB, availableGb: available / GB, percent: used + available > 0 ? round1((used / (used + available)) * 100) : 0 };
  } catch {
    return undefined;
  }
}

/** A sampler whose CPU figure covers the time since its previous call (0.0 on the first, as psutil). */
export function createSystemSampler(dir: string): () => Promise<SystemSample> {
  let last: { busy: number; total: number } | undefined;
  return async () => {
    const cpu = cpuTimes();
    const prev = last;
    last = cpu;
    const totalDelta = prev ? cpu.total - prev.total : 0;
    const cpuPercent = totalDelta > 0 && prev ? round1(((cpu.busy - prev.busy) / totalDelta) * 100) : 0;
    const [mem, fsUsage] = await Promise.all([memory(), disk(dir)]);
    const sample: SystemSample = {
      cpuPercent,
      memoryUsedMb: mem.used / MB,
      memoryAvailableMb: mem.available / MB,
      memoryPercent: mem.total > 0 ? round1(((mem.total - mem.available) / mem.total) * 100) : 0,
    };
    if (fsUsage) sample.disk = fsUsage;
    return sample;
  };
}
