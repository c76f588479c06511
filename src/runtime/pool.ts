/**
 * WorkerPool: the worker threads of one model version, its bounded job queue and its batcher.
 * The main thread only queues and dispatches raw request parts; everything model-related runs in
 * the workers. Invariant: every submitted job settles (reply, per-job error, 500 `Worker died.`
 * or 503 no-worker), whatever happens to workers or the target count.
 */
import { createInterface } from 'node:readline';
import type { Worker } from 'node:worker_threads';
import { ServeError, internalError, noWorkerMessage, serviceUnavailable } from '../errors.js';
import { createLane, drain, pollFor, post as postOn, TO_POOL, TO_WORKER, WORKER_POLL_US, type LaneEnd } from './lane.js';
import { createNativeFlag, lockNative } from './native-flag.js';
import type { BatchTiming, FromWorker, ToWorker, WorkerLoadConfig } from './protocol.js';
import { spawnWorker } from './spawn.js';
import { requestForTransfer, transferList } from './transfer.js';
import type {
  CancelSignal,
  InferenceReply,
  InferenceRequest,
  InferenceStatistics,
  JobOutcome,
  ModelSignature,
  PoolStats,
  ScaleResult,
  StatisticDuration,
  SubmitOptions,
  WorkerInfo,
  WorkerPoolOptions,
} from './types.js';

export interface PoolLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const silent: PoolLogger = { info() {}, warn() {}, error() {} };

/** Worker ids look like TorchServe's worker ports and stay unique across pools. */
let nextWorkerId = 9000;

/** Longest wait before retrying a worker that failed to (re)load, once the model loaded before. */
const MAX_RESTART_DELAY_MS = 30_000;

/** How long shutdown() waits for threads to finish their current task and exit. */
const SHUTDOWN_WAIT_MS = 5_000;

/** How often a stuck thread is checked for having left ONNX Runtime, so it can be terminated. */
const FORCE_END_POLL_MS = 50;

type SlotState = 'starting' | 'idle' | 'busy' | 'retiring' | 'dead';
type StartResult = { kind: 'loaded' } | { kind: 'failed' } | { kind: 'cancelled' };

/**
 * One submitted request until it settles. A class (not per-job closures): submit() is on every
 * request's path. Settles once; the pool's statistics are recorded on settlement.
 */
class Job {
  /** ns from submit() to the post to a worker. */
  queueNs?: number;
  /** The worker batch's timing and this request's batch items, set before a successful resolve. */
  compute?: BatchTiming;
  items?: number;
  onIntermediate?(reply: InferenceReply): boolean | void;
  /** The client went away; the worker has been told (or will be, once the job is dispatched). */
  cancelled = false;
  private settled = false;
  private signal?: CancelSignal;
  private onAbort?: () => void;

  constructor(
    private readonly pool: WorkerPool,
    readonly request: InferenceRequest,
    readonly explicitVersion: boolean,
    /** process.hrtime.bigint() at submit(). */
    readonly submitted: bigint,
    private readonly settleOk: (reply: InferenceReply) => void,
    private readonly settleError: (error: ServeError) => void,
  ) {}

  listen(signal: CancelSignal): void {
    this.signal = signal;
    this.onAbort = () => this.pool.cancelJob(this);
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  resolve(reply: InferenceReply): void {
    if (!this.done()) return;
    this.pool.recordSuccess(this);
    this.settleOk(reply);
  }

  reject(error: ServeError): void {
    if (!this.done()) return;
    this.pool.recordFailure(this.submitted, error.status, this);
    this.settleError(error);
  }

  /** False when already settled; else marks it settled and drops the abort listener. */
  private done(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }
}

interface Batch {
  id: number;
  jobs: Job[];
  timer: NodeJS.Timeout;
  /** process.hrtime.bigint() when it was posted. */
  sentAt: bigint;
}

interface Slot {
  id: number;
  thread: Worker;
  /** Every message to and from the thread (lane.ts). */
  lane: LaneEnd;
  /** This worker's MODEL_LOG logger (handler output), made on first use. */
  handlerLog?: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Messages from the thread handled so far. */
  consumed: number;
  /** Native-call flag shared with the thread (native-flag.ts). */
  native: Int32Array;
  ended: boolean;
  state: SlotState;
  startTime: Date;
  memory: number;
  batch?: Batch;
  startupTimer?: NodeJS.Timeout;
  started: Promise<StartResult>;
  settleStart(result: StartResult): void;
  /** Resolves when the thread has ended, however it ended. */
  exited: Promise<void>;
}

export class WorkerPool {
  private readonly slots = new Map<number, Slot>();
  /** Every thread started and not yet ended, removed slots included (a stuck one lingers here). */
  private readonly threads = new Set<Worker>();
  private queue: Job[] = [];
  private target = 0;
  private maxWorkers = 0;
  private closed = false;
  private everLoaded = false;
  private loadFailures = 0;
  private restartTimer?: NodeJS.Timeout;
  /** The deadline of a held partial batch (its oldest job's submit + maxBatchDelayMs). */
  private batchTimer?: NodeJS.Timeout;
  /** The end-of-turn dispatch of jobs submitted this turn (batchSize > 1). */
  private soon?: NodeJS.Immediate;
  /** The arrival hint's quiet listener, while a partial batch is held. */
  private unquiet?: () => void;
  private batchSeq = 0;
  /** Smoothed post→result time of recent batches, µs: busy-polling only pays for quick ones. */
  private roundTripUs = 0;
  private sig?: ModelSignature;
  private readonly counters: PoolStats = { batches: 0, jobs: 0, runs: 0, workerDeaths: 0, polledResults: 0, polledBatches: 0 };
  private readonly inference = newInferenceStatistics();
  private readonly log: PoolLogger;

  constructor(
    readonly options: WorkerPoolOptions,
    logger?: PoolLogger,
  ) {
    this.log = logger ?? silent;
  }

  /** Sets the worker count to `minWorkers` (no autoscaling, as in TorchServe); resolves once new workers loaded. */
  async scale(minWorkers: number, maxWorkers: number): Promise<ScaleResult> {
    if (this.closed) return { running: 0 };
    this.target = Math.max(0, Math.floor(minWorkers));
    this.maxWorkers = Math.max(this.target, Math.floor(maxWorkers));
    this.reconcile(true);
    const pending = this.live().filter((s) => s.state === 'starting');
    const failed = await firstFailure(pending.map((s) => s.started));
    const running = this.readyWorkers();
    if (!failed) return { running };
    const { modelName, modelVersion } = this.options;
    return {
      running,
      failure: internalError(`Failed to start workers for model ${modelName} version: ${modelVersion}`).toPlain(),
    };
  }

  /**
   * Queues one request. Takes ownership of the parts' buffers and of the tensors' typed arrays
   * (those owning their whole ArrayBuffer are transferred to a worker and detached here; views into
   * a larger buffer are copied once, leaving that buffer intact: see transfer.ts). Intermediate
   * replies (streaming) go to `onIntermediate`; aborting `signal` (an AbortSignal or a
   * Cancellation) drops the job from the queue, or tells its worker to cancel it
   * (`context.isCancelled`).
   */
  submit(request: InferenceRequest, opts: SubmitOptions = {}): Promise<InferenceReply> {
    const submitted = process.hrtime.bigint();
    const explicitVersion = opts.explicitVersion === true;
    this.options.observer?.submitted(explicitVersion);
    if (this.closed || !this.hasLiveWorker() || this.queue.length >= this.options.jobQueueSize) {
      const error = this.noWorker(explicitVersion);
      this.recordFailure(submitted, error.status, { explicitVersion });
      return Promise.reject(error);
    }
    const { signal } = opts;
    if (signal?.aborted) {
      const error = cancelledError();
      this.recordFailure(submitted, error.status, { explicitVersion });
      return Promise.reject(error);
    }
    return new Promise<InferenceReply>((resolve, reject) => {
      const job = new Job(this, request, explicitVersion, submitted, resolve, reject);
      if (opts.onIntermediate) job.onIntermediate = opts.onIntermediate;
      if (signal) job.listen(signal);
      this.queue.push(job);
      // A full batch (or no batching) goes now; else at the end of this turn, with every job
      // submitted in it (see dispatch(), "Batching rule").
      if (this.queue.length >= this.options.batchSize || !this.batching()) this.dispatch();
      else this.dispatchSoon();
    });
  }

  workers(): WorkerInfo[] {
    return [...this.slots.values()].map((s) => ({
      id: String(s.id),
      startTime: s.startTime,
      // TorchServe shows READY for a loaded, running worker and UNLOADING for everything else.
      status: s.state === 'idle' || s.state === 'busy' ? 'READY' : 'UNLOADING',
      memoryUsage: s.memory,
      pid: process.pid,
      gpu: false,
    }));
  }

  queueStatus(): { remainingCapacity: number; pendingRequests: number } {
    return {
      remainingCapacity: Math.max(0, this.options.jobQueueSize - this.queue.length),
      pendingRequests: this.queue.length,
    };
  }

  /** Workers by state, for metrics: ready = loaded (idle or busy). */
  workerCounts(): { ready: number; busy: number; starting: number } {
    let ready = 0;
    let busy = 0;
    let starting = 0;
    for (const s of this.slots.values()) {
      if (s.state === 'idle' || s.state === 'busy') ready++;
      if (s.state === 'busy') busy++;
      else if (s.state === 'starting') starting++;
    }
    return { ready, busy, starting };
  }

  readyWorkers(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.state === 'idle' || s.state === 'busy') n++;
    return n;
  }

  /** The target worker count set by the last scale(), and the max kept for describe. */
  workerTarget(): { minWorkers: number; maxWorkers: number } {
    return { minWorkers: this.target, maxWorkers: this.maxWorkers };
  }

  signature(): ModelSignature | undefined {
    return this.sig;
  }

  stats(): PoolStats {
    return { ...this.counters };
  }

  /** Triton-compatible statistics since the pool was created (semantics: InferenceStatistics in types.ts). */
  inferenceStats(): InferenceStatistics {
    const s = this.inference;
    const copy = (d: StatisticDuration): StatisticDuration => ({ count: d.count, ns: d.ns });
    const i = s.inference_stats;
    return {
      last_inference: s.last_inference,
      inference_count: s.inference_count,
      execution_count: s.execution_count,
      inference_stats: {
        success: copy(i.success),
        fail: copy(i.fail),
        queue: copy(i.queue),
        compute_input: copy(i.compute_input),
        compute_infer: copy(i.compute_infer),
        compute_output: copy(i.compute_output),
        cache_hit: copy(i.cache_hit),
        cache_miss: copy(i.cache_miss),
      },
    };
  }

  /** Nothing queued and no worker running a batch (what an unregister waits for). */
  isIdle(): boolean {
    if (this.queue.length > 0) return false;
    for (const s of this.slots.values()) if (s.batch) return false;
    return true;
  }

  /** Threads that have not ended yet, including removed workers still finishing (or stuck). */
  liveThreads(): number {
    return this.threads.size;
  }

  /** Fails queued and in-flight jobs with 503 and ends every worker thread (waits up to 5 s for them). */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.target = 0;
    clearTimeout(this.restartTimer);
    this.failQueue();
    const exits: Array<Promise<void>> = [];
    const slots = [...this.slots.values()];
    for (const slot of slots) {
      const jobs = slot.batch?.jobs ?? [];
      exits.push(this.kill(slot));
      for (const job of jobs) job.reject(this.noWorker(job.explicitVersion));
    }
    // A thread inside a long native run exits only when the run returns: don't wait for it forever.
    await Promise.race([Promise.all(exits), delay(SHUTDOWN_WAIT_MS)]);
    // One still there after the grace period may be stuck in a handler that never returns.
    for (const slot of slots) if (!slot.ended) this.forceEnd(slot);
  }

  // ---- workers ------------------------------------------------------------------------------

  /** Whether any worker counts toward the target (live() without building the list: per request). */
  private hasLiveWorker(): boolean {
    for (const s of this.slots.values()) if (s.state === 'starting' || s.state === 'idle' || s.state === 'busy') return true;
    return false;
  }

  /** Workers that count toward the target: loading or loaded, not retiring. */
  private live(): Slot[] {
    return [...this.slots.values()].filter((s) => s.state === 'starting' || s.state === 'idle' || s.state === 'busy');
  }

  /** Moves the worker count toward the target; failed-load retries back off unless `now`. */
  private reconcile(now = false): void {
    if (this.closed) return;
    const live = this.live();
    if (live.length > this.target) this.retire(live.length - this.target);
    else if (live.length < this.target) {
      const wait = now || this.loadFailures === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (this.loadFailures - 1));
      if (wait === 0) {
        clearTimeout(this.restartTimer);
        this.restartTimer = undefined;
        for (let i = live.length; i < this.target; i++) this.startWorker();
      } else if (!this.restartTimer) {
        this.log.warn(`${this.tag()}: retrying worker start in ${wait} ms`);
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          this.reconcile();
        }, wait);
      }
    }
    if (this.live().length === 0) this.failQueue();
  }

  private startWorker(): Slot {
    let settleStart!: (r: StartResult) => void;
    const started = new Promise<StartResult>((resolve) => (settleStart = resolve));
    const lane = createLane();
    const thread = spawnWorker(lane.worker, this.options.workerHeapLimitMb, this.options.modelLog !== undefined);
    const slot: Slot = {
      id: nextWorkerId++,
      thread,
      lane: lane.pool,
      consumed: 0,
      native: createNativeFlag(),
      ended: false,
      state: 'starting',
      startTime: new Date(),
      memory: 0,
      started,
      settleStart,
      exited: new Promise<void>((resolve) =>
        thread.once('exit', () => {
          slot.ended = true;
          slot.lane.port.close();
          this.threads.delete(thread);
          resolve();
        }),
      ),
    };
    this.threads.add(thread);
    this.slots.set(slot.id, slot);
    // What handler code prints (console.log/error) goes to MODEL_LOG, as TorchServe's worker stdout/stderr.
    if (this.options.modelLog) {
      const log = this.handlerLogOf(slot);
      createInterface({ input: thread.stdout }).on('line', (l) => log.info(l));
      createInterface({ input: thread.stderr }).on('line', (l) => log.warn(l));
    }
    slot.lane.port.on('message', (msg: FromWorker) => this.receive(slot, msg));
    slot.thread.on('error', (err) => this.log.error(`${this.tag(slot)} crashed: ${err.stack ?? err.message}`));
    slot.thread.on('exit', (code) => this.onExit(slot, code));
    slot.startupTimer = setTimeout(
      () => this.onLoadFailed(slot, `did not load within ${this.options.startupTimeoutSec} s`, true),
      this.options.startupTimeoutSec * 1000,
    );
    const o = this.options;
    const config: WorkerLoadConfig = {
      modelName: o.modelName,
      modelVersion: o.modelVersion,
      modelFile: o.modelFile,
      modelDir: o.modelDir,
      intraOpThreads: o.intraOpThreads,
      ...(o.ort === undefined ? {} : { ort: o.ort }),
      manifest: o.manifest ?? { runtime: 'python', model: {} },
      modelYamlConfig: o.modelYamlConfig ?? {},
      nativeFlag: slot.native.buffer as SharedArrayBuffer,
      ...(o.handler === undefined ? {} : { handler: o.handler }),
    };
    this.post(slot, { type: 'load', config });
    return slot;
  }

  /** Scale-down: starting and idle workers go at once, busy ones finish their batch first. */
  private retire(count: number): void {
    const order: SlotState[] = ['starting', 'idle', 'busy'];
    const victims = this.live().sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state) || b.id - a.id);
    for (const slot of victims.slice(0, count)) {
      if (slot.state === 'busy') slot.state = 'retiring';
      else void this.kill(slot);
    }
  }

  /**
   * Removes a worker for good and asks its thread to exit once its current task is done (see
   * protocol.ts: terminating a thread inside ORT aborts the process). A thread stuck in a long
   * native run keeps its core until that run returns; nothing waits for it on hot paths. With
   * `force` (a timeout: the handler may never return) the thread is also terminated as soon as it
   * is outside ONNX Runtime.
   */
  private kill(slot: Slot, force = false): Promise<void> {
    const wasStarting = slot.state === 'starting';
    slot.state = 'dead';
    this.slots.delete(slot.id);
    clearTimeout(slot.startupTimer);
    if (slot.batch) clearTimeout(slot.batch.timer);
    slot.batch = undefined;
    if (wasStarting) slot.settleStart({ kind: 'cancelled' });
    try {
      this.post(slot, { type: 'exit' });
    } catch {
      // Already gone: the exit event has fired or is about to.
    }
    if (force) this.forceEnd(slot);
    return slot.exited;
  }

  /**
   * Terminates a thread that may be stuck in JavaScript (a handler that never returns), but never
   * while it is inside ONNX Runtime: the native-call flag is locked first, and while a call is in
   * flight the check repeats until the call returns (the thread may also exit by itself, on `exit`).
   */
  private forceEnd(slot: Slot): void {
    const attempt = () => {
      if (slot.ended) return;
      if (lockNative(slot.native)) {
        this.log.warn(`${this.tag(slot)}: terminating the worker thread`);
        void slot.thread.terminate();
        return;
      }
      setTimeout(attempt, FORCE_END_POLL_MS).unref();
    };
    attempt();
  }

  private post(slot: Slot, msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    postOn(slot.lane, TO_WORKER, msg, transfer);
  }

  private receive(slot: Slot, msg: FromWorker): void {
    slot.consumed++;
    this.onMessage(slot, msg);
  }

  /**
   * Whether to busy-poll for the batch just posted: the server has this one request in flight (so
   * nothing else waits for the event loop), nothing is queued here, and recent batches came back
   * within the budget. Also tells the worker whether to busy-poll for its next batch.
   */
  private pollWorthy(slot: Slot): boolean {
    const us = this.options.busyPollUs ?? 0;
    const worthy = us > 0 && this.queue.length === 0 && this.options.arrivals?.alone() === true;
    Atomics.store(slot.lane.bell, WORKER_POLL_US, worthy ? us : 0);
    return worthy && this.roundTripUs < us;
  }

  /** Waits awake (lane.ts) up to the budget for batch `id`'s result and handles it synchronously. */
  private awaitBriefly(slot: Slot, id: number): void {
    const deadline = process.hrtime.bigint() + BigInt((this.options.busyPollUs ?? 0) * 1000);
    while (slot.batch?.id === id && !slot.ended) {
      const left = Number(deadline - process.hrtime.bigint()) / 1000;
      if (left <= 0 || !pollFor(slot.lane.bell, TO_POOL, slot.consumed, left)) return;
      drain(slot.lane.port, (msg) => this.receive(slot, msg as FromWorker));
      if (slot.batch?.id !== id) this.counters.polledResults++;
    }
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case 'log':
        if (this.options.modelLog) this.handlerLogOf(slot)[msg.level](msg.message);
        else this.log[msg.level](`${this.tag(slot)}: ${msg.message}`);
        return;
      case 'loaded':
        if (slot.state !== 'starting') return;
        clearTimeout(slot.startupTimer);
        slot.state = 'idle';
        slot.memory = msg.heapUsed;
        this.sig ??= msg.signature;
        this.everLoaded = true;
        this.loadFailures = 0;
        slot.settleStart({ kind: 'loaded' });
        const loadMs = Date.now() - slot.startTime.getTime();
        this.options.observer?.workerLoaded(this.tag(slot), loadMs);
        this.log.info(`${this.tag(slot)} loaded in ${loadMs} ms`);
        this.dispatch();
        return;
      case 'load-failed':
        this.onLoadFailed(slot, msg.error.message);
        return;
      case 'result':
        if (msg.polled) this.counters.polledBatches++;
        this.onResult(slot, msg.id, msg.outcomes, msg.runs, msg.timing, msg.heapUsed);
        return;
      case 'intermediate':
        this.onIntermediate(slot, msg.id, msg.index, msg.reply);
        return;
    }
  }

  private handlerLogOf(slot: Slot): NonNullable<Slot['handlerLog']> {
    const modelLog = this.options.modelLog!;
    return (slot.handlerLog ??= modelLog.forWorker({ model: this.options.modelName, version: this.options.modelVersion, worker: slot.id }));
  }

  private onLoadFailed(slot: Slot, why: string, force = false): void {
    if (slot.state !== 'starting') return;
    this.log.error(`${this.tag(slot)} failed to start: ${why}`);
    slot.settleStart({ kind: 'failed' }); // before kill(), which would report it as cancelled
    void this.kill(slot, force);
    if (this.everLoaded) this.loadFailures++;
    // A model that never loaded in this pool will not load on retry: drop the slot instead of looping.
    else this.target = Math.max(0, this.target - 1);
    this.reconcile();
  }

  private onResult(slot: Slot, id: number, outcomes: JobOutcome[], runs: number, timing: BatchTiming, heapUsed: number): void {
    const batch = slot.batch;
    if (!batch || batch.id !== id) return;
    clearTimeout(batch.timer);
    slot.batch = undefined;
    slot.memory = heapUsed;
    const us = Number(process.hrtime.bigint() - batch.sentAt) / 1000;
    this.roundTripUs = this.counters.batches <= 1 ? us : 0.8 * this.roundTripUs + 0.2 * us;
    this.counters.runs += runs;
    this.inference.execution_count += timing.executions;
    batch.jobs.forEach((job, i) => {
      const o = outcomes[i];
      if (!o) job.reject(internalError('number of batch response mismatched', 503));
      else if (o.ok) {
        job.compute = timing;
        job.items = o.items ?? 1;
        job.resolve(o.reply);
      } else job.reject(ServeError.fromPlain(o.error));
    });
    if (slot.state === 'retiring') void this.kill(slot);
    else slot.state = 'idle';
    this.dispatch();
  }

  /** A streamed partial reply: handed to the job's consumer; each one restarts the response timeout. */
  private onIntermediate(slot: Slot, id: number, index: number, reply: InferenceReply): void {
    const batch = slot.batch;
    if (!batch || batch.id !== id) return;
    clearTimeout(batch.timer);
    batch.timer = setTimeout(() => this.onResponseTimeout(slot, id), this.options.responseTimeoutSec * 1000);
    const job = batch.jobs[index];
    if (!job || job.cancelled) return;
    let more: boolean | void;
    try {
      more = job.onIntermediate?.(reply);
    } catch (e) {
      this.log.error(`${this.tag(slot)}: intermediate reply consumer failed: ${String(e)}`);
      more = false;
    }
    if (more === false) this.cancelJob(job);
  }

  /** @internal (Job) The client of `job` went away: drop it while queued, else tell its worker (`context.isCancelled`). */
  cancelJob(job: Job): void {
    if (job.cancelled) return;
    job.cancelled = true;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancelledError());
      return;
    }
    for (const slot of this.slots.values()) {
      const index = slot.batch?.jobs.indexOf(job) ?? -1;
      if (slot.batch && index >= 0) {
        try {
          this.post(slot, { type: 'cancel', id: slot.batch.id, index });
        } catch {
          // The thread is gone: its jobs settle through the exit path.
        }
        return;
      }
    }
  }

  /** A worker that vanished: its batch fails with `Worker died.` and it is replaced if the target says so. */
  private onExit(slot: Slot, code: number): void {
    if (slot.state === 'dead') return;
    if (slot.state === 'starting') {
      this.onLoadFailed(slot, `thread exited with code ${code}`);
      return;
    }
    this.log.error(`${this.tag(slot)} exited unexpectedly with code ${code}`);
    this.workerDied(slot);
  }

  private onResponseTimeout(slot: Slot, id: number): void {
    if (slot.batch?.id !== id) return;
    this.log.error(`${this.tag(slot)}: no response within ${this.options.responseTimeoutSec} s, terminating it`);
    this.workerDied(slot, true);
  }

  private workerDied(slot: Slot, force = false): void {
    const jobs = slot.batch?.jobs ?? [];
    this.counters.workerDeaths++;
    this.options.observer?.workerDied(this.tag(slot));
    void this.kill(slot, force);
    for (const job of jobs) job.reject(internalError('Worker died.'));
    this.reconcile();
    this.dispatch();
  }

  // ---- queue and batching -------------------------------------------------------------------

  /**
   * Hands each idle worker up to batchSize queued jobs. Batching rule (batchSize > 1 and
   * maxBatchDelayMs > 0): a full batch goes at once; jobs submitted in one event-loop turn are
   * dispatched together at its end; a partial batch is held only while another request is on
   * its way — `options.arrivals`: a connection of the inference API is receiving a request, or was
   * opened less than maxBatchDelayMs ago and has sent none yet — and never longer than
   * maxBatchDelayMs after its oldest job was submitted. So a lone request never waits for a batch
   * that cannot fill, while concurrent clients still share runs (docs/architecture.md, "Batching
   * rule"). `flush`: the deadline passed.
   */
  private dispatch(flush = false): void {
    const size = Math.max(1, this.options.batchSize);
    for (const slot of this.slots.values()) {
      if (this.queue.length === 0) break;
      if (slot.state !== 'idle') continue;
      if (this.queue.length < size && !flush && this.holdPartial()) return;
      this.send(slot, this.queue.splice(0, size));
    }
    if (this.queue.length === 0 || flush) this.stopHolding();
  }

  private batching(): boolean {
    return this.options.batchSize > 1 && this.options.maxBatchDelayMs > 0;
  }

  private dispatchSoon(): void {
    this.soon ??= setImmediate(() => {
      this.soon = undefined;
      this.dispatch();
    });
  }

  /** Whether to keep the queued partial batch waiting (arming its deadline and quiet wake-up if so). */
  private holdPartial(): boolean {
    const arrivals = this.options.arrivals;
    const oldest = this.queue[0];
    if (!this.batching() || !arrivals || !oldest) return false;
    const delay = this.options.maxBatchDelayMs;
    const left = delay - Number(process.hrtime.bigint() - oldest.submitted) / 1e6;
    if (left <= 0 || !arrivals.couldArrive(delay)) return false;
    if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined;
        this.dispatch(true);
      }, Math.ceil(left));
    }
    this.unquiet ??= arrivals.onQuiet(() => this.dispatchSoon());
    return true;
  }

  private stopHolding(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.unquiet?.();
    this.unquiet = undefined;
  }

  private send(slot: Slot, jobs: Job[]): void {
    const id = ++this.batchSeq;
    const sentAt = process.hrtime.bigint();
    for (const job of jobs) job.queueNs = elapsedNs(job.submitted, sentAt);
    slot.state = 'busy';
    slot.batch = {
      id,
      jobs,
      timer: setTimeout(() => this.onResponseTimeout(slot, id), this.options.responseTimeoutSec * 1000),
      sentAt,
    };
    this.counters.batches++;
    this.counters.jobs += jobs.length;
    this.options.observer?.batch(jobs.length);
    let poll = false;
    try {
      // Tensor views into larger buffers are copied once here; every owned buffer is transferred (transfer.ts).
      const posted = jobs.map((j) => requestForTransfer(j.request));
      const requests = posted.map((p) => p.request);
      poll = this.pollWorthy(slot);
      this.post(slot, { type: 'batch', id, requests }, transferList(posted.flatMap((p) => p.views)));
    } catch (e) {
      // postMessage only throws for uncloneable input: fail these jobs, keep the worker.
      clearTimeout(slot.batch.timer);
      slot.batch = undefined;
      slot.state = 'idle';
      for (const job of jobs) job.reject(internalError(`Could not hand the request to a worker: ${String(e)}`));
    }
    if (poll) this.awaitBriefly(slot, id);
  }

  // ---- statistics -----------------------------------------------------------------------------

  /** @internal (Job) */
  recordSuccess(job: Job): void {
    const s = this.inference;
    const i = s.inference_stats;
    s.last_inference = Date.now();
    s.inference_count += job.items ?? 1;
    const latencyNs = elapsedNs(job.submitted, process.hrtime.bigint());
    this.options.observer?.settled({ ok: true, explicitVersion: job.explicitVersion, latencyNs, ...(job.queueNs === undefined ? {} : { queueNs: job.queueNs }) });
    add(i.success, latencyNs);
    add(i.queue, job.queueNs ?? 0);
    const t = job.compute;
    add(i.compute_input, t?.inputNs ?? 0);
    add(i.compute_infer, t?.inferNs ?? 0);
    add(i.compute_output, t?.outputNs ?? 0);
  }

  /** @internal (Job) */
  recordFailure(submitted: bigint, status: number, job: { explicitVersion: boolean; queueNs?: number }): void {
    this.inference.last_inference = Date.now();
    const latencyNs = elapsedNs(submitted, process.hrtime.bigint());
    this.options.observer?.settled({
      ok: false,
      status,
      explicitVersion: job.explicitVersion,
      latencyNs,
      ...(job.queueNs === undefined ? {} : { queueNs: job.queueNs }),
    });
    add(this.inference.inference_stats.fail, latencyNs);
  }

  private failQueue(): void {
    const jobs = this.queue;
    this.queue = [];
    this.stopHolding();
    clearImmediate(this.soon);
    this.soon = undefined;
    for (const job of jobs) job.reject(this.noWorker(job.explicitVersion));
  }

  private noWorker(explicitVersion: boolean): ServeError {
    const { modelName, modelVersion } = this.options;
    return serviceUnavailable(noWorkerMessage(modelName, explicitVersion ? modelVersion : undefined));
  }

  private tag(slot?: Slot): string {
    const name = `${this.options.modelName}_${this.options.modelVersion}`;
    return slot ? `W-${slot.id}-${name}` : name;
  }
}

/** Resolves true at the first failed start, false once all loaded or were cancelled. */
function firstFailure(starts: Array<Promise<StartResult>>): Promise<boolean> {
  if (starts.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let left = starts.length;
    for (const p of starts) {
      void p.then((r) => {
        if (r.kind === 'failed') resolve(true);
        else if (--left === 0) resolve(false);
      });
    }
  });
}

const elapsedNs = (from: bigint, to: bigint): number => Number(to - from);

function add(d: StatisticDuration, ns: number): void {
  d.count++;
  d.ns += ns;
}

function newInferenceStatistics(): InferenceStatistics {
  const zero = (): StatisticDuration => ({ count: 0, ns: 0 });
  return {
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: {
      success: zero(),
      fail: zero(),
      queue: zero(),
      compute_input: zero(),
      compute_infer: zero(),
      compute_output: zero(),
      cache_hit: zero(),
      cache_miss: zero(),
    },
  };
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** What a job abandoned by its client settles with (nobody is left to read it). */
const cancelledError = () => serviceUnavailable('The request was cancelled by the client');
