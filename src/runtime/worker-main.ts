/**
 * Worker-thread entry: owns one InferenceSession and one handler module. Protocol (protocol.ts):
 * load → loaded | load-failed; batch → intermediate* then result, one outcome per request;
 * cancel marks a request of the running batch as abandoned; exit ends the thread between tasks.
 * Nothing here may fail silently: a handler error fails that batch (TorchServe's 503 "Prediction
 * failed", or the status it carried) and is logged; the worker keeps serving.
 */
import { getHeapStatistics } from 'node:v8';
import { workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { internalError } from '../errors.js';
import type { HandlerLogger, HandlerModule } from '../handlers/api.js';
import { handleBatch, initializeHandler } from '../handlers/compose.js';
import { WorkerHandlerContext } from '../handlers/context.js';
import { loadHandler } from '../handlers/loader.js';
import { drain, pollFor, post as postOn, TO_POOL, TO_WORKER, WORKER_POLL_US, type LaneEnd } from './lane.js';
import { tracked } from './native-flag.js';
import type { BatchTiming, FromWorker, LogLevel, ToWorker, WorkerLoadConfig } from './protocol.js';
import { sessionOptions, signatureOf } from './session.js';
import type { WorkerBoot } from './spawn.js';
import { ownedTensors, replyViews, transferList } from './transfer.js';
import type { InferenceReply, InferenceRequest, JobOutcome } from './types.js';

const boot = workerData as WorkerBoot | undefined;
if (!boot?.port) throw new Error('worker-main must run in a worker thread started by spawnWorker');
const lane: LaneEnd = { port: boot.port, bell: new Int32Array(boot.bell) };
/** Messages from the pool handled so far (lane.ts: something is waiting when its counter is ahead). */
let consumed = 0;

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => postOn(lane, TO_POOL, msg, transfer);
const send = (level: LogLevel) => (message: string) => post({ type: 'log', level, message });
const log: HandlerLogger = { info: send('info'), warn: send('warn'), error: send('error') };
/**
 * The thread's heap use (reported as the worker's memoryUsage), read at most once a second:
 * getHeapStatistics walks every heap space, which showed in the profile when read per batch.
 */
let heapRead = { at: 0, bytes: 0 };
const heapUsed = () => {
  const t = Date.now();
  if (t - heapRead.at >= 1000) heapRead = { at: t, bytes: getHeapStatistics().used_heap_size };
  return heapRead.bytes;
};

// A promise a handler forgot to await (e.g. an un-awaited sendIntermediate) must not end the worker.
process.on('unhandledRejection', (reason) => {
  log.error(`unhandled rejection in the handler: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
});

let loaded: { module: HandlerModule; context: WorkerHandlerContext; handler?: string } | undefined;
let runs = 0;

/** The session.run calls of the current batch: first call, last settlement (hrtime ns), successes. */
interface RunSpan {
  first?: bigint;
  last?: bigint;
  ok: number;
}
let span: RunSpan = { ok: 0 };
const now = () => process.hrtime.bigint();

/** A batch's time split around its runs (see BatchTiming); all handler time is compute_infer without a run. */
function timingOf(start: bigint, s: RunSpan, end: bigint): BatchTiming {
  const ns = (a: bigint, b: bigint) => Number(b > a ? b - a : 0n);
  if (s.first === undefined) return { inputNs: 0, inferNs: ns(start, end), outputNs: 0, executions: s.ok };
  const last = s.last !== undefined && s.last < end ? s.last : end;
  return { inputNs: ns(start, s.first), inferNs: ns(s.first, last), outputNs: ns(last, end), executions: s.ok };
}
/** The batch being handled, and which of its requests their clients abandoned. */
let current: { id: number; cancelled: Set<number> } | undefined;

/**
 * Every ONNX Runtime session call made in this thread — `InferenceSession.create` and `run` of any
 * session, through `context.run`, the context's session, or sessions a handler creates itself —
 * is counted (runs) and runs with the native-call flag raised, so the pool never terminates the
 * thread inside ONNX Runtime (onnxruntime-node makes the native call in a later macrotask, so the
 * flag stays raised until the returned promise settles).
 */
let instrumented = false;

function instrumentOrt(flag: Int32Array): void {
  if (instrumented) return;
  instrumented = true;
  type Call<T> = (...args: unknown[]) => Promise<T>;
  const Session = ort.InferenceSession as unknown as { prototype: { run: Call<unknown> }; create: Call<ort.InferenceSession> };
  const run = Session.prototype.run;
  Session.prototype.run = function (this: unknown, ...args: unknown[]) {
    runs++;
    // The batch's span at call time: a run a handler left behind must not count in the next batch.
    const s = span;
    const started = now();
    if (s.first === undefined || started < s.first) s.first = started;
    const settled = () => {
      const t = now();
      if (s.last === undefined || t > s.last) s.last = t;
    };
    return tracked(flag, () => run.apply(this, args)).then(
      (result) => {
        settled();
        s.ok++;
        return result;
      },
      (e: unknown) => {
        settled();
        throw e;
      },
    );
  };
  const create = Session.create;
  Session.create = (...args: unknown[]) => tracked(flag, () => create.apply(Session, args));
}

async function load(config: WorkerLoadConfig): Promise<void> {
  try {
    instrumentOrt(new Int32Array(config.nativeFlag));
    const session = await ort.InferenceSession.create(config.modelFile, sessionOptions(config.intraOpThreads, config.ort));
    const signature = signatureOf(session);
    const { module, description } = await loadHandler(config.handler, config.modelDir);
    const context = new WorkerHandlerContext({
      modelName: config.modelName,
      modelVersion: config.modelVersion,
      modelDir: config.modelDir,
      modelFile: config.modelFile,
      manifest: config.manifest,
      modelYamlConfig: config.modelYamlConfig,
      session,
      ort,
      signature,
      log,
    });
    try {
      await initializeHandler(module, context);
    } catch (e) {
      throw new Error(`handler "${config.handler ?? ''}" failed to initialize: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    loaded = { module, context, ...(config.handler === undefined ? {} : { handler: config.handler }) };
    if (config.handler) log.info(`using handler ${description}`);
    post({ type: 'loaded', signature, heapUsed: heapUsed() });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    post({ type: 'load-failed', error: internalError(`Failed to load model ${config.modelName}: ${why}`).toPlain() });
  }
}

async function batch(id: number, requests: InferenceRequest[], polled: boolean): Promise<void> {
  const start = now();
  runs = 0;
  span = { ok: 0 };
  const state = { id, cancelled: new Set<number>() };
  current = state;
  let outcomes: JobOutcome[];
  try {
    if (!loaded) throw new Error('batch received before the model was loaded');
    outcomes = await handleBatch(
      {
        module: loaded.module,
        context: loaded.context,
        log,
        ...(loaded.handler === undefined ? {} : { handler: loaded.handler }),
        hooks: {
          sendIntermediate: (index: number, reply: InferenceReply) => {
            post({ type: 'intermediate', id, index, reply }, transferList([reply.body]));
          },
          isCancelled: (index: number) => state.cancelled.has(index),
        },
      },
      requests,
    );
  } catch (e) {
    log.error(`batch of ${requests.length} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const error = internalError('Prediction failed', 503).toPlain();
    outcomes = requests.map(() => ({ ok: false, error }));
  } finally {
    if (current === state) current = undefined;
  }
  const timing = timingOf(start, span, now());
  const views: ArrayBufferView[] = [];
  for (const o of outcomes) {
    if (!o.ok) continue;
    // The default handler's reply tensors own their arrays already; this only guards other paths.
    if (o.reply.tensors) o.reply.tensors = ownedTensors(o.reply.tensors);
    views.push(...replyViews(o.reply));
  }
  post({ type: 'result', id, outcomes, runs, timing, heapUsed: heapUsed(), polled }, transferList(views));
}

let busy = false;
let exitRequested = false;

/** Ends the thread from inside, and only between tasks, so no ORT native call is ever cut short. */
function exitIfAsked(): void {
  if (exitRequested && !busy) process.exit(0);
}

async function task(work: Promise<void>): Promise<void> {
  busy = true;
  try {
    await work;
  } finally {
    busy = false;
    exitIfAsked();
    awaitNextBriefly();
  }
}

/**
 * While the pool says the server has a single request in flight, the next batch is usually one
 * client round trip away: wait for it awake (bounded by the pool's budget) rather than asleep,
 * which saves a thread wake-up on its way in (lane.ts).
 */
function awaitNextBriefly(): void {
  const us = Atomics.load(lane.bell, WORKER_POLL_US);
  if (us <= 0 || busy || exitRequested) return;
  if (pollFor(lane.bell, TO_WORKER, consumed, us)) drain(lane.port, (m) => onMessage(m as ToWorker, true));
}

lane.port.on('message', (m: ToWorker) => onMessage(m, false));

function onMessage(msg: ToWorker, polled: boolean): void {
  consumed++;
  switch (msg.type) {
    case 'exit':
      exitRequested = true;
      exitIfAsked();
      return;
    case 'cancel':
      if (current?.id === msg.id) current.cancelled.add(msg.index);
      return;
    case 'load':
      void task(load(msg.config));
      return;
    case 'batch':
      void task(batch(msg.id, msg.requests, polled));
      return;
  }
}
