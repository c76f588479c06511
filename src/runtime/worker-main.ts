/**
 * Worker-thread entry: owns one InferenceSession and one handler module. Protocol (protocol.ts):
 * load → loaded | load-failed; batch → intermediate* then result, one outcome per request;
 * cancel marks a request of the running batch as abandoned; exit ends the thread between tasks.
 * Nothing here may fail silently: a handler error fails that batch (TorchServe's 503 "Prediction
 * failed", or the status it carried) and is logged; the worker keeps serving.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { internalError } from '../errors.js';
import type { HandlerLogger, HandlerModule } from '../handlers/api.js';
import { handleBatch, initializeHandler } from '../handlers/compose.js';
import { WorkerHandlerContext } from '../handlers/context.js';
import { loadHandler } from '../handlers/loader.js';
import { tracked } from './native-flag.js';
import type { FromWorker, LogLevel, ToWorker, WorkerLoadConfig } from './protocol.js';
import { sessionOptions, signatureOf } from './session.js';
import { transferList } from './transfer.js';
import type { InferenceReply, InferenceRequest, JobOutcome } from './types.js';

const port = parentPort;
if (!port) throw new Error('worker-main must run in a worker thread');

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const send = (level: LogLevel) => (message: string) => post({ type: 'log', level, message });
const log: HandlerLogger = { info: send('info'), warn: send('warn'), error: send('error') };
const heapUsed = () => getHeapStatistics().used_heap_size;

// A promise a handler forgot to await (e.g. an un-awaited sendIntermediate) must not end the worker.
process.on('unhandledRejection', (reason) => {
  log.error(`unhandled rejection in the handler: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
});

let loaded: { module: HandlerModule; context: WorkerHandlerContext } | undefined;
let runs = 0;
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
    return tracked(flag, () => run.apply(this, args));
  };
  const create = Session.create;
  Session.create = (...args: unknown[]) => tracked(flag, () => create.apply(Session, args));
}

async function load(config: WorkerLoadConfig): Promise<void> {
  try {
    instrumentOrt(new Int32Array(config.nativeFlag));
    const session = await ort.InferenceSession.create(config.modelFile, sessionOptions(config.intraOpThreads));
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
    loaded = { module, context };
    if (config.handler) log.info(`using handler ${description}`);
    post({ type: 'loaded', signature, heapUsed: heapUsed() });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    post({ type: 'load-failed', error: internalError(`Failed to load model ${config.modelName}: ${why}`).toPlain() });
  }
}

async function batch(id: number, requests: InferenceRequest[]): Promise<void> {
  runs = 0;
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
  const bodies = outcomes.flatMap((o) => (o.ok ? [o.reply.body] : []));
  post({ type: 'result', id, outcomes, runs, heapUsed: heapUsed() }, transferList(bodies));
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
  }
}

port.on('message', (msg: ToWorker) => {
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
      void task(batch(msg.id, msg.requests));
      return;
  }
});
