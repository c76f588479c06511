/**
 * Handler tests without worker threads: a real WorkerHandlerContext around a fake session (no
 * model), and handleBatch — the composition the worker runs — with recorded intermediates.
 */
import * as ort from 'onnxruntime-node';
import type { HandlerLogger, HandlerModule } from '../../src/handlers/api.js';
import { handleBatch } from '../../src/handlers/compose.js';
import { WorkerHandlerContext } from '../../src/handlers/context.js';
import type { InferenceReply, InferenceRequest, JobOutcome, ModelSignature } from '../../src/runtime/types.js';

export type Feeds = Record<string, ort.Tensor>;

export interface FakeContextOptions {
  signature: ModelSignature;
  /** The fake `session.run`; default: no model. */
  run?: (feeds: Feeds) => Promise<Feeds>;
  modelDir?: string;
  modelYamlConfig?: Record<string, unknown>;
}

export function memoryLog(): HandlerLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

export function fakeContext(opts: FakeContextOptions): WorkerHandlerContext & { log: ReturnType<typeof memoryLog> } {
  const run = opts.run ?? (() => Promise.reject(new Error('no model in this test')));
  const session = { run } as unknown as ort.InferenceSession;
  const log = memoryLog();
  const ctx = new WorkerHandlerContext({
    modelName: 'fake',
    modelVersion: '1',
    modelDir: opts.modelDir ?? '/nonexistent',
    modelFile: '/nonexistent/model.onnx',
    manifest: { runtime: 'python', model: { modelName: 'fake' } },
    modelYamlConfig: opts.modelYamlConfig ?? {},
    session,
    ort,
    signature: opts.signature,
    log,
  });
  return ctx as WorkerHandlerContext & { log: ReturnType<typeof memoryLog> };
}

export interface BatchRecord {
  outcomes: JobOutcome[];
  intermediates: Array<{ index: number; reply: InferenceReply }>;
}

/** Runs one batch as the worker would; `cancelled` positions are reported as abandoned. */
export async function runBatch(
  module: HandlerModule,
  requests: InferenceRequest[],
  ctx: WorkerHandlerContext,
  cancelled: Set<number> = new Set(),
): Promise<BatchRecord> {
  const intermediates: BatchRecord['intermediates'] = [];
  const outcomes = await handleBatch(
    {
      module,
      context: ctx,
      log: ctx.log,
      hooks: { sendIntermediate: (index, reply) => intermediates.push({ index, reply }), isCancelled: (i) => cancelled.has(i) },
    },
    requests,
  );
  return { outcomes, intermediates };
}

const enc = new TextEncoder();

/** A request with one part: JSON (`application/json`), text, or raw bytes (no content type). */
export function request(
  data: unknown,
  opts: { contentType?: string; name?: string; headers?: Record<string, string> } = {},
): InferenceRequest {
  const bytes = data instanceof Uint8Array ? data : enc.encode(typeof data === 'string' ? data : JSON.stringify(data));
  const part = { name: opts.name ?? 'body', data: bytes, ...(opts.contentType ? { contentType: opts.contentType } : {}) };
  return { parts: [part], headers: opts.headers ?? {} };
}

export const text = (o: JobOutcome): string => {
  if (!o.ok) throw new Error(`unexpected failure: ${o.error.status} ${o.error.message}`);
  return new TextDecoder().decode(o.reply.body);
};

export const json = (o: JobOutcome): unknown => JSON.parse(text(o)) as unknown;
