/**
 * The bench's load generators, over node:http with keep-alive Agents, in the bench process:
 *
 *   - closedLoop: `concurrency` loops (one keep-alive connection each), each sending its next
 *     request as soon as the previous answer is fully read — for a fixed number of requests or a
 *     fixed time. What autocannon and wrk do (both are closed-loop, one request in flight per
 *     connection); see bench/README.md for why this client and not those.
 *   - openLoop: requests sent at a fixed rate whatever the server does (overload), each with a
 *     client-side timeout, counting every status, timeout and socket error.
 *
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
export function latencyStats(samples: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const at = (p: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!);
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, meanMs: n ? sum / n : NaN, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: n ? sorted[n - 1]! : NaN };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface Target {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

interface Prepared {
  url: URL;
  method: string;
  body: Buffer;
  headers: Record<string, string | number>;
}

function prepare(t: Target): Prepared {
  const body = t.body === undefined ? Buffer.alloc(0) : Buffer.from(t.body as Uint8Array);
  const method = t.method ?? (t.body === undefined ? 'GET' : 'POST');
  return {
    url: new URL(t.url),
    method,
    body,
    // No body ⇒ no content-type: the management API then reads its parameters from the query.
    headers: {
      ...(t.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...t.headers,
      ...(method === 'GET' ? {} : { 'content-length': body.length }),
    },
  };
}

/** One request; `timeoutMs` destroys it (rejecting with `timeout`) if no full answer came by then. */
function send(agent: http.Agent, p: Prepared, timeoutMs?: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, method: p.method, hostname: p.url.hostname, port: p.url.port, path: p.url.pathname + p.url.search, headers: p.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (timer) clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new TimeoutError()), timeoutMs);
    req.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    req.end(p.body);
  });
}

class TimeoutError extends Error {
  constructor() {
    super('timeout');
  }
}

/** A single request (for checks and set-up), with a 60 s timeout. */
export async function request(t: Target, timeoutMs = 60_000): Promise<Reply> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    return await send(agent, prepare(t), timeoutMs);
  } finally {
    agent.destroy();
  }
}

// ---- closed loop ---------------------------------------------------------------------------------

export interface LoadResult extends LatencyStats {
  concurrency: number;
  wallS: number;
  /** Answered (status 200) requests ÷ wall time. */
  reqPerS: number;
  errors: number;
  firstError?: string;
  /** Per-request latencies (ms) of the 200s, when asked for (to pool rounds). */
  samples?: number[];
}

export interface ClosedLoopOptions extends Target {
  concurrency: number;
  /** Stop after this many requests were sent… */
  requests?: number;
  /** …or after this many seconds (requests in flight are still awaited). One of the two is needed. */
  durationS?: number;
  /** Requests (count) or seconds (durationS mode) of warm-up, not measured. */
  warmup?: number;
  /** Validates the first measured 200 (throws to fail the scenario). */
  check?: (reply: Reply) => void;
  keepSamples?: boolean;
  /** Called about every `tickMs` while loading (e.g. to sample the server's memory). */
  onTick?: (elapsedS: number) => void;
  tickMs?: number;
}

async function drive(
  agent: http.Agent,
  p: Prepared,
  concurrency: number,
  stop: { requests?: number; durationS?: number },
  onFirst?: (r: Reply) => void,
  onTick?: (elapsedS: number) => void,
  tickMs = 1000,
): Promise<{ latencies: number[]; wallS: number; errors: number; firstError?: string }> {
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  let checked = onFirst === undefined;
  const start = performance.now();
  const endAt = stop.durationS !== undefined ? start + stop.durationS * 1000 : Infinity;
  const more = () => (stop.requests !== undefined ? issued < stop.requests : performance.now() < endAt);
  const ticker = onTick ? setInterval(() => onTick((performance.now() - start) / 1000), tickMs) : undefined;
  const loop = async () => {
    while (more()) {
      issued++;
      const t0 = performance.now();
      try {
        const r = await send(agent, p);
        const dt = performance.now() - t0;
        if (r.status !== 200) {
          errors++;
          firstError ??= `HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`;
          continue;
        }
        latencies.push(dt);
        if (!checked) {
          checked = true;
          onFirst!(r);
        }
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    if (ticker) clearInterval(ticker);
  }
  return { latencies, wallS: (performance.now() - start) / 1000, errors, ...(firstError ? { firstError } : {}) };
}

/** A closed loop's measured run as a LoadResult (shared with the gRPC loop, bench/grpc-load.ts). */
export function loadResult(
  concurrency: number,
  run: { latencies: number[]; wallS: number; errors: number; firstError?: string | undefined },
  keepSamples: boolean | undefined,
): LoadResult {
  return {
    concurrency,
    wallS: run.wallS,
    reqPerS: run.latencies.length / run.wallS,
    errors: run.errors,
    ...(run.firstError ? { firstError: run.firstError } : {}),
    ...latencyStats(run.latencies),
    ...(keepSamples ? { samples: run.latencies } : {}),
  };
}

export async function closedLoop(opts: ClosedLoopOptions): Promise<LoadResult> {
  if (opts.requests === undefined && opts.durationS === undefined) throw new Error('closedLoop needs requests or durationS');
  const p = prepare(opts);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    if (opts.warmup && opts.warmup > 0) {
      await drive(agent, p, opts.concurrency, opts.requests !== undefined ? { requests: opts.warmup } : { durationS: opts.warmup });
    }
    const stop = opts.requests !== undefined ? { requests: opts.requests } : { durationS: opts.durationS! };
    const run = await drive(agent, p, opts.concurrency, stop, opts.check, opts.onTick, opts.tickMs);
    if (run.latencies.length === 0) throw new Error(`every request to ${opts.url} failed: ${run.firstError}`);
    return loadResult(opts.concurrency, run, opts.keepSamples);
  } finally {
    agent.destroy();
  }
}

/** Several rounds of the same load as one result (latencies pooled, req/s = all 200s ÷ all wall time). */
export function pooled(rounds: LoadResult[]): LoadResult {
  const samples = rounds.flatMap((r) => r.samples ?? []);
  const wallS = rounds.reduce((a, r) => a + r.wallS, 0);
  const errors = rounds.reduce((a, r) => a + r.errors, 0);
  const firstError = rounds.find((r) => r.firstError)?.firstError;
  return {
    concurrency: rounds[0]?.concurrency ?? 0,
    wallS,
    reqPerS: samples.length / wallS,
    errors,
    ...(firstError ? { firstError } : {}),
    ...latencyStats(samples),
  };
}

/**
 * Runs each load `rounds` times, alternating (A B A B …): `pooled` has each one's rounds as one
 * result, `rounds` each round's own (for ratios within a round: neighbours in time share the
 * machine's conditions, which on a shared machine change within seconds).
 */
export async function interleaved<K extends string>(
  rounds: number,
  loads: Record<K, () => Promise<LoadResult>>,
): Promise<{ pooled: Record<K, LoadResult>; rounds: Record<K, LoadResult[]> }> {
  const keys = Object.keys(loads) as K[];
  const got = Object.fromEntries(keys.map((k) => [k, [] as LoadResult[]])) as Record<K, LoadResult[]>;
  for (let r = 0; r < rounds; r++) {
    for (const k of keys) got[k].push(await loads[k]());
  }
  return { pooled: Object.fromEntries(keys.map((k) => [k, pooled(got[k])])) as Record<K, LoadResult>, rounds: got };
}

/** The median over rounds of f(a[i], b[i]) — a ratio taken within each round. */
export function medianOfRounds<A, B>(a: A[], b: B[], f: (x: A, y: B) => number): { median: number; perRound: number[] } {
  const perRound = a.map((x, i) => f(x, b[i]!));
  const s = [...perRound].sort((x, y) => x - y);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, perRound };
}

// ---- open loop -----------------------------------------------------------------------------------

export interface OpenLoopOptions extends Target {
  ratePerS: number;
  durationS: number;
  /** Client timeout per request: a request with no full answer by then counts as hung. */
  timeoutMs: number;
}

export interface OpenLoopResult {
  ratePerS: number;
  durationS: number;
  sent: number;
  /** Status code → count (answered requests). */
  statuses: Record<string, number>;
  /** Requests with no full answer within the client timeout (hung). */
  timeouts: number;
  /** Connection errors (reset, refused…), with the first message. */
  socketErrors: number;
  firstSocketError?: string;
  /** Latency of the accepted (200) requests. */
  accepted: LatencyStats;
  /** Latency of the rejected (503) requests. */
  rejected: LatencyStats;
  /** From the last request sent to the last answer (or timeout). */
  drainMs: number;
}

/** Sends `ratePerS` requests a second for `durationS` seconds, on time whatever the answers. */
export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const p = prepare(opts);
  // Enough sockets that the client never queues: every due request goes out on time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
  const statuses: Record<string, number> = {};
  const accepted: number[] = [];
  const rejected: number[] = [];
  let timeouts = 0;
  let socketErrors = 0;
  let firstSocketError: string | undefined;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  const fire = () => {
    sent++;
    const t0 = performance.now();
    const pr = send(agent, p, opts.timeoutMs).then(
      (r) => {
        const dt = performance.now() - t0;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) accepted.push(dt);
        else if (r.status === 503) rejected.push(dt);
      },
      (e: unknown) => {
        if (e instanceof TimeoutError) timeouts++;
        else {
          socketErrors++;
          firstSocketError ??= e instanceof Error ? e.message : String(e);
        }
      },
    );
    pending.add(pr);
    void pr.finally(() => pending.delete(pr));
  };
  try {
    const start = performance.now();
    const total = Math.round(opts.ratePerS * opts.durationS);
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * opts.ratePerS));
        while (sent < due) fire();
        if (sent >= total) return resolve();
        setTimeout(tick, 2);
      };
      tick();
    });
    const lastSent = performance.now();
    await Promise.all([...pending]);
    return {
      ratePerS: opts.ratePerS,
      durationS: opts.durationS,
      sent,
      statuses,
      timeouts,
      socketErrors,
      ...(firstSocketError ? { firstSocketError } : {}),
      accepted: latencyStats(accepted),
      rejected: latencyStats(rejected),
      drainMs: performance.now() - lastSent,
    };
  } finally {
    agent.destroy();
  }
}
