/**
 * KServe v1 (TF-Serving style) on the inference port: `GET /v1/models`, `GET /v1/models/{m}`,
 * `POST /v1/models/{m}:predict` and `:explain`. Also what the `kserve` and `json` service
 * envelopes do on `/predictions`.
 *
 * For a model on the default ONNX handler the body becomes tensors (the model inputs' datatypes)
 * and rides the same tensor-native path as OIP v2: `{"instances": [...]}` stacks one row per
 * instance (a bare value for a single-input model, or `{input name: value}`), `{"inputs": ...}`
 * is columnar (one nested array per input, or one for a single-input model); the answer has one
 * prediction per row of the outputs' first dimension (an object `{output: value}` for several
 * outputs). For any other handler each instance is one request of the handler's batch, as
 * TorchServe's envelopes do. Errors keep TorchServe's `{"code","type","message"}` (these are
 * TorchServe routes).
 */
import { badRequest, methodNotAllowed, resourceNotFound } from '../errors.js';
import type { ModelVersion } from '../registry/model-version.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { OipDatatype, TensorMeta, WireTensor } from '../runtime/types.js';
import { checkShape, decodeJsonData, nestedValue, parseJsonObject, type CodecLimits } from './oip/codec.js';
import { oipFromOrt } from './oip/datatypes.js';
import type { HttpResult } from './reply.js';
import type { RouteContext } from './route-context.js';
import { bodyBuffer, inferInstances, inferTensors, signatureOf } from './tensor-infer.js';
import { applyTensorFields, checkBatchConfig, rowsInRequest, type ModelConfig } from '../wallaroo/index.js';

/**
 * The most instances one request may carry to a handler that does not take tensors: each is a job
 * of its own (the default handler stacks them into one tensor, bounded by the element limit).
 */
export const MAX_HANDLER_INSTANCES = 1024;

export interface V1Deps {
  registry: ModelRegistry;
  maxRequestSize: number;
  modelConfig?: (model: string, version: string) => ModelConfig | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compact JSON (predictions can be large). */
export const jsonResult = (value: unknown, status = 200): HttpResult => ({
  status,
  body: Buffer.from(JSON.stringify(value), 'utf8'),
  contentType: 'application/json',
});

/** Dims of a nested array along its first elements (raggedness is caught when the data is decoded). */
function shapeOf(value: unknown): number[] {
  const dims: number[] = [];
  let cur = value;
  while (Array.isArray(cur)) {
    dims.push(cur.length);
    cur = cur[0];
  }
  return dims;
}

function datatypeOf(meta: TensorMeta): OipDatatype {
  const dt = oipFromOrt(meta.type);
  if (!dt) throw badRequest(`Input "${meta.name}": the model's type ${meta.type} cannot be sent as JSON`);
  return dt;
}

/** `{"b64": s}` for a UINT8 input is its bytes, for a BYTES input the decoded text. */
function unwrapB64(meta: TensorMeta, datatype: OipDatatype, v: unknown): unknown {
  if (!isObject(v) || typeof v.b64 !== 'string' || Object.keys(v).length !== 1) return v;
  const bytes = Buffer.from(v.b64, 'base64');
  if (datatype === 'UINT8') return Array.from(bytes);
  if (datatype === 'BYTES') return bytes.toString('utf8');
  throw badRequest(`Input "${meta.name}": {"b64": ...} values need a UINT8 or BYTES input, this one is ${datatype}`);
}

/** One nested JSON value → a tensor of the input's datatype, shape read from the nesting. */
function tensorOf(meta: TensorMeta, value: unknown, limits: CodecLimits): WireTensor {
  const datatype = datatypeOf(meta);
  const where = `Input "${meta.name}"`;
  const dims = shapeOf(value);
  const { shape, elements } = checkShape(dims, where, limits);
  const data = decodeJsonData({ name: meta.name, datatype, shape, elements }, dims.length === 0 ? [value] : value);
  return { name: meta.name, datatype, shape, data };
}

/** `{"instances": [...]}` → one tensor per model input, rows stacked along a new first dimension. */
export function tensorsFromInstances(instances: readonly unknown[], inputs: readonly TensorMeta[], limits: CodecLimits): WireTensor[] {
  if (instances.length === 0) throw badRequest('"instances" is empty: expected one or more instances');
  const names = inputs.map((m) => m.name);
  const single = inputs.length === 1 ? inputs[0]! : undefined;
  const rowsByInput = new Map<string, unknown[]>(names.map((n) => [n, []]));
  instances.forEach((instance, i) => {
    const byName = isObject(instance) && !(single && 'b64' in instance && Object.keys(instance).length === 1);
    if (!byName) {
      if (!single) throw badRequest(`instances[${i}] must be an object {input name: value}: the model has ${inputs.length} inputs (${names.join(', ')})`);
      rowsByInput.get(single.name)!.push(instance);
      return;
    }
    for (const key of Object.keys(instance)) {
      if (!rowsByInput.has(key)) throw badRequest(`instances[${i}] has unknown input "${key}"; model inputs: ${names.join(', ')}`);
    }
    for (const n of names) {
      if (!(n in instance)) throw badRequest(`instances[${i}] lacks input "${n}"; model inputs: ${names.join(', ')}`);
      rowsByInput.get(n)!.push(instance[n]);
    }
  });
  return inputs.map((meta) => {
    const datatype = datatypeOf(meta);
    const rows = rowsByInput.get(meta.name)!.map((v) => unwrapB64(meta, datatype, v));
    return tensorOf(meta, rows, limits);
  });
}

/** `{"inputs": ...}` (columnar) → tensors: an object by input name, or one value for a single-input model. */
export function tensorsFromColumns(columns: unknown, inputs: readonly TensorMeta[], limits: CodecLimits): WireTensor[] {
  const names = inputs.map((m) => m.name);
  if (!isObject(columns)) {
    if (inputs.length !== 1) throw badRequest(`"inputs" must be an object {input name: value}: the model has ${inputs.length} inputs (${names.join(', ')})`);
    return [tensorOf(inputs[0]!, columns, limits)];
  }
  for (const key of Object.keys(columns)) {
    if (!names.includes(key)) throw badRequest(`"inputs" has unknown input "${key}"; model inputs: ${names.join(', ')}`);
  }
  return inputs.map((meta) => {
    if (!(meta.name in columns)) throw badRequest(`"inputs" lacks input "${meta.name}"; model inputs: ${names.join(', ')}`);
    return tensorOf(meta, unwrapB64(meta, datatypeOf(meta), columns[meta.name]), limits);
  });
}

/** Row `i` of a tensor along its first dimension, as a nested value. */
function row(t: WireTensor, i: number): unknown {
  const inner = t.shape.slice(1);
  const size = inner.reduce((a, d) => a * d, 1);
  return nestedValue(t, i * size, inner);
}

/** Output tensors → one prediction per row of the first dimension (all outputs must agree on it). */
export function predictionsOf(outputs: readonly WireTensor[]): unknown[] {
  const n = outputs[0]?.shape[0];
  const splittable = n !== undefined && outputs.every((t) => t.shape.length > 0 && t.shape[0] === n);
  if (!splittable) {
    // Nothing to split along: the whole answer is one prediction.
    return [outputs.length === 1 ? nestedValue(outputs[0]!) : Object.fromEntries(outputs.map((t) => [t.name, nestedValue(t)]))];
  }
  return Array.from({ length: n }, (_, i) => (outputs.length === 1 ? row(outputs[0]!, i) : Object.fromEntries(outputs.map((t) => [t.name, row(t, i)]))));
}

export interface V1Options {
  explain: boolean;
  explicitVersion: boolean;
  limits: CodecLimits;
  /** TorchServe's `kserve`/`json` envelopes read `instances` only; the v1 route also takes `inputs`. */
  columnar: boolean;
  /** The version's Wallaroo-style configuration (tensor_fields, batch_config). */
  modelConfig?: ModelConfig | undefined;
}

/** A v1 body → the prediction (or explanation) list. */
export async function v1Infer(ctx: RouteContext, v: ModelVersion, body: Record<string, unknown>, opts: V1Options): Promise<unknown[]> {
  const { instances, inputs } = body;
  if (instances !== undefined && inputs !== undefined) throw badRequest('Send either "instances" or "inputs", not both');
  if (instances === undefined && (inputs === undefined || !opts.columnar)) {
    throw badRequest(opts.columnar ? 'The request needs "instances" (a list) or "inputs"' : 'The request needs "instances" (a list)');
  }
  if (instances !== undefined && !Array.isArray(instances)) throw badRequest('"instances" must be a list');
  const refused = checkBatchConfig(opts.modelConfig, rowsInRequest('kserve-v1', body), `Model "${v.name}" version ${v.version}`);
  if (refused) throw refused;
  if (!v.defaultHandler) {
    // TorchServe's envelope semantics: each instance is one request of the handler's batch.
    const items = Array.isArray(instances) ? instances : [inputs];
    if (items.length > MAX_HANDLER_INSTANCES) {
      throw badRequest(`"instances" has ${items.length} entries, more than a request may carry (${MAX_HANDLER_INSTANCES})`);
    }
    return inferInstances(ctx, v, items, opts.explicitVersion, opts.explain);
  }
  const sig = signatureOf(v);
  const named = applyTensorFields(opts.modelConfig, sig.inputs.map((m) => m.name), 'kserve-v1', body);
  const tensors = Array.isArray(named.instances) ? tensorsFromInstances(named.instances, sig.inputs, opts.limits) : tensorsFromColumns(named.inputs, sig.inputs, opts.limits);
  const outputs = await inferTensors(ctx, v, { tensors, explicitVersion: opts.explicitVersion, extraHeaders: { explain: opts.explain ? 'True' : 'False' } });
  return predictionsOf(outputs);
}

/** `rest`: the segments after `v1`. */
export function v1Router(deps: V1Deps): (ctx: RouteContext, rest: string[]) => Promise<HttpResult> {
  const limits: CodecLimits = { maxElements: deps.maxRequestSize };
  return async (ctx, rest) => {
    const [first, target, ...more] = rest;
    if (first !== 'models' || more.length > 0) throw resourceNotFound();
    if (target === undefined) {
      if (ctx.method !== 'GET') throw methodNotAllowed();
      return jsonResult({ models: deps.registry.listDefaults().map((v) => v.name) });
    }
    const colon = target.indexOf(':');
    const name = colon >= 0 ? target.slice(0, colon) : target;
    const verb = colon >= 0 ? target.slice(colon + 1) : undefined;
    const v = deps.registry.resolve(name);
    if (verb === undefined) {
      if (ctx.method !== 'GET') throw methodNotAllowed();
      return jsonResult({ name, ready: v.pool.readyWorkers() > 0 });
    }
    if (verb !== 'predict' && verb !== 'explain') throw resourceNotFound();
    if (ctx.method !== 'POST') throw methodNotAllowed();
    const body = parseJsonObject(bodyBuffer(ctx.req, 'KServe v1').toString('utf8'));
    const explain = verb === 'explain';
    const values = await v1Infer(ctx, v, body, { explain, explicitVersion: false, limits, columnar: true, modelConfig: deps.modelConfig?.(v.name, v.version) });
    return jsonResult(explain ? { explanations: values } : { predictions: values });
  };
}
