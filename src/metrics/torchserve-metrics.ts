/**
 * TorchServe's frontend metrics (spec §6.2, `ts/configs/metrics.yaml`) and their two outlets
 * (spec §6.1/§6.3): a metric exported to Prometheus keeps its value for scrapes and logs nothing;
 * a logged one keeps nothing and writes one `TS_METRICS` line per update, as `LogMetric` does.
 */
import { simpleclientText, type Sample } from './exposition.js';
import { javaDouble } from './number-format.js';

export type MetricsMode = 'log' | 'prometheus' | 'legacy';

interface TsMetricDef {
  name: string;
  type: 'counter' | 'gauge';
  unit: string;
  /** Prometheus label names in order; the last one is the host name (left out of the log's dimension list). */
  dims: readonly string[];
}

const HOST_DIMS = ['Level', 'Hostname'] as const;
const INFERENCE_DIMS = ['model_name', 'model_version', 'hostname'] as const;
const GPU_DIMS = ['Level', 'DeviceId', 'Hostname'] as const;
/** Backend (handler) metrics: "Hostname" is appended to the yaml's dimensions. */
const MODEL_DIMS = ['ModelName', 'Level', 'Hostname'] as const;

/** metrics.yaml, in its order (simpleclient's own order is hash order, so any order is faithful). */
export const TS_METRIC_DEFS = [
  { name: 'Requests2XX', type: 'counter', unit: 'Count', dims: HOST_DIMS },
  { name: 'Requests4XX', type: 'counter', unit: 'Count', dims: HOST_DIMS },
  { name: 'Requests5XX', type: 'counter', unit: 'Count', dims: HOST_DIMS },
  { name: 'ts_inference_requests_total', type: 'counter', unit: 'Count', dims: INFERENCE_DIMS },
  { name: 'ts_inference_latency_microseconds', type: 'counter', unit: 'Microseconds', dims: INFERENCE_DIMS },
  { name: 'ts_queue_latency_microseconds', type: 'counter', unit: 'Microseconds', dims: INFERENCE_DIMS },
  { name: 'QueueTime', type: 'gauge', unit: 'Milliseconds', dims: HOST_DIMS },
  { name: 'WorkerThreadTime', type: 'gauge', unit: 'Milliseconds', dims: HOST_DIMS },
  { name: 'WorkerLoadTime', type: 'gauge', unit: 'Milliseconds', dims: ['WorkerName', 'Level', 'Hostname'] },
  { name: 'CPUUtilization', type: 'gauge', unit: 'Percent', dims: HOST_DIMS },
  { name: 'MemoryUsed', type: 'gauge', unit: 'Megabytes', dims: HOST_DIMS },
  { name: 'MemoryAvailable', type: 'gauge', unit: 'Megabytes', dims: HOST_DIMS },
  { name: 'MemoryUtilization', type: 'gauge', unit: 'Percent', dims: HOST_DIMS },
  { name: 'DiskUsage', type: 'gauge', unit: 'Gigabytes', dims: HOST_DIMS },
  { name: 'DiskUtilization', type: 'gauge', unit: 'Percent', dims: HOST_DIMS },
  { name: 'DiskAvailable', type: 'gauge', unit: 'Gigabytes', dims: HOST_DIMS },
  { name: 'GPUMemoryUtilization', type: 'gauge', unit: 'Percent', dims: GPU_DIMS },
  { name: 'GPUMemoryUsed', type: 'gauge', unit: 'Megabytes', dims: GPU_DIMS },
  { name: 'GPUUtilization', type: 'gauge', unit: 'Percent', dims: GPU_DIMS },
  { name: 'HandlerTime', type: 'gauge', unit: 'ms', dims: MODEL_DIMS },
  { name: 'PredictionTime', type: 'gauge', unit: 'ms', dims: MODEL_DIMS },
] as const satisfies readonly TsMetricDef[];

export type TsMetricName = (typeof TS_METRIC_DEFS)[number]['name'];

/** One label set of a metric. Callers keep it, so an update is a field write (or one log line). */
export class TsSeries {
  value = 0;
  /** simpleclient shows a child only once it has been updated. */
  touched = false;

  constructor(
    private readonly metric: TsMetric,
    /** Label values including the host name. */
    readonly labelValues: readonly string[],
    /** `|#<dims>|#hostname:<host>,timestamp:` */
    readonly logTail: string,
  ) {}

  /** Counters add `v`, gauges take it. */
  update(v: number): void {
    this.metric.update(this, v);
  }
}

export interface TsOutlet {
  /** Keep values for scrapes (true), or write each update as a TS_METRICS line. */
  exported: boolean;
  hostname: string;
  logLine?: (line: string) => void;
  now: () => number;
}

export class TsMetric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly unit: string;
  readonly labelNames: readonly string[];
  private readonly byKey = new Map<string, TsSeries>();
  /** Touched series, in first-update order. */
  private readonly live: TsSeries[] = [];
  private readonly logHead: string;

  constructor(
    def: TsMetricDef,
    private readonly outlet: TsOutlet,
  ) {
    this.name = def.name;
    this.type = def.type;
    this.unit = def.unit;
    this.labelNames = def.dims;
    this.logHead = `${def.name}.${def.unit}:`;
  }

  /** The series for these dimension values (every dimension but the host name, which is added). */
  series(...values: string[]): TsSeries {
    const key = values.join('\u0000');
    let s = this.byKey.get(key);
    if (!s) {
      const dims = values.map((v, i) => `${this.labelNames[i]}:${v}`).join(',');
      s = new TsSeries(this, [...values, this.outlet.hostname], `|#${dims}|#hostname:${this.outlet.hostname},timestamp:`);
      this.byKey.set(key, s);
    }
    return s;
  }

  update(s: TsSeries, v: number): void {
    const { outlet } = this;
    if (outlet.exported) {
      s.value = this.type === 'counter' ? s.value + v : v;
      if (!s.touched) {
        s.touched = true;
        this.live.push(s);
      }
    } else if (outlet.logLine) {
      outlet.logLine(`${this.logHead}${javaDouble(v)}${s.logTail}${Math.floor(outlet.now() / 1000)}`);
    }
  }

  /**
   * simpleclient text, '' when not exported. With a name filter simpleclient keeps only samples
   * whose name is listed and drops families left without any; unfiltered, an empty family still
   * prints its HELP/TYPE lines.
   */
  render(names: ReadonlySet<string> | undefined): string {
    if (!this.outlet.exported) return '';
    if (names && (!names.has(this.name) || this.live.length === 0)) return '';
    const samples: Sample[] = this.live.map((s) => ({ name: this.name, labelNames: this.labelNames, labelValues: s.labelValues, value: s.value }));
    return simpleclientText({
      name: this.name,
      help: `Torchserve prometheus ${this.type} metric with unit: ${this.unit}`,
      type: this.type,
      samples,
    });
  }
}

/** Which metrics a mode exports (spec §6.1); the others are logged. */
function isExported(mode: MetricsMode, name: string): boolean {
  return mode === 'prometheus' || (mode === 'legacy' && name.startsWith('ts_'));
}

export type TsMetrics = Record<TsMetricName, TsMetric>;

export function createTsMetrics(mode: MetricsMode, outlet: Omit<TsOutlet, 'exported'>): TsMetrics {
  const entries = TS_METRIC_DEFS.map((def) => [def.name, new TsMetric(def, { ...outlet, exported: isExported(mode, def.name) })] as const);
  return Object.fromEntries(entries) as TsMetrics;
}
