/**
 * The default ONNX handler, as TorchServe BaseHandler-style steps (so a module overriding some
 * steps gets these for the others):
 *
 * - `preprocess(batch)` → one feeds object `{input name: ort.Tensor}` per request, read from the
 *   request's parts as JSON whatever their content type; a request the model cannot take becomes a
 *   400 error *in its slot* (it fails alone, the others still run).
 * - `inference(list)` → one outputs object `{output name: ort.Tensor}` per request. Compatible
 *   requests run as one `session.run` (concatenated along axis 0, split back). Items may also be a
 *   Tensor (single-input model) or a plain JSON value (mapped onto the inputs like a request body).
 *   A single feeds object / Tensor instead of a list is run once, for the whole batch.
 * - `postprocess(list)` → one JSON value per request: the single output's nested array, or
 *   `{output name: array}`; `{label: score}` rows with an `index_to_name.json`. A whole-batch
 *   outputs object is split into one value per row.
 *
 * Error items pass through every step. A batch dimension the handler added for a request sent
 * without one is removed again from its reply (tracked in a WeakSet, invisible to user steps).
 *
 * Tensor-native requests (`InferenceRequest.tensors`, the Open Inference Protocol): `preprocess`
 * builds their feeds straight from the WireTensors (wire-tensors.ts: checked against the signature,
 * no batch dimension added, the typed arrays wrapped by `ort.Tensor` without a copy), and
 * `postprocess` answers them with a TensorReply (the outputs as WireTensors, all of them in model
 * order or the requested `outputNames`) instead of JSON. Which positions of the batch are tensor
 * requests is remembered per handler call (keyed by its context), so a module overriding only
 * `inference` still gets tensor replies. JSON and tensor requests of one batch share runs.
 */
import type { Tensor } from 'onnxruntime-node';
import { ServeError, badRequest, internalError } from '../errors.js';
import type { ModelSignature, RequestPart } from '../runtime/types.js';
import type { HandlerContext, HandlerModule, HandlerRequest } from './api.js';
import { batchKey, canBatch, concatFeeds, groupByKey, rowCount, splitOutputs } from './batching.js';
import { labelRows, loadLabels } from './labels.js';
import { TensorReply } from './outputs.js';
import { collectInputs, inputsFromValue } from './request-inputs.js';
import { tensorRequestOf } from './requests.js';
import { decodeInput, dropLeadingOne, toNested } from './tensor-codec.js';
import type { TensorData, TensorMap, TensorType } from './types.js';
import { UnsupportedOutputError, feedsFromWire, selectOutputs, wireFromOutputs } from './wire-tensors.js';

type Feeds = Record<string, Tensor>;
type Ort = HandlerContext['ort'];

/** Feeds and outputs objects of requests that were sent without their batch dimension. */
const batchAdded = new WeakSet<object>();
/**
 * Per handler call (its context): for each position of the batch, the outputs a tensor request
 * wants back (undefined for a JSON request). Absent when the call has no tensor request.
 */
const tensorReplies = new WeakMap<HandlerContext, Array<string[] | undefined>>();
/** Batch items (rows along axis 0) of each request the default preprocess read, for statistics. */
const itemsByRequest = new WeakMap<HandlerRequest, number>();

/**
 * How many batch items a request carried: its first-dim size when the model is batchable (every
 * input and output has a dynamic first dim) and the default preprocess read it; undefined otherwise
 * (the caller counts 1).
 */
export function batchItemsOf(request: HandlerRequest): number | undefined {
  return itemsByRequest.get(request);
}
const labelsByDir = new Map<string, Promise<string[] | undefined>>();

function labelsFor(ctx: HandlerContext): Promise<string[] | undefined> {
  let labels = labelsByDir.get(ctx.modelDir);
  if (!labels) {
    labels = loadLabels(ctx.modelDir);
    labelsByDir.set(ctx.modelDir, labels);
  }
  return labels;
}

function asServeError(e: unknown): ServeError {
  if (e instanceof ServeError) return e;
  return internalError(e instanceof Error ? e.message : String(e));
}

// ---- TensorData ⇄ ort.Tensor (no copies: a Tensor wraps its typed array) ---------------------

export function tensorData(t: Tensor): TensorData {
  return { type: t.type as TensorType, dims: [...t.dims], data: t.data as TensorData['data'] };
}

export function ortTensor(ort: Ort, t: TensorData): Tensor {
  // ort.Tensor's overloads pair each type with its array class; TensorData keeps that pairing itself.
  return new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
}

const toData = (feeds: Feeds): TensorMap => Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, tensorData(t)]));
const toOrt = (ort: Ort, map: TensorMap): Feeds => Object.fromEntries(Object.entries(map).map(([k, t]) => [k, ortTensor(ort, t)]));

const isTensor = (ctx: HandlerContext, v: unknown): v is Tensor => v instanceof ctx.ort.Tensor;

function isFeeds(ctx: HandlerContext, v: unknown): v is Feeds {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || isTensor(ctx, v)) return false;
  const values = Object.values(v);
  return values.length > 0 && values.every((t) => isTensor(ctx, t));
}

// ---- request → feeds --------------------------------------------------------------------------

/** JSON values by input name → tensors (400 on anything the model cannot take). */
function decodeValues(values: Record<string, unknown>, signature: ModelSignature): { feeds: TensorMap; batchAdded: boolean } {
  const feeds: TensorMap = {};
  let added = false;
  for (const meta of signature.inputs) {
    const decoded = decodeInput(meta, values[meta.name]);
    feeds[meta.name] = decoded.tensor;
    added ||= decoded.batchAdded;
  }
  return { feeds, batchAdded: added };
}

/** Request parts → feeds: parse parts as JSON, map them to inputs, build tensors. */
export function prepareRequest(parts: ReadonlyArray<RequestPart>, signature: ModelSignature): { feeds: TensorMap; batchAdded: boolean } {
  return decodeValues(collectInputs(parts, signature.inputs), signature);
}

function marked(feeds: Feeds, added: boolean): Feeds {
  if (added) batchAdded.add(feeds);
  return feeds;
}

/** One item of an inference list → feeds (a feeds object, a Tensor, or a JSON value). */
function feedsOf(item: unknown, ctx: HandlerContext): Feeds {
  if (isFeeds(ctx, item)) return item;
  const inputs = ctx.signature.inputs;
  if (isTensor(ctx, item)) {
    if (inputs.length !== 1) throw badRequest(`The model has ${inputs.length} inputs; a single tensor cannot feed it`);
    return { [inputs[0]!.name]: item };
  }
  const { feeds, batchAdded: added } = decodeValues(inputsFromValue(item, inputs), ctx.signature);
  return marked(toOrt(ctx.ort, feeds), added);
}

// ---- outputs → reply values -------------------------------------------------------------------

/** Outputs → reply JSON value: the single output's array, or {name: array}; labels when configured. */
export function replyValue(outputs: TensorMap, signature: ModelSignature, added: boolean, labels: string[] | undefined): unknown {
  const names = signature.outputs.map((m) => m.name).filter((n) => n in outputs);
  if (names.length === 1) {
    const t = outputs[names[0]!]!;
    const rows = labels ? labelRows(t, labels) : undefined;
    if (rows) return added && rows.length === 1 ? rows[0] : rows;
    return toNested(added ? dropLeadingOne(t) : t);
  }
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const t = outputs[name]!;
    out[name] = toNested(added ? dropLeadingOne(t) : t);
  }
  return out;
}

function replyOrError(ctx: HandlerContext, outputs: TensorMap, added: boolean, labels: string[] | undefined): unknown {
  try {
    return replyValue(outputs, ctx.signature, added, labels);
  } catch (e) {
    ctx.log.error(`could not serialise model output: ${String(e)}`);
    return internalError('Unsupported model output data type.', 503);
  }
}

// ---- the steps --------------------------------------------------------------------------------

interface Prepared {
  index: number;
  feeds: Feeds;
  data: TensorMap;
  /** Rows along axis 0, when all feeds agree (else the request runs alone). */
  rows: number | undefined;
  added: boolean;
}

/** One run for the whole group; false (nothing written) when the model or the split refuses it. */
async function runBatched(ctx: HandlerContext, group: Prepared[], out: unknown[]): Promise<boolean> {
  let parts: TensorMap[];
  try {
    const outputs = await ctx.run(toOrt(ctx.ort, concatFeeds(group.map((p) => p.data))));
    parts = splitOutputs(
      toData(outputs),
      group.map((p) => p.rows ?? 0),
    );
  } catch (e) {
    // Fall back to one run per request, so one bad request fails alone with its own message.
    ctx.log.warn(`batched run of ${group.length} requests failed, running them one by one: ${String(e)}`);
    return false;
  }
  group.forEach((p, k) => {
    out[p.index] = marked(toOrt(ctx.ort, parts[k]!), p.added);
  });
  return true;
}

async function runOne(ctx: HandlerContext, p: Prepared): Promise<unknown> {
  try {
    return marked(await ctx.run(p.feeds), p.added);
  } catch (e) {
    // Inputs passed our checks, so ORT's complaint is almost always about how they combine (shapes).
    return badRequest(`The model rejected the inputs: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function inferList(items: readonly unknown[], ctx: HandlerContext): Promise<unknown[]> {
  const out = new Array<unknown>(items.length);
  const prepared: Prepared[] = [];
  items.forEach((item, index) => {
    if (item instanceof Error) {
      out[index] = item;
      return;
    }
    try {
      const feeds = feedsOf(item, ctx);
      const data = toData(feeds);
      prepared.push({ index, feeds, data, rows: rowCount(data), added: batchAdded.has(feeds) });
    } catch (e) {
      out[index] = asServeError(e);
    }
  });
  const groups = canBatch(ctx.signature)
    ? groupByKey(prepared, (p) => (p.rows === undefined ? undefined : batchKey(p.data)))
    : prepared.map((p) => [p]);
  for (const group of groups) {
    if (group.length > 1 && (await runBatched(ctx, group, out))) continue;
    for (const p of group) out[p.index] = await runOne(ctx, p);
  }
  return out;
}

/** The reply of a tensor request: its outputs as WireTensors (503 when one has no OIP datatype). */
function tensorReplyOf(ctx: HandlerContext, item: unknown, names: string[]): TensorReply | ServeError {
  let outputs: TensorMap;
  if (isFeeds(ctx, item)) outputs = toData(item);
  else if (isTensor(ctx, item) && ctx.signature.outputs.length === 1) outputs = { [ctx.signature.outputs[0]!.name]: tensorData(item) };
  else {
    ctx.log.error('the inference step returned something other than model outputs for a tensor request');
    return internalError('Unsupported model output data type.', 503);
  }
  try {
    return new TensorReply(wireFromOutputs(outputs, names));
  } catch (e) {
    if (!(e instanceof UnsupportedOutputError)) throw e;
    ctx.log.error(`could not return model output as tensors: ${e.message}`);
    return internalError('Unsupported model output data type.', 503);
  }
}

/** A whole-batch outputs object (or Tensor) → one reply value per row of axis 0. */
function splitRows(ctx: HandlerContext, outputs: TensorMap, labels: string[] | undefined): unknown[] {
  const first = Object.values(outputs)[0];
  const n = first?.dims[0];
  if (first === undefined || n === undefined) throw new Error('the default postprocess needs outputs with a batch dimension');
  const rows = splitOutputs(outputs, new Array<number>(n).fill(1));
  return rows.map((row) => replyOrError(ctx, row, true, labels));
}

export const DEFAULT_ONNX_HANDLER: HandlerModule = {
  async initialize(ctx: HandlerContext): Promise<void> {
    await labelsFor(ctx);
  },

  preprocess(batch: HandlerRequest[], ctx: HandlerContext): Array<Feeds | ServeError> {
    const batchable = canBatch(ctx.signature);
    const replies: Array<string[] | undefined> = [];
    let anyTensors = false;
    const out = batch.map((request, i) => {
      try {
        const wire = tensorRequestOf(request);
        let feeds: TensorMap;
        let added = false;
        if (wire) {
          anyTensors = true;
          feeds = feedsFromWire(wire.tensors, ctx.signature);
          replies[i] = selectOutputs(wire.outputNames, ctx.signature);
        } else {
          ({ feeds, batchAdded: added } = prepareRequest(request.parts, ctx.signature));
        }
        if (batchable) itemsByRequest.set(request, rowCount(feeds) ?? 1);
        return marked(toOrt(ctx.ort, feeds), added);
      } catch (e) {
        return asServeError(e);
      }
    });
    if (anyTensors) tensorReplies.set(ctx, replies);
    return out;
  },

  async inference(input: unknown, ctx: HandlerContext): Promise<unknown> {
    if (Array.isArray(input)) return inferList(input, ctx);
    const feeds = feedsOf(input, ctx);
    return marked(await ctx.run(feeds), batchAdded.has(feeds));
  },

  async postprocess(output: unknown, ctx: HandlerContext): Promise<unknown[]> {
    const labels = await labelsFor(ctx);
    if (Array.isArray(output)) {
      const wanted = tensorReplies.get(ctx);
      return output.map((item: unknown, i: number) => {
        if (item instanceof Error) return item;
        const names = wanted?.[i];
        if (names) return tensorReplyOf(ctx, item, names);
        if (isFeeds(ctx, item)) return replyOrError(ctx, toData(item), batchAdded.has(item), labels);
        if (isTensor(ctx, item)) return toNested(tensorData(item));
        return item;
      });
    }
    if (isFeeds(ctx, output)) return splitRows(ctx, toData(output), labels);
    if (isTensor(ctx, output)) {
      const name = ctx.signature.outputs[0]?.name ?? 'output';
      return splitRows(ctx, { [name]: tensorData(output) }, labels);
    }
    throw new Error('the default postprocess expects a list with one outputs object per request, or one outputs object for the batch');
  },
};
