/**
 * TorchServe's BaseHandler composition over a HandlerModule: per batch either `handle(batch, ctx)`
 * or `postprocess(inference(preprocess(batch)))`, each missing step taken from the default ONNX
 * handler. Requests with header `explain: True` (the `/explanations` route) go through
 * `preprocess` then `explain` instead, as a batch of their own. One outcome per request, always:
 * a thrown error fails that handler call's requests, never the worker.
 *
 * Tensor-native requests (`InferenceRequest.tensors`) are only understood by the default ONNX
 * handler's `preprocess` and `postprocess`: a module that brings its own `handle`, `preprocess` or
 * `postprocess` (every built-in does) gets none of them — they fail alone with a 400. A module that
 * only overrides `initialize` and/or `inference` takes them (its inference receives the same feeds
 * and returns the same outputs objects as for JSON requests).
 */
import { badRequest, internalError, type ServeError } from '../errors.js';
import type { InferenceRequest, JobOutcome } from '../runtime/types.js';
import type { HandlerContext, HandlerLogger, HandlerModule, HandlerRequest } from './api.js';
import { BatchScope, type BatchHooks, type WorkerHandlerContext } from './context.js';
import { DEFAULT_ONNX_HANDLER, batchItemsOf } from './default-onnx.js';
import { encodeOutcome, thrownError } from './outputs.js';
import { toHandlerRequest } from './requests.js';

/** Whether the request came through `/explanations` (TorchServe's `explain` request header). */
export const isExplainRequest = (headers: Readonly<Record<string, string>>): boolean => headers['explain'] === 'True';

type Step = (input: unknown, ctx: HandlerContext) => unknown;

function step(module: HandlerModule, name: 'preprocess' | 'inference' | 'postprocess'): Step {
  const own = module[name] as Step | undefined;
  if (own) return (input, ctx) => own.call(module, input, ctx);
  const fallback = DEFAULT_ONNX_HANDLER[name] as Step;
  return (input, ctx) => fallback.call(DEFAULT_ONNX_HANDLER, input, ctx);
}

/**
 * `initialize(context)`: the module's own. The default handler's (which reads `index_to_name.json`)
 * runs only for the default handler itself; its steps load what they need on first use otherwise.
 */
export async function initializeHandler(module: HandlerModule, ctx: HandlerContext): Promise<void> {
  if (module.initialize) await module.initialize(ctx);
}

async function predict(module: HandlerModule, batch: HandlerRequest[], ctx: HandlerContext): Promise<unknown> {
  if (module.handle) return module.handle(batch, ctx);
  const pre = await step(module, 'preprocess')(batch, ctx);
  const out = await step(module, 'inference')(pre, ctx);
  return step(module, 'postprocess')(out, ctx);
}

async function explain(module: HandlerModule, batch: HandlerRequest[], ctx: HandlerContext): Promise<unknown> {
  const pre = await step(module, 'preprocess')(batch, ctx);
  return module.explain!(pre, ctx, batch);
}

/** Whether the module's requests go through the default preprocess and postprocess (see the file comment). */
export function acceptsTensorRequests(module: HandlerModule): boolean {
  if (module === DEFAULT_ONNX_HANDLER) return true;
  return !module.handle && !module.preprocess && !module.postprocess;
}

/** The 400 of a tensor request to a model whose handler cannot take one. */
export function tensorRequestRefused(modelName: string, handler: string): ServeError {
  return badRequest(`Model "${modelName}" uses handler "${handler}", which does not accept tensor (Open Inference Protocol) requests`);
}

export interface BatchEnvironment {
  module: HandlerModule;
  context: WorkerHandlerContext;
  hooks: BatchHooks;
  log: HandlerLogger;
  /** The model's handler spec as configured (for messages); undefined for the default handler. */
  handler?: string;
}

/** Runs one pool batch through the handler; outcome `i` belongs to request `i`. */
export async function handleBatch(env: BatchEnvironment, requests: InferenceRequest[]): Promise<JobOutcome[]> {
  const outcomes = new Array<JobOutcome>(requests.length);
  const batch = requests.map(toHandlerRequest);
  const predictions: number[] = [];
  const explanations: number[] = [];
  const refuseTensors = !acceptsTensorRequests(env.module);
  requests.forEach((r, i) => {
    if (r.tensors !== undefined && refuseTensors) {
      const error = tensorRequestRefused(env.context.modelName, env.handler?.trim() || 'custom').toPlain();
      outcomes[i] = { ok: false, error };
      return;
    }
    (isExplainRequest(r.headers) ? explanations : predictions).push(i);
  });

  const call = async (positions: number[], kind: 'predict' | 'explain') => {
    const scope = new BatchScope(positions, env.hooks);
    const ctx = env.context.forBatch(scope);
    const sub = positions.map((i) => batch[i]!);
    const failAll = (error: JobOutcome) => positions.forEach((i) => (outcomes[i] = error));
    try {
      const outputs = kind === 'predict' ? await predict(env.module, sub, ctx) : await explain(env.module, sub, ctx);
      if (!Array.isArray(outputs)) {
        env.log.error(`the handler returned ${typeof outputs} instead of a list with one result per request`);
        failAll({ ok: false, error: internalError('Invalid model predict output', 503).toPlain() });
      } else if (outputs.length !== sub.length) {
        env.log.error(`the handler returned ${outputs.length} results for ${sub.length} requests`);
        failAll({ ok: false, error: internalError('number of batch response mismatched', 503).toPlain() });
      } else {
        positions.forEach((i, k) => {
          const outcome = encodeOutcome(outputs[k], scope.responses[k], env.log.error);
          if (outcome.ok) outcome.items = batchItemsOf(sub[k]!) ?? 1;
          outcomes[i] = outcome;
        });
      }
    } catch (e) {
      env.log.error(`handler failed on a batch of ${sub.length}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      failAll({ ok: false, error: thrownError(e) });
    } finally {
      scope.close();
    }
  };

  if (predictions.length > 0) await call(predictions, 'predict');
  if (explanations.length > 0) {
    if (env.module.explain) await call(explanations, 'explain');
    else {
      const error = badRequest(`Model "${env.context.modelName}" does not support explanations`).toPlain();
      for (const i of explanations) outcomes[i] = { ok: false, error };
    }
  }
  return outcomes;
}
