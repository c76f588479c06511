/**
 * Process memory and event-loop lag, named as prom-client's default metrics (with the `onnxserve_`
 * prefix) so the usual Node.js dashboards work. Only these few: prom-client's full default set
 * adds a GC observer and a delay monitor that nothing can stop.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { FamilySource } from './exposition.js';

/** Timer resolution of the delay monitor; coarser means fewer wake-ups, lag finer than this is not seen. */
const LAG_RESOLUTION_MS = 20;

export class ProcessMetrics {
  private readonly delay: IntervalHistogram;

  constructor() {
    this.delay = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    this.delay.enable();
  }

  /** Memory is read once per scrape; lag covers the time since the previous scrape (the monitor is reset). */
  families(): FamilySource[] {
    let memory: NodeJS.MemoryUsage | undefined;
    const mem = () => (memory ??= process.memoryUsage());
    let lag: { p50: number; p99: number; max: number } | undefined;
    const lagStats = () => {
      if (!lag) {
        // Percentiles of an empty histogram are 0, as is its max.
        lag = { p50: this.delay.percentile(50) / 1e9, p99: this.delay.percentile(99) / 1e9, max: this.delay.max / 1e9 };
        this.delay.reset();
      }
      return lag;
    };
    const gauge = (name: string, help: string, value: () => number): FamilySource => ({
      name,
      help,
      type: 'gauge',
      samples: () => [{ name, labelNames: [], labelValues: [], value: value() }],
    });
    return [
      gauge('onnxserve_process_resident_memory_bytes', 'Resident memory size in bytes (main thread and worker threads).', () => mem().rss),
      gauge('onnxserve_nodejs_heap_size_total_bytes', 'Main thread V8 heap size in bytes.', () => mem().heapTotal),
      gauge('onnxserve_nodejs_heap_size_used_bytes', 'Main thread V8 heap used in bytes.', () => mem().heapUsed),
      gauge('onnxserve_nodejs_external_memory_bytes', 'Main thread memory of C++ objects bound to JavaScript objects (buffers, tensors) in bytes.', () => mem().external),
      gauge('onnxserve_nodejs_eventloop_lag_p50_seconds', 'Median event loop delay since the previous scrape, in seconds.', () => lagStats().p50),
      gauge('onnxserve_nodejs_eventloop_lag_p99_seconds', '99th percentile event loop delay since the previous scrape, in seconds.', () => lagStats().p99),
      gauge('onnxserve_nodejs_eventloop_lag_max_seconds', 'Longest event loop delay since the previous scrape, in seconds.', () => lagStats().max),
    ];
  }

  close(): void {
    this.delay.disable();
  }
}
