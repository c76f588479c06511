/**
 * Closed-loop HTTP load over node:http with a keep-alive Agent: `concurrency` loops, each sending
 * its next request as soon as the previous answer is fully read, until `requests` were sent.
 * Also the latency statistics shared by every scenario.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LatencyStats {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentiles over latencies in milliseconds. */
export function latencyStats(samples: number[]): LatencyStats {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const at = (p: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!);
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, meanMs: n ? sum / n : NaN, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: n ? sorted[n - 1]! : NaN };
}

export interface LoadResult extends LatencyStats {
  concurrency: number;
  wallS: number;
  reqPerS: number;
  errors: number;
  firstError?: string;
}

export interface LoadOptions {
  url: string;
  body: string;
  concurrency: number;
  requests: number;
  warmup: number;
  /** Validates a 200 body (called on the first measured answer only, to keep the client cheap). */
  check?: (body: string) => void;
}

interface Reply {
  status: number;
  body: string;
}

function post(agent: http.Agent, url: URL, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        method: 'POST',
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `total` requests over `concurrency` closed loops; returns per-request latencies and errors. */
async function drive(
  agent: http.Agent,
  url: URL,
  body: Buffer,
  concurrency: number,
  total: number,
  onFirst?: (body: string) => void,
): Promise<{ latencies: number[]; wallS: number; errors: number; firstError?: string }> {
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  let checked = onFirst === undefined;
  const loop = async () => {
    while (issued < total) {
      issued++;
      const t0 = performance.now();
      try {
        const r = await post(agent, url, body);
        const dt = performance.now() - t0;
        if (r.status !== 200) {
          errors++;
          firstError ??= `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
          continue;
        }
        latencies.push(dt);
        if (!checked) {
          checked = true;
          onFirst!(r.body);
        }
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { latencies, wallS: (performance.now() - start) / 1000, errors, firstError };
}

export async function closedLoop(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.url);
  const body = Buffer.from(opts.body);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    if (opts.warmup > 0) await drive(agent, url, body, opts.concurrency, opts.warmup);
    const run = await drive(agent, url, body, opts.concurrency, opts.requests, opts.check);
    if (run.latencies.length === 0) throw new Error(`every request to ${opts.url} failed: ${run.firstError}`);
    return {
      concurrency: opts.concurrency,
      wallS: run.wallS,
      reqPerS: run.latencies.length / run.wallS,
      errors: run.errors,
      ...(run.firstError ? { firstError: run.firstError } : {}),
      ...latencyStats(run.latencies),
    };
  } finally {
    agent.destroy();
  }
}
