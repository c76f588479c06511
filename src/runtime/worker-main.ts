/**
 * Worker-thread entry: owns one InferenceSession and one handler. Protocol (see protocol.ts):
 * load → loaded | load-failed; batch → result with one outcome per request. Nothing here may
 * fail silently: a handler crash fails that batch (503 "Prediction failed") and is logged.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ServeError, internalError } from '../errors.js';
import { createHandler } from '../handlers/index.js';
import type { Handler, HandlerLogger } from '../handlers/types.js';
import type { FromWorker, LogLevel, ToWorker, WorkerLoadConfig } from './protocol.js';
import { runSession, sessionOptions, signatureOf } from './session.js';
import { transferList } from './transfer.js';
import type { InferenceRequest, JobOutcome } from './types.js';

const port = parentPort;
if (!port) throw new Error('worker-main must run in a worker thread');

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const send = (level: LogLevel) => (message: string) => post({ type: 'log', level, message });
const log: HandlerLogger = { info: send('info'), warn: send('warn'), error: send('error') };
const heapUsed = () => getHeapStatistics().used_heap_size;

let handler: Handler | undefined;
let runs = 0;

async function load(config: WorkerLoadConfig): Promise<void> {
  try {
    const session = await ort.InferenceSession.create(config.modelFile, sessionOptions(config.intraOpThreads));
    const signature = signatureOf(session);
    handler = await createHandler(config.handler, {
      modelName: config.modelName,
      modelVersion: config.modelVersion,
      modelDir: config.modelDir,
      modelFile: config.modelFile,
      signature,
      log,
      run: (feeds) => {
        runs++;
        return runSession(session, feeds);
      },
    });
    post({ type: 'loaded', signature, heapUsed: heapUsed() });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    post({ type: 'load-failed', error: internalError(`Failed to load model ${config.modelName}: ${why}`).toPlain() });
  }
}

async function batch(id: number, requests: InferenceRequest[]): Promise<void> {
  runs = 0;
  let outcomes: JobOutcome[];
  try {
    if (!handler) throw new Error('batch received before the model was loaded');
    outcomes = await handler.handle(requests);
    if (outcomes.length !== requests.length) {
      log.error(`handler returned ${outcomes.length} outcomes for ${requests.length} requests`);
      outcomes = requests.map(() => ({ ok: false, error: internalError('number of batch response mismatched', 503).toPlain() }));
    }
  } catch (e) {
    log.error(`handler failed on a batch of ${requests.length}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const error = (e instanceof ServeError ? e : internalError('Prediction failed', 503)).toPlain();
    outcomes = requests.map(() => ({ ok: false, error }));
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
  if (msg.type === 'exit') {
    exitRequested = true;
    exitIfAsked();
  } else if (msg.type === 'load') void task(load(msg.config));
  else void task(batch(msg.id, msg.requests));
});
