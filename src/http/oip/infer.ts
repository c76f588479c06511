/**
 * One OIP v2 inference, shared by `POST /v2/models/{m}[/versions/{v}]/infer` and the `kservev2`
 * service envelope on `/predictions`: body (JSON, JSON + binary, or raw binary) → tensors →
 * the model's pool → the inference response (JSON, or JSON header + binary outputs).
 */
import type { ModelVersion } from '../../registry/model-version.js';
import type { WireTensor } from '../../runtime/types.js';
import type { HttpResult } from '../reply.js';
import type { RouteContext } from '../route-context.js';
import { bodyBuffer, inferTensors, signatureOf } from '../tensor-infer.js';
import { checkBatchConfig, renameTensors, rowsOfTensors, type ModelConfig } from '../../wallaroo/index.js';
import { decodeBinaryRequest, decodeRawBinaryRequest, encodeResponse, HEADER_LENGTH, headerLengthOf } from './binary.js';
import { decodeJsonRequest, parseJsonObject, type CodecLimits, type DecodedInferRequest } from './codec.js';

/** Reads the request body in whichever of the three forms it comes. */
export function decodeInferBody(ctx: RouteContext, v: ModelVersion, limits: CodecLimits): DecodedInferRequest {
  const body = bodyBuffer(ctx.req, 'Open Inference Protocol');
  const headerLength = headerLengthOf(ctx.req.headers[HEADER_LENGTH], body.length);
  if (headerLength === undefined) return decodeJsonRequest(parseJsonObject(body.toString('utf8')), limits);
  if (headerLength === 0) return decodeRawBinaryRequest(body, signatureOf(v).inputs, limits);
  return decodeBinaryRequest(body, headerLength, limits);
}

export interface InferOptions {
  explicitVersion: boolean;
  /** `id` for the response when the request has none (the kservev2 envelope answers with the request id, as TorchServe). */
  fallbackId?: string;
  extraHeaders?: Record<string, string>;
  /** The version's Wallaroo-style configuration (tensor_fields, batch_config). */
  modelConfig?: ModelConfig | undefined;
}

/**
 * An OIP request's input tensors as the model gets them under its Wallaroo-style configuration
 * (REST and gRPC): `tensor_fields` renames them; `batch_config: single` refuses more than one row.
 */
export function configuredInputs(v: ModelVersion, cfg: ModelConfig | undefined, inputs: WireTensor[]): WireTensor[] {
  const tensors = cfg?.tensorFields ? [...renameTensors(cfg, signatureOf(v).inputs.map((m) => m.name), inputs)] : inputs;
  const refused = checkBatchConfig(cfg, rowsOfTensors(tensors), `Model "${v.name}" version ${v.version}`);
  if (refused) throw refused;
  return tensors;
}

/** Runs a decoded request and renders the response. */
export async function runInfer(ctx: RouteContext, v: ModelVersion, request: DecodedInferRequest, opts: InferOptions): Promise<HttpResult> {
  const tensors = configuredInputs(v, opts.modelConfig, request.inputs);
  const call = { tensors, explicitVersion: opts.explicitVersion, ...(opts.extraHeaders ? { extraHeaders: opts.extraHeaders } : {}) };
  const outputs = await inferTensors(ctx, v, request.outputs ? { ...call, outputNames: request.outputs.map((o) => o.name) } : call);
  const binaryByName = new Map<string, boolean>();
  for (const o of request.outputs ?? []) if (o.binary !== undefined) binaryByName.set(o.name, o.binary);
  const binary = (t: WireTensor) => binaryByName.get(t.name) ?? request.binaryOutput;
  const id = request.id ?? opts.fallbackId;
  const encoded = encodeResponse({ modelName: v.name, modelVersion: v.version, ...(id === undefined ? {} : { id }) }, outputs, binary);
  if (encoded.headerLength === undefined) return { status: 200, body: encoded.body, contentType: 'application/json' };
  return {
    status: 200,
    body: encoded.body,
    contentType: 'application/octet-stream',
    headers: { 'Inference-Header-Content-Length': String(encoded.headerLength) },
  };
}
