/** The inference API (port 8080), routed as TorchServe's InferenceRequestHandler (spec §4.1). */
import { Transform, pipeline } from 'node:stream';
import { ServeError, badRequest, internalError, methodNotAllowed, resourceNotFound } from '../errors.js';
import type { Logger } from '../logging.js';
import type { ModelRegistry } from '../registry/registry.js';
import { apiDescription, modelInferenceDescription } from './api-description.js';
import { envelopePredict } from './envelopes.js';
import { inferForHttp } from './inference-stream.js';
import { v1Router } from './kserve-v1.js';
import { oipRouter } from './oip/routes.js';
import type { HttpResult } from './reply.js';
import { handlerHeaders, requestParts } from './request-parts.js';
import type { RouteContext, Router } from './route-context.js';
import { signatureOf } from './tensor-infer.js';
import { preparePredictionParts, type ModelConfig } from '../wallaroo/index.js';

/** TorchServe's default `max_response_size` (bytes), used when the caller does not pass one. */
export const DEFAULT_MAX_RESPONSE_SIZE = 6553500;

export interface InferenceDeps {
  registry: ModelRegistry;
  maxRequestSize: number;
  /** `max_response_size`: the largest body (or streamed chunk) a reply may have. */
  maxResponseSize?: number;
  /** Where failures after a streamed reply started are reported. */
  log?: Logger;
  /** A version's Wallaroo-style model configuration (tensor_fields, batch_config), if any. */
  modelConfig?: (model: string, version: string) => ModelConfig | undefined;
}

async function predict(ctx: RouteContext, deps: InferenceDeps, model: string, version: string | undefined, extraHeaders: Record<string, string>): Promise<HttpResult> {
  const v = deps.registry.resolve(model, version);
  if (ctx.method === 'OPTIONS') return { status: 200, json: modelInferenceDescription(model) };
  const modelConfig = deps.modelConfig?.(v.name, v.version);
  if (v.envelope !== undefined && v.envelope !== 'body') {
    return envelopePredict(ctx, v, {
      envelope: v.envelope,
      explain: extraHeaders.explain === 'True',
      explicitVersion: version !== undefined,
      limits: { maxElements: deps.maxRequestSize },
      extraHeaders,
      modelConfig,
    });
  }
  const received = await requestParts(ctx.req, deps.maxRequestSize);
  // tensor_fields and batch_config apply to the default ONNX handler's JSON inputs.
  const parts =
    modelConfig && v.defaultHandler
      ? [...preparePredictionParts(modelConfig, modelConfig.tensorFields ? signatureOf(v).inputs.map((m) => m.name) : [], received, `Model "${v.name}" version ${v.version}`)]
      : received;
  const request = { parts, headers: handlerHeaders(ctx.req, extraHeaders) };
  const explicitVersion = version !== undefined;
  return inferForHttp((opts) => v.pool.submit(request, { ...opts, explicitVersion }), {
    socket: ctx.req.raw.socket,
    log: deps.log,
    what: `model ${v.name} version ${v.version}`,
  });
}

/**
 * TorchServe refuses a worker response frame over `max_response_size` (the client then gets 500
 * "Worker died."); here the client gets a 500 that says why, and the worker lives on.
 */
export function responseTooLarge(size: number, max: number): ServeError {
  return internalError(
    `Response size ${size} bytes exceeds max_response_size (${max} bytes). Consider increasing the 'max_response_size' in 'config.properties' to fix.`,
  );
}

/** Checks a reply body against `max`; a streamed body chunk by chunk (a chunk is a frame in TorchServe). */
function limitResponse(result: HttpResult, max: number, log: InferenceDeps['log']): HttpResult {
  const body = result.body;
  if (body === undefined) return result;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (size > max) throw responseTooLarge(size, max);
    return result;
  }
  const limited = new Transform({
    objectMode: true,
    transform(chunk: Uint8Array, _encoding, done) {
      if (chunk.byteLength > max) done(responseTooLarge(chunk.byteLength, max));
      else done(null, chunk);
    },
  });
  // pipeline: a client gone (limited destroyed) also destroys the source, which stops the handler.
  pipeline(body, limited, (err) => {
    if (err instanceof ServeError) log?.error(`Streamed reply ended early: ${err.message}`);
  });
  return { ...result, body: limited };
}

export function inferenceRouter(deps: InferenceDeps): Router {
  const route = routeInference(deps);
  const max = deps.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE;
  return async (ctx) => limitResponse(await route(ctx), max, deps.log);
}

function routeInference(deps: InferenceDeps): Router {
  const v2 = oipRouter(deps);
  const v1 = v1Router(deps);
  return async (ctx) => {
    const [first, second, third, ...rest] = ctx.segments;
    if (first === 'v2') return v2(ctx, ctx.segments.slice(1));
    if (first === 'v1') return v1(ctx, ctx.segments.slice(1));
    if (first === undefined) {
      if (ctx.method === 'OPTIONS') return { status: 200, json: apiDescription('inference') };
      throw methodNotAllowed();
    }
    if (first === 'api-description') return { status: 200, json: apiDescription('inference') };
    if (first === 'ping') {
      const healthy = deps.registry.isHealthy();
      return { status: healthy ? 200 : 500, json: { status: healthy ? 'Healthy' : 'Unhealthy' } };
    }
    if ((first === 'predictions' || first === 'explanations') && second) {
      const urlPath = rest.length > 0 ? rest.join('/') : '';
      const explain = first === 'explanations' ? 'True' : 'False';
      return predict(ctx, deps, second, third, { url_path: urlPath, explain });
    }
    if (first === 'invocations') {
      const model = ctx.query.get('model_name') ?? soleStartupModel(deps);
      if (!model) throw badRequest('Parameter model_name is required.');
      return predict(ctx, deps, model, undefined, { explain: 'False' });
    }
    if (first === 'models' && second && third === 'invoke' && rest.length === 0) {
      return predict(ctx, deps, second, undefined, { explain: 'False' });
    }
    // Legacy `/{m}/predict` and `/{m}/{v}/predict`.
    if (second === 'predict' && third === undefined) return predict(ctx, deps, first, undefined, { explain: 'False' });
    if (second && third === 'predict' && rest.length === 0) return predict(ctx, deps, first, second, { explain: 'False' });
    throw resourceNotFound();
  };
}

function soleStartupModel(deps: InferenceDeps): string | undefined {
  const names = deps.registry.startupModels();
  return names.length === 1 ? names[0] : undefined;
}
