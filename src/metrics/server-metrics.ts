/**
 * The server's metrics (spec §6): TorchServe's frontend metrics, exported or logged as
 * `metrics_mode` says, plus onnxserve's own families for autoscalers (prometheus mode only, so log
 * and legacy modes stay byte-identical to TorchServe). One instance per server.
 */
import os from 'node:os';
import type { PoolObserver } from '../runtime/types.js';
import { PROMETHEUS_CONTENT_TYPE, selects, standardText, type FamilySource } from './exposition.js';
import { ModelObserver } from './model-observer.js';
import { ModelSeries, modelFamilies, type ModelGauges } from './model-metrics.js';
import { ProcessMetrics } from './process-metrics.js';
import { createSystemSampler, type SystemSample } from './system-metrics.js';
import { createTsMetrics, type MetricsMode, type TsMetrics, type TsSeries } from './torchserve-metrics.js';

export type { MetricsMode } from './torchserve-metrics.js';
export type { ModelGauges } from './model-metrics.js';
export type { SystemSample } from './system-metrics.js';

export interface ServerMetricsOptions {
  mode: MetricsMode;
  /** The `Hostname` label and `hostname:` log field; default os.hostname(). */
  hostname?: string;
  /** Where TS_METRICS lines go (spec §6.3), without the log4j timestamp prefix. */
  logLine?: (line: string) => void;
  /** `metric_time_interval`: seconds between host samples; 0 turns them off. Default 60. */
  systemIntervalSec?: number;
  /** Epoch milliseconds, for log timestamps. */
  now?: () => number;
  /** Host sampler; default: psutil-like figures for the file system of process.cwd(). */
  sampleSystem?: () => Promise<SystemSample>;
}

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

type HostMetricName = 'CPUUtilization' | 'DiskAvailable' | 'DiskUsage' | 'DiskUtilization' | 'MemoryAvailable' | 'MemoryUsed' | 'MemoryUtilization';

export class ServerMetrics {
  readonly mode: MetricsMode;
  private readonly ts: TsMetrics;
  private readonly responses: { r2xx: TsSeries; r4xx: TsSeries; r5xx: TsSeries };
  private readonly host: Record<HostMetricName, TsSeries>;
  private readonly observers = new Map<string, ModelObserver>();
  private readonly series: ModelSeries[] = [];
  private modelsSource: () => readonly ModelGauges[] = () => [];
  private readonly process: ProcessMetrics | undefined;
  private readonly sampleSystem: () => Promise<SystemSample>;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: ServerMetricsOptions) {
    this.mode = opts.mode;
    const hostname = opts.hostname ?? os.hostname();
    this.ts = createTsMetrics(opts.mode, { hostname, now: opts.now ?? Date.now, ...(opts.logLine ? { logLine: opts.logLine } : {}) });
    const { ts } = this;
    this.responses = { r2xx: ts.Requests2XX.series('Host'), r4xx: ts.Requests4XX.series('Host'), r5xx: ts.Requests5XX.series('Host') };
    this.host = {
      CPUUtilization: ts.CPUUtilization.series('Host'),
      DiskAvailable: ts.DiskAvailable.series('Host'),
      DiskUsage: ts.DiskUsage.series('Host'),
      DiskUtilization: ts.DiskUtilization.series('Host'),
      MemoryAvailable: ts.MemoryAvailable.series('Host'),
      MemoryUsed: ts.MemoryUsed.series('Host'),
      MemoryUtilization: ts.MemoryUtilization.series('Host'),
    };
    // The event-loop monitor costs a timer; only prometheus mode shows it.
    this.process = opts.mode === 'prometheus' ? new ProcessMetrics() : undefined;
    this.sampleSystem = opts.sampleSystem ?? createSystemSampler(process.cwd());
    const interval = opts.systemIntervalSec ?? 60;
    if (interval > 0) {
      // As TorchServe's collector: a first sample at start, then one per interval.
      void this.collectSystemMetrics();
      this.timer = setInterval(() => void this.collectSystemMetrics(), interval * 1000);
      this.timer.unref();
    }
  }

  /** Every response on every listener (spec §6.2: 2XX, 4XX, anything else is 5XX). */
  httpResponse(status: number): void {
    const { r2xx, r4xx, r5xx } = this.responses;
    if (status >= 200 && status < 300) r2xx.update(1);
    else if (status >= 400 && status < 500) r4xx.update(1);
    else r5xx.update(1);
  }

  /** The observer to give a model version's pool; the same one for the same model and version. */
  forModel(model: string, version: string): PoolObserver {
    const key = `${model}\u0000${version}`;
    let observer = this.observers.get(key);
    if (!observer) {
      const own = new ModelSeries(model, version);
      this.series.push(own);
      observer = new ModelObserver(this.ts, model, version, own);
      this.observers.set(key, observer);
    }
    return observer;
  }

  /** Read at scrape time for the queue-depth and worker gauges. */
  setModelsSource(fn: () => readonly ModelGauges[]): void {
    this.modelsSource = fn;
  }

  /** One host sample: TorchServe's system metrics, in system_metrics.py's order. Failures skip the sample. */
  async collectSystemMetrics(): Promise<void> {
    let s: SystemSample;
    try {
      s = await this.sampleSystem();
    } catch {
      return;
    }
    if (this.closed) return;
    const h = this.host;
    h.CPUUtilization.update(s.cpuPercent);
    if (s.disk) {
      h.DiskAvailable.update(s.disk.availableGb);
      h.DiskUsage.update(s.disk.usedGb);
      h.DiskUtilization.update(s.disk.percent);
    }
    h.MemoryAvailable.update(s.memoryAvailableMb);
    h.MemoryUsed.update(s.memoryUsedMb);
    h.MemoryUtilization.update(s.memoryPercent);
  }

  /** The `/metrics` body; `names`: the `name[]` values (none or empty: every family). */
  async render(names?: readonly string[]): Promise<RenderedMetrics> {
    const filter = names && names.length > 0 ? new Set(names) : undefined;
    let body = '';
    for (const metric of Object.values(this.ts)) body += metric.render(filter);
    if (this.process) {
      const sources: FamilySource[] = [...modelFamilies(this.series, this.modelsSource()), ...this.process.families()];
      for (const f of sources) {
        if (selects(filter, f)) body += standardText({ name: f.name, help: f.help, type: f.type, samples: f.samples() });
      }
    }
    return { contentType: PROMETHEUS_CONTENT_TYPE, body };
  }

  /** Stops the host sampling and the event-loop monitor. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.process?.close();
  }
}
