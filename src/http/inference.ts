/** The inference API (port 8080), routed as TorchServe's InferenceRequestHandler (spec §4.1). */
import { badRequest, methodNotAllowed, resourceNotFound } from '../errors.js';
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

export interface InferenceDeps {
  registry: ModelRegistry;
  maxRequestSize: number;
  /** Where failures after a streamed reply started are reported. */
  log?: Logger;
}

async function predict(ctx: RouteContext, deps: InferenceDeps, model: string, version: string | undefined, extraHeaders: Record<string, string>): Promise<HttpResult> {
  const v = deps.registry.resolve(model, version);
  if (ctx.method === 'OPTIONS') return { status: 200, json: modelInferenceDescription(model) };
  if (v.envelope !== undefined && v.envelope !== 'body') {
    return envelopePredict(ctx, v, {
      envelope: v.envelope,
      explain: extraHeaders.explain === 'True',
      explicitVersion: version !== undefined,
      limits: { maxElements: deps.maxRequestSize },
      extraHeaders,
    });
  }
  const parts = await requestParts(ctx.req, deps.maxRequestSize);
  const request = { parts, headers: handlerHeaders(ctx.req, extraHeaders) };
  const explicitVersion = version !== undefined;
  return inferForHttp((opts) => v.pool.submit(request, { ...opts, explicitVersion }), {
    socket: ctx.req.raw.socket,
    log: deps.log,
    what: `model ${v.name} version ${v.version}`,
  });
}

export function inferenceRouter(deps: InferenceDeps): Router {
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
