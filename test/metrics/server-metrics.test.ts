import { afterEach, describe, expect, it, vi } from 'vitest';
import { javaDouble } from '../../src/metrics/number-format.js';
import { ServerMetrics, type ServerMetricsOptions, type SystemSample } from '../../src/metrics/server-metrics.js';
import type { ModelObserver } from '../../src/metrics/model-observer.js';

const HOST = 'myhost';
/** 2024-05-30T21:46:03.999Z: log timestamps are whole seconds, truncated. */
const NOW_MS = 1_717_105_563_999;
const STAMP = 'timestamp:1717105563';

const SAMPLE: SystemSample = {
  cpuPercent: 12.5,
  memoryUsedMb: 2877.21875,
  memoryAvailableMb: 13024.5,
  memoryPercent: 21.3,
  disk: { usedGb: 7.25, availableGb: 100, percent: 6.8 },
};

const created: ServerMetrics[] = [];
function make(opts: Partial<ServerMetricsOptions> & Pick<ServerMetricsOptions, 'mode'>): ServerMetrics {
  const m = new ServerMetrics({ hostname: HOST, now: () => NOW_MS, systemIntervalSec: 0, sampleSystem: async () => SAMPLE, ...opts });
  created.push(m);
  return m;
}
afterEach(() => {
  for (const m of created.splice(0)) m.close();
  vi.useRealTimers();
});

/** One successful request without a version, one refused with a version, some responses, a worker load. */
function traffic(m: ServerMetrics): void {
  const obs = m.forModel('noop', '1.0');
  obs.submitted(false);
  obs.settled({ ok: true, explicitVersion: false, latencyNs: 290_371_129, queueNs: 1_500_000 });
  obs.submitted(true);
  obs.settled({ ok: false, status: 503, explicitVersion: true, latencyNs: 1_000 });
  for (const status of [200, 200, 404, 503, 302]) m.httpResponse(status);
  obs.workerLoaded('W-9000-noop_1.0', 4593.7);
}

const body = async (m: ServerMetrics, names?: string[]) => (await m.render(names)).body;

describe('javaDouble (Java Double.toString)', () => {
  it('prints like the JVM', () => {
    expect(javaDouble(1)).toBe('1.0');
    expect(javaDouble(290371.129)).toBe('290371.129');
    expect(javaDouble(0)).toBe('0.0');
    expect(javaDouble(-2.5)).toBe('-2.5');
    expect(javaDouble(0.001)).toBe('0.001');
    expect(javaDouble(0.0001)).toBe('1.0E-4');
    expect(javaDouble(1e7)).toBe('1.0E7');
    expect(javaDouble(12345678.9)).toBe('1.23456789E7');
    expect(javaDouble(1.5e-7)).toBe('1.5E-7');
    expect(javaDouble(9999999.5)).toBe('9999999.5');
  });
});

describe('prometheus mode: TorchServe families (simpleclient 0.9.0 text)', () => {
  it('prints every metrics.yaml family, empty ones as HELP/TYPE only, samples with the trailing comma', async () => {
    const m = make({ mode: 'prometheus' });
    traffic(m);
    await m.collectSystemMetrics();
    const text = await body(m);
    const ts = text.slice(0, text.indexOf('# HELP onnxserve_'));
    const host = `Level="Host",Hostname="${HOST}",`;
    const noop = (v: string) => `model_name="noop",model_version="${v}",hostname="${HOST}",`;
    expect(ts).toBe(
      [
        '# HELP Requests2XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests2XX counter',
        `Requests2XX{${host}} 2.0`,
        '# HELP Requests4XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests4XX counter',
        `Requests4XX{${host}} 1.0`,
        '# HELP Requests5XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests5XX counter',
        `Requests5XX{${host}} 2.0`,
        '# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count',
        '# TYPE ts_inference_requests_total counter',
        `ts_inference_requests_total{${noop('default')}} 1.0`,
        `ts_inference_requests_total{${noop('1.0')}} 1.0`,
        '# HELP ts_inference_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds',
        '# TYPE ts_inference_latency_microseconds counter',
        `ts_inference_latency_microseconds{${noop('default')}} 290371.129`,
        '# HELP ts_queue_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds',
        '# TYPE ts_queue_latency_microseconds counter',
        `ts_queue_latency_microseconds{${noop('default')}} 1500.0`,
        '# HELP QueueTime Torchserve prometheus gauge metric with unit: Milliseconds',
        '# TYPE QueueTime gauge',
        `QueueTime{${host}} 1.0`,
        '# HELP WorkerThreadTime Torchserve prometheus gauge metric with unit: Milliseconds',
        '# TYPE WorkerThreadTime gauge',
        '# HELP WorkerLoadTime Torchserve prometheus gauge metric with unit: Milliseconds',
        '# TYPE WorkerLoadTime gauge',
        `WorkerLoadTime{WorkerName="W-9000-noop_1.0",${host}} 4593.0`,
        '# HELP CPUUtilization Torchserve prometheus gauge metric with unit: Percent',
        '# TYPE CPUUtilization gauge',
        `CPUUtilization{${host}} 12.5`,
        '# HELP MemoryUsed Torchserve prometheus gauge metric with unit: Megabytes',
        '# TYPE MemoryUsed gauge',
        `MemoryUsed{${host}} 2877.21875`,
        '# HELP MemoryAvailable Torchserve prometheus gauge metric with unit: Megabytes',
        '# TYPE MemoryAvailable gauge',
        `MemoryAvailable{${host}} 13024.5`,
        '# HELP MemoryUtilization Torchserve prometheus gauge metric with unit: Percent',
        '# TYPE MemoryUtilization gauge',
        `MemoryUtilization{${host}} 21.3`,
        '# HELP DiskUsage Torchserve prometheus gauge metric with unit: Gigabytes',
        '# TYPE DiskUsage gauge',
        `DiskUsage{${host}} 7.25`,
        '# HELP DiskUtilization Torchserve prometheus gauge metric with unit: Percent',
        '# TYPE DiskUtilization gauge',
        `DiskUtilization{${host}} 6.8`,
        '# HELP DiskAvailable Torchserve prometheus gauge metric with unit: Gigabytes',
        '# TYPE DiskAvailable gauge',
        `DiskAvailable{${host}} 100.0`,
        '# HELP GPUMemoryUtilization Torchserve prometheus gauge metric with unit: Percent',
        '# TYPE GPUMemoryUtilization gauge',
        '# HELP GPUMemoryUsed Torchserve prometheus gauge metric with unit: Megabytes',
        '# TYPE GPUMemoryUsed gauge',
        '# HELP GPUUtilization Torchserve prometheus gauge metric with unit: Percent',
        '# TYPE GPUUtilization gauge',
        '# HELP HandlerTime Torchserve prometheus gauge metric with unit: ms',
        '# TYPE HandlerTime gauge',
        '# HELP PredictionTime Torchserve prometheus gauge metric with unit: ms',
        '# TYPE PredictionTime gauge',
        '',
      ].join('\n'),
    );
  });

  it('accumulates counters and keeps the last gauge value', async () => {
    const m = make({ mode: 'prometheus' });
    const a = m.forModel('noop', '1.0');
    for (const queueMs of [3, 7]) {
      a.submitted(false);
      a.settled({ ok: true, explicitVersion: false, latencyNs: 10_000_000, queueNs: queueMs * 1e6 + 999_999 });
    }
    const text = await body(m, ['ts_inference_latency_microseconds', 'ts_queue_latency_microseconds', 'QueueTime']);
    expect(text).toContain(`ts_inference_latency_microseconds{model_name="noop",model_version="default",hostname="${HOST}",} 20000.0\n`);
    expect(text).toContain(`ts_queue_latency_microseconds{model_name="noop",model_version="default",hostname="${HOST}",} 11999.998\n`);
    // Whole milliseconds (TimeUnit.MILLISECONDS.convert truncates), last value wins.
    expect(text).toContain(`QueueTime{Level="Host",Hostname="${HOST}",} 7.0\n`);
  });

  it('labels requests without a version "default", shared by every version of the model', async () => {
    const m = make({ mode: 'prometheus' });
    m.forModel('noop', '1.0').submitted(false);
    m.forModel('noop', '2.0').submitted(false);
    m.forModel('noop', '2.0').submitted(true);
    expect(m.forModel('noop', '2.0')).toBe(m.forModel('noop', '2.0'));
    expect(await body(m, ['ts_inference_requests_total'])).toBe(
      [
        '# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count',
        '# TYPE ts_inference_requests_total counter',
        `ts_inference_requests_total{model_name="noop",model_version="default",hostname="${HOST}",} 2.0`,
        `ts_inference_requests_total{model_name="noop",model_version="2.0",hostname="${HOST}",} 1.0`,
        '',
      ].join('\n'),
    );
  });

  it('counts no latency for failed requests', async () => {
    const m = make({ mode: 'prometheus' });
    const obs = m.forModel('noop', '1.0');
    obs.submitted(false);
    obs.settled({ ok: false, status: 500, explicitVersion: false, latencyNs: 5_000_000, queueNs: 1_000_000 });
    expect(await body(m, ['ts_inference_latency_microseconds', 'ts_queue_latency_microseconds', 'QueueTime'])).toBe('');
  });

  it('WorkerThreadTime is the frontend share of a round trip, in whole ms', async () => {
    const m = make({ mode: 'prometheus' });
    (m.forModel('noop', '1.0') as ModelObserver).roundTrip(12_900_000, 10_100_000);
    expect(await body(m, ['WorkerThreadTime'])).toContain(`WorkerThreadTime{Level="Host",Hostname="${HOST}",} 2.0\n`);
  });
});

describe('name[] filter', () => {
  it('selects families by name and drops those left without samples, as simpleclient does', async () => {
    const m = make({ mode: 'prometheus' });
    traffic(m);
    expect(await body(m, ['Requests2XX', 'GPUUtilization', 'WorkerLoadTime'])).toBe(
      [
        '# HELP Requests2XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests2XX counter',
        `Requests2XX{Level="Host",Hostname="${HOST}",} 2.0`,
        '# HELP WorkerLoadTime Torchserve prometheus gauge metric with unit: Milliseconds',
        '# TYPE WorkerLoadTime gauge',
        `WorkerLoadTime{WorkerName="W-9000-noop_1.0",Level="Host",Hostname="${HOST}",} 4593.0`,
        '',
      ].join('\n'),
    );
    expect(await body(m, ['no_such_metric'])).toBe('');
    // An empty list is no filter (process figures change between scrapes, so compare up to them).
    const upToProcess = (t: string) => t.slice(0, t.indexOf('# HELP onnxserve_process_'));
    expect(upToProcess(await body(m, []))).toBe(upToProcess(await body(m)));
    expect(upToProcess(await body(m))).toContain('# TYPE GPUUtilization gauge\n');
  });

  it('selects onnxserve families by family name or by a histogram sample name', async () => {
    const m = make({ mode: 'prometheus' });
    const byFamily = await body(m, ['onnxserve_batch_size']);
    expect(byFamily).toBe('# HELP onnxserve_batch_size Requests per batch sent to a worker.\n# TYPE onnxserve_batch_size histogram\n');
    expect(await body(m, ['onnxserve_batch_size_bucket'])).toBe(byFamily);
    expect(await body(m, ['onnxserve_process_resident_memory_bytes'])).toMatch(
      /^# HELP onnxserve_process_resident_memory_bytes [^\n]+\n# TYPE onnxserve_process_resident_memory_bytes gauge\nonnxserve_process_resident_memory_bytes \d+\n$/,
    );
  });

  it('always answers with the Prometheus 0.0.4 content type', async () => {
    for (const mode of ['log', 'prometheus', 'legacy'] as const) {
      expect((await make({ mode }).render(undefined)).contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    }
  });
});

describe('log mode', () => {
  it('exports nothing and writes each update as a TS_METRICS line', async () => {
    const lines: string[] = [];
    const m = make({ mode: 'log', logLine: (l) => lines.push(l) });
    traffic(m);
    const obs = m.forModel('noop', '1.0');
    obs.batch(4);
    obs.workerDied('W-9000-noop_1.0');
    await m.collectSystemMetrics();
    expect(await body(m)).toBe('');
    expect(await body(m, ['Requests2XX'])).toBe('');
    const dims = 'model_name:noop,model_version:default';
    expect(lines).toEqual([
      `ts_inference_requests_total.Count:1.0|#${dims}|#hostname:${HOST},${STAMP}`,
      `ts_inference_latency_microseconds.Microseconds:290371.129|#${dims}|#hostname:${HOST},${STAMP}`,
      `ts_queue_latency_microseconds.Microseconds:1500.0|#${dims}|#hostname:${HOST},${STAMP}`,
      `QueueTime.Milliseconds:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `ts_inference_requests_total.Count:1.0|#model_name:noop,model_version:1.0|#hostname:${HOST},${STAMP}`,
      `Requests2XX.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `Requests2XX.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `Requests4XX.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `Requests5XX.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `Requests5XX.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `WorkerLoadTime.Milliseconds:4593.0|#WorkerName:W-9000-noop_1.0,Level:Host|#hostname:${HOST},${STAMP}`,
      // system_metrics.py's order (its functions, alphabetically).
      `CPUUtilization.Percent:12.5|#Level:Host|#hostname:${HOST},${STAMP}`,
      `DiskAvailable.Gigabytes:100.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      `DiskUsage.Gigabytes:7.25|#Level:Host|#hostname:${HOST},${STAMP}`,
      `DiskUtilization.Percent:6.8|#Level:Host|#hostname:${HOST},${STAMP}`,
      `MemoryAvailable.Megabytes:13024.5|#Level:Host|#hostname:${HOST},${STAMP}`,
      `MemoryUsed.Megabytes:2877.21875|#Level:Host|#hostname:${HOST},${STAMP}`,
      `MemoryUtilization.Percent:21.3|#Level:Host|#hostname:${HOST},${STAMP}`,
    ]);
  });

  it('samples the host at start and then every interval, until closed', async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const m = make({ mode: 'log', logLine: (l) => lines.push(l), systemIntervalSec: 60, sampleSystem: async () => ({ ...SAMPLE, disk: undefined }) });
    await vi.advanceTimersByTimeAsync(0);
    expect(lines.filter((l) => l.startsWith('CPUUtilization.'))).toHaveLength(1);
    // No disk figures: those lines are skipped, the others still written.
    expect(lines.some((l) => l.startsWith('Disk'))).toBe(false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(lines.filter((l) => l.startsWith('CPUUtilization.'))).toHaveLength(3);
    m.close();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(lines.filter((l) => l.startsWith('CPUUtilization.'))).toHaveLength(3);
  });
});

describe('legacy mode', () => {
  it('exports only the three ts_* counters and logs the rest', async () => {
    const lines: string[] = [];
    const m = make({ mode: 'legacy', logLine: (l) => lines.push(l) });
    traffic(m);
    const noop = (v: string) => `model_name="noop",model_version="${v}",hostname="${HOST}",`;
    expect(await body(m)).toBe(
      [
        '# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count',
        '# TYPE ts_inference_requests_total counter',
        `ts_inference_requests_total{${noop('default')}} 1.0`,
        `ts_inference_requests_total{${noop('1.0')}} 1.0`,
        '# HELP ts_inference_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds',
        '# TYPE ts_inference_latency_microseconds counter',
        `ts_inference_latency_microseconds{${noop('default')}} 290371.129`,
        '# HELP ts_queue_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds',
        '# TYPE ts_queue_latency_microseconds counter',
        `ts_queue_latency_microseconds{${noop('default')}} 1500.0`,
        '',
      ].join('\n'),
    );
    expect(lines).toEqual([
      `QueueTime.Milliseconds:1.0|#Level:Host|#hostname:${HOST},${STAMP}`,
      ...['2XX', '2XX', '4XX', '5XX', '5XX'].map((c) => `Requests${c}.Count:1.0|#Level:Host|#hostname:${HOST},${STAMP}`),
      `WorkerLoadTime.Milliseconds:4593.0|#WorkerName:W-9000-noop_1.0,Level:Host|#hostname:${HOST},${STAMP}`,
    ]);
  });
});

describe('prometheus mode: onnxserve families', () => {
  it('counts requests by outcome with the serving version', async () => {
    const m = make({ mode: 'prometheus' });
    const v1 = m.forModel('noop', '1.0');
    v1.settled({ ok: true, explicitVersion: false, latencyNs: 1e6, queueNs: 1e5 });
    v1.settled({ ok: true, explicitVersion: true, latencyNs: 1e6, queueNs: 1e5 });
    v1.settled({ ok: false, status: 503, explicitVersion: false, latencyNs: 1e3 });
    v1.settled({ ok: false, status: 500, explicitVersion: false, latencyNs: 1e6, queueNs: 1e5 });
    v1.settled({ ok: false, status: 503, explicitVersion: false, latencyNs: 1e3 });
    m.forModel('other', '2').settled({ ok: true, explicitVersion: false, latencyNs: 1e6, queueNs: 0 });
    expect(await body(m, ['onnxserve_requests_total'])).toBe(
      [
        '# HELP onnxserve_requests_total Inference requests that reached a model version, by outcome ("success" or the HTTP status of the failure).',
        '# TYPE onnxserve_requests_total counter',
        'onnxserve_requests_total{model="noop",version="1.0",outcome="success"} 2',
        'onnxserve_requests_total{model="noop",version="1.0",outcome="500"} 1',
        'onnxserve_requests_total{model="noop",version="1.0",outcome="503"} 2',
        'onnxserve_requests_total{model="other",version="2",outcome="success"} 1',
        '',
      ].join('\n'),
    );
  });

  it('fills the batch-size histogram', async () => {
    const m = make({ mode: 'prometheus' });
    const obs = m.forModel('noop', '1.0');
    for (const size of [1, 3, 3, 64, 100]) obs.batch(size);
    const labels = 'model="noop",version="1.0"';
    const buckets = [['1', 1], ['2', 1], ['4', 3], ['8', 3], ['16', 3], ['32', 3], ['64', 4], ['+Inf', 5]] as const;
    expect(await body(m, ['onnxserve_batch_size'])).toBe(
      [
        '# HELP onnxserve_batch_size Requests per batch sent to a worker.',
        '# TYPE onnxserve_batch_size histogram',
        ...buckets.map(([le, n]) => `onnxserve_batch_size_bucket{${labels},le="${le}"} ${n}`),
        `onnxserve_batch_size_sum{${labels}} 171`,
        `onnxserve_batch_size_count{${labels}} 5`,
        '',
      ].join('\n'),
    );
  });

  it('fills the duration histograms in seconds: latency of successes, queue time of requests a worker took', async () => {
    const m = make({ mode: 'prometheus' });
    const obs = m.forModel('noop', '1.0');
    obs.settled({ ok: true, explicitVersion: false, latencyNs: 200_000, queueNs: 50_000 }); // 0.2 ms, 0.05 ms
    obs.settled({ ok: true, explicitVersion: false, latencyNs: 3_000_000, queueNs: 1_000_000 }); // 3 ms, 1 ms (on the bound)
    obs.settled({ ok: false, status: 500, explicitVersion: false, latencyNs: 90_000_000_000, queueNs: 2_000_000 }); // failure: queue only
    obs.settled({ ok: false, status: 503, explicitVersion: false, latencyNs: 10_000 }); // never queued
    const labels = 'model="noop",version="1.0"';
    const duration = await body(m, ['onnxserve_request_duration_seconds']);
    const d = (le: string) => new RegExp(`onnxserve_request_duration_seconds_bucket\\{${labels},le="${le.replace('+', '\\+')}"\\} (\\d+)\n`).exec(duration)?.[1];
    expect([d('0.0001'), d('0.00025'), d('0.0025'), d('0.005'), d('60'), d('+Inf')]).toEqual(['0', '1', '1', '2', '2', '2']);
    expect(duration).toContain(`onnxserve_request_duration_seconds_sum{${labels}} 0.0032\n`);
    expect(duration).toContain(`onnxserve_request_duration_seconds_count{${labels}} 2\n`);
    expect(duration.split('\n').filter((l) => l.startsWith('onnxserve_request_duration_seconds_bucket'))).toHaveLength(19);
    const queue = await body(m, ['onnxserve_queue_duration_seconds']);
    const q = (le: string) => new RegExp(`onnxserve_queue_duration_seconds_bucket\\{${labels},le="${le}"\\} (\\d+)\n`).exec(queue)?.[1];
    expect([q('0.0001'), q('0.001'), q('0.0025')]).toEqual(['1', '2', '3']);
    expect(queue).toContain(`onnxserve_queue_duration_seconds_count{${labels}} 3\n`);
  });

  it('reads queue depth and worker gauges from the models source at scrape time', async () => {
    const m = make({ mode: 'prometheus' });
    let depth = 3;
    m.setModelsSource(() => [
      { model: 'noop', version: '1.0', queueDepth: depth, workers: { ready: 2, starting: 1, busy: 1, target: 3 } },
      { model: 'big', version: '2', queueDepth: 0, workers: { ready: 0, starting: 0, busy: 0, target: 0 } },
    ]);
    expect(await body(m, ['onnxserve_queue_depth'])).toContain('onnxserve_queue_depth{model="noop",version="1.0"} 3\n');
    depth = 9;
    expect(await body(m, ['onnxserve_queue_depth', 'onnxserve_workers', 'onnxserve_workers_target'])).toBe(
      [
        '# HELP onnxserve_queue_depth Inference requests waiting for a worker.',
        '# TYPE onnxserve_queue_depth gauge',
        'onnxserve_queue_depth{model="noop",version="1.0"} 9',
        'onnxserve_queue_depth{model="big",version="2"} 0',
        '# HELP onnxserve_workers Workers by state: ready (model loaded), busy (ready and running a batch), starting (loading the model).',
        '# TYPE onnxserve_workers gauge',
        'onnxserve_workers{model="noop",version="1.0",state="ready"} 2',
        'onnxserve_workers{model="noop",version="1.0",state="busy"} 1',
        'onnxserve_workers{model="noop",version="1.0",state="starting"} 1',
        'onnxserve_workers{model="big",version="2",state="ready"} 0',
        'onnxserve_workers{model="big",version="2",state="busy"} 0',
        'onnxserve_workers{model="big",version="2",state="starting"} 0',
        '# HELP onnxserve_workers_target Workers the model version is scaled to.',
        '# TYPE onnxserve_workers_target gauge',
        'onnxserve_workers_target{model="noop",version="1.0"} 3',
        'onnxserve_workers_target{model="big",version="2"} 0',
        '',
      ].join('\n'),
    );
  });

  it('counts worker restarts', async () => {
    const m = make({ mode: 'prometheus' });
    const obs = m.forModel('noop', '1.0');
    obs.workerDied('W-1-noop_1.0');
    obs.workerDied('W-2-noop_1.0');
    expect(await body(m, ['onnxserve_worker_restarts_total'])).toContain('onnxserve_worker_restarts_total{model="noop",version="1.0"} 2\n');
  });

  it('reports process memory and event-loop lag', async () => {
    const m = make({ mode: 'prometheus' });
    const text = await body(m);
    for (const name of [
      'onnxserve_process_resident_memory_bytes',
      'onnxserve_nodejs_heap_size_total_bytes',
      'onnxserve_nodejs_heap_size_used_bytes',
      'onnxserve_nodejs_external_memory_bytes',
      'onnxserve_nodejs_eventloop_lag_p50_seconds',
      'onnxserve_nodejs_eventloop_lag_p99_seconds',
      'onnxserve_nodejs_eventloop_lag_max_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`# TYPE ${name} gauge\n${name} [0-9.e+-]+\n`));
    }
    const rss = Number(/onnxserve_process_resident_memory_bytes (\d+)/.exec(text)?.[1]);
    expect(rss).toBeGreaterThan(1024 * 1024);
  });

  it('reads real host figures with the default sampler', async () => {
    const m = new ServerMetrics({ mode: 'prometheus', hostname: HOST, systemIntervalSec: 0 });
    created.push(m);
    await m.collectSystemMetrics();
    await m.collectSystemMetrics();
    const text = await body(m, ['CPUUtilization', 'MemoryUsed', 'MemoryUtilization', 'DiskAvailable']);
    const value = (name: string) => Number(new RegExp(`${name}\\{[^}]*\\} (\\S+)`).exec(text)?.[1]);
    expect(value('CPUUtilization')).toBeGreaterThanOrEqual(0);
    expect(value('CPUUtilization')).toBeLessThanOrEqual(100);
    expect(value('MemoryUsed')).toBeGreaterThan(0);
    expect(value('MemoryUtilization')).toBeGreaterThan(0);
    expect(value('DiskAvailable')).toBeGreaterThan(0);
  });
});
