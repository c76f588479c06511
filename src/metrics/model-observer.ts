/**
 * What one model version's pool reports, turned into metric updates. The series are looked up
 * once, here, so every hot-path call is a few field writes (or, for logged metrics, one line).
 */
import type { PoolObserver, RequestOutcome } from '../runtime/types.js';
import type { ModelSeries } from './model-metrics.js';
import type { TsMetric, TsMetrics, TsSeries } from './torchserve-metrics.js';

/** TorchServe's per-request series, labelled with the requested version or "default". */
interface RequestSeries {
  requests: TsSeries;
  latency: TsSeries;
  queueLatency: TsSeries;
}

function requestSeries(ts: TsMetrics, model: string, versionLabel: string): RequestSeries {
  return {
    requests: ts.ts_inference_requests_total.series(model, versionLabel),
    latency: ts.ts_inference_latency_microseconds.series(model, versionLabel),
    queueLatency: ts.ts_queue_latency_microseconds.series(model, versionLabel),
  };
}

export class ModelObserver implements PoolObserver {
  private readonly named: RequestSeries;
  private readonly unnamed: RequestSeries;
  private readonly queueTime: TsSeries;
  private readonly workerThreadTime: TsSeries;
  private readonly workerLoadTime: TsMetric;

  constructor(
    ts: TsMetrics,
    model: string,
    version: string,
    private readonly own: ModelSeries,
  ) {
    this.named = requestSeries(ts, model, version);
    this.unnamed = requestSeries(ts, model, 'default');
    this.queueTime = ts.QueueTime.series('Host');
    this.workerThreadTime = ts.WorkerThreadTime.series('Host');
    this.workerLoadTime = ts.WorkerLoadTime;
  }

  submitted(explicitVersion: boolean): void {
    (explicitVersion ? this.named : this.unnamed).requests.update(1);
  }

  settled(outcome: RequestOutcome): void {
    const { own } = this;
    if (outcome.queueNs !== undefined) own.queue.observe(outcome.queueNs / 1e9);
    if (!outcome.ok) {
      own.failed(outcome.status ?? 500);
      return;
    }
    // TorchServe's RestJob on a successful response: latencies in µs (summed), then QueueTime in whole ms.
    const queueNs = outcome.queueNs ?? 0;
    const ts = outcome.explicitVersion ? this.named : this.unnamed;
    ts.latency.update(outcome.latencyNs / 1000);
    ts.queueLatency.update(queueNs / 1000);
    this.queueTime.update(Math.trunc(queueNs / 1e6));
    own.successes++;
    own.duration.observe(outcome.latencyNs / 1e9);
  }

  batch(size: number): void {
    this.own.batchSize.observe(size);
  }

  workerLoaded(name: string, ms: number): void {
    // Java measures it with currentTimeMillis: whole milliseconds.
    this.workerLoadTime.series(name, 'Host').update(Math.trunc(ms));
  }

  workerDied(_name: string): void {
    this.own.restarts++;
  }

  /**
   * TorchServe's WorkerThreadTime: the frontend's share of one worker round trip (batch handed over
   * → replies handled, minus the time spent waiting for the worker), whole ms. Not part of
   * PoolObserver yet: a pool that can measure it may call this once per batch.
   */
  roundTrip(totalNs: number, workerNs: number): void {
    this.workerThreadTime.update(Math.trunc(totalNs / 1e6) - Math.trunc(workerNs / 1e6));
  }
}
