/**
 * onnxserve's per-model families, for autoscalers (TorchServe has none of them): request outcomes,
 * latency and queue-time histograms, batch sizes, queue depth, workers by state, worker restarts.
 * Label `version` is the version that served, not TorchServe's "default".
 */
import type { FamilySource, Sample } from './exposition.js';
import { Histogram } from './histogram.js';

/** Seconds; from 100 µs (an idle small model) up to a minute (large models under load). */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

const MODEL_LABELS = ['model', 'version'] as const;

/** What the registry reports per model version at scrape time. */
export interface ModelGauges {
  model: string;
  version: string;
  /** Requests waiting for a worker. */
  queueDepth: number;
  workers: { ready: number; starting: number; busy: number; target: number };
}

/** Counters of one model version, updated on the hot path without allocating. */
export class ModelSeries {
  readonly labelValues: readonly string[];
  successes = 0;
  /** Failed requests by HTTP status. */
  readonly failures = new Map<number, number>();
  /** Successful requests, arrival → response. */
  readonly duration = new Histogram(DURATION_BUCKETS);
  /** Requests handed to a worker, arrival → handed over. */
  readonly queue = new Histogram(DURATION_BUCKETS);
  readonly batchSize = new Histogram(BATCH_SIZE_BUCKETS);
  restarts = 0;

  constructor(model: string, version: string) {
    this.labelValues = [model, version];
  }

  failed(status: number): void {
    this.failures.set(status, (this.failures.get(status) ?? 0) + 1);
  }
}

function outcomes(series: readonly ModelSeries[]): Sample[] {
  const name = 'onnxserve_requests_total';
  const labelNames = [...MODEL_LABELS, 'outcome'];
  const out: Sample[] = [];
  for (const s of series) {
    out.push({ name, labelNames, labelValues: [...s.labelValues, 'success'], value: s.successes });
    const statuses = [...s.failures.keys()].sort((a, b) => a - b);
    for (const status of statuses) out.push({ name, labelNames, labelValues: [...s.labelValues, String(status)], value: s.failures.get(status) ?? 0 });
  }
  return out;
}

const WORKER_STATES = ['ready', 'busy', 'starting'] as const;

/** The families over a scrape's snapshot of series and registry gauges. */
export function modelFamilies(series: readonly ModelSeries[], models: readonly ModelGauges[]): FamilySource[] {
  const histogram = (name: string, pick: (s: ModelSeries) => Histogram) => () => series.flatMap((s) => pick(s).samples(name, MODEL_LABELS, s.labelValues));
  const perModel = (name: string, value: (m: ModelGauges) => number) => () =>
    models.map((m) => ({ name, labelNames: MODEL_LABELS, labelValues: [m.model, m.version], value: value(m) }));
  return [
    {
      name: 'onnxserve_requests_total',
      help: 'Inference requests that reached a model version, by outcome ("success" or the HTTP status of the failure).',
      type: 'counter',
      samples: () => outcomes(series),
    },
    {
      name: 'onnxserve_request_duration_seconds',
      help: 'Successful inference requests, arrival at the model to response, in seconds.',
      type: 'histogram',
      samples: histogram('onnxserve_request_duration_seconds', (s) => s.duration),
    },
    {
      name: 'onnxserve_queue_duration_seconds',
      help: 'Time inference requests waited in the model queue before a worker took them, in seconds.',
      type: 'histogram',
      samples: histogram('onnxserve_queue_duration_seconds', (s) => s.queue),
    },
    {
      name: 'onnxserve_batch_size',
      help: 'Requests per batch sent to a worker.',
      type: 'histogram',
      samples: histogram('onnxserve_batch_size', (s) => s.batchSize),
    },
    {
      name: 'onnxserve_queue_depth',
      help: 'Inference requests waiting for a worker.',
      type: 'gauge',
      samples: perModel('onnxserve_queue_depth', (m) => m.queueDepth),
    },
    {
      name: 'onnxserve_workers',
      help: 'Workers by state: ready (model loaded), busy (ready and running a batch), starting (loading the model).',
      type: 'gauge',
      samples: () =>
        models.flatMap((m) =>
          WORKER_STATES.map((state) => ({
            name: 'onnxserve_workers',
            labelNames: [...MODEL_LABELS, 'state'],
            labelValues: [m.model, m.version, state],
            value: m.workers[state],
          })),
        ),
    },
    {
      name: 'onnxserve_workers_target',
      help: 'Workers the model version is scaled to.',
      type: 'gauge',
      samples: perModel('onnxserve_workers_target', (m) => m.workers.target),
    },
    {
      name: 'onnxserve_worker_restarts_total',
      help: 'Workers lost (crash, exit, response timeout); each is replaced while the target asks for it.',
      type: 'counter',
      samples: () => series.map((s) => ({ name: 'onnxserve_worker_restarts_total', labelNames: MODEL_LABELS, labelValues: s.labelValues, value: s.restarts })),
    },
  ];
}
