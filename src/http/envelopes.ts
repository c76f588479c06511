/**
 * TorchServe's service envelopes on `/predictions` and `/explanations` (config `service_envelope`,
 * env `TS_SERVICE_ENVELOPE`, or the manifest's `model.envelope`), after
 * `ts/torch_handler/request_envelope/*.py`:
 *
 * - `body`: the body as it is (no envelope; TorchServe's default behaviour).
 * - `kserve`: `{"instances": [...]}` ⇒ `{"predictions": [...]}`, or `{"explanations": [...]}` on
 *   `/explanations`.
 * - `json`: `{"instances": [...]}` (`{"b64": ...}` rows decoded) ⇒ `{"predictions": [...]}`.
 * - `kservev2`: an OIP v2 inference request ⇒ the v2 response (`id` echoed, else the request id;
 *   `model_name`, `model_version`, `outputs`).
 *
 * Errors stay TorchServe's `{"code","type","message"}`: these are TorchServe routes.
 */
import type { ServiceEnvelope } from '../config/types.js';
import type { ModelVersion } from '../registry/model-version.js';
import { jsonResult, v1Infer } from './kserve-v1.js';
import type { CodecLimits } from './oip/codec.js';
import { parseJsonObject } from './oip/codec.js';
import { decodeInferBody, runInfer } from './oip/infer.js';
import type { HttpResult } from './reply.js';
import type { RouteContext } from './route-context.js';
import { bodyBuffer } from './tensor-infer.js';
import type { ModelConfig } from '../wallaroo/catalog.js';

export interface EnvelopeCall {
  envelope: Exclude<ServiceEnvelope, 'body'>;
  explain: boolean;
  explicitVersion: boolean;
  limits: CodecLimits;
  extraHeaders: Record<string, string>;
  modelConfig?: ModelConfig | undefined;
}

export async function envelopePredict(ctx: RouteContext, v: ModelVersion, call: EnvelopeCall): Promise<HttpResult> {
  if (call.envelope === 'kservev2') {
    return runInfer(ctx, v, decodeInferBody(ctx, v, call.limits), {
      explicitVersion: call.explicitVersion,
      fallbackId: ctx.req.id,
      extraHeaders: call.extraHeaders,
      modelConfig: call.modelConfig,
    });
  }
  const body = parseJsonObject(bodyBuffer(ctx.req, `The ${call.envelope} envelope's`).toString('utf8'));
  const values = await v1Infer(ctx, v, body, { explain: call.explain, explicitVersion: call.explicitVersion, limits: call.limits, columnar: false, modelConfig: call.modelConfig });
  const key = call.envelope === 'kserve' && call.explain ? 'explanations' : 'predictions';
  return jsonResult({ [key]: values });
}
