/**
 * The default ONNX handler: JSON nested arrays in, JSON nested arrays out (pretty-printed like
 * TorchServe's `json.dumps(indent=2)`), with batching of compatible requests into one run.
 */
import { ServeError, badRequest, internalError } from '../errors.js';
import type { InferenceReply, InferenceRequest, JobOutcome, ModelSignature } from '../runtime/types.js';
import { batchKey, canBatch, concatFeeds, groupByKey, rowCount, splitOutputs } from './batching.js';
import { labelRows, loadLabels } from './labels.js';
import { collectInputs } from './request-inputs.js';
import { decodeInput, dropLeadingOne, toNested } from './tensor-codec.js';
import type { Handler, HandlerContext, TensorMap } from './types.js';

interface Prepared {
  index: number;
  feeds: TensorMap;
  /** Rows along axis 0, when all feeds agree (else the request runs alone). */
  rows: number | undefined;
  batchAdded: boolean;
}

const encoder = new TextEncoder();

function failure(e: unknown): JobOutcome {
  if (e instanceof ServeError) return { ok: false, error: e.toPlain() };
  return { ok: false, error: internalError(e instanceof Error ? e.message : String(e)).toPlain() };
}

/** Request → feeds: parse parts, map to inputs, build tensors (400 on anything the model cannot take). */
export function prepareRequest(request: InferenceRequest, signature: ModelSignature): Omit<Prepared, 'index'> {
  const values = collectInputs(request.parts, signature.inputs);
  const feeds: TensorMap = {};
  let batchAdded = false;
  for (const meta of signature.inputs) {
    const decoded = decodeInput(meta, values[meta.name]);
    feeds[meta.name] = decoded.tensor;
    batchAdded ||= decoded.batchAdded;
  }
  return { feeds, rows: rowCount(feeds), batchAdded };
}

/** Outputs → reply JSON value: the single output's array, or {name: array}; labels when configured. */
export function replyValue(
  outputs: TensorMap,
  signature: ModelSignature,
  batchAdded: boolean,
  labels: string[] | undefined,
): unknown {
  const names = signature.outputs.map((m) => m.name).filter((n) => n in outputs);
  if (names.length === 1) {
    const t = outputs[names[0]!]!;
    const rows = labels ? labelRows(t, labels) : undefined;
    if (rows) return batchAdded && rows.length === 1 ? rows[0] : rows;
    return toNested(batchAdded ? dropLeadingOne(t) : t);
  }
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const t = outputs[name]!;
    out[name] = toNested(batchAdded ? dropLeadingOne(t) : t);
  }
  return out;
}

export function jsonReply(value: unknown): InferenceReply {
  return { status: 200, contentType: 'application/json', body: encoder.encode(JSON.stringify(value, null, 2)) };
}

export class DefaultOnnxHandler implements Handler {
  private readonly batching: boolean;

  constructor(
    private readonly ctx: HandlerContext,
    private readonly labels: string[] | undefined,
  ) {
    this.batching = canBatch(ctx.signature);
  }

  async handle(requests: InferenceRequest[]): Promise<JobOutcome[]> {
    const outcomes: JobOutcome[] = new Array<JobOutcome>(requests.length);
    const prepared: Prepared[] = [];
    requests.forEach((request, index) => {
      try {
        prepared.push({ index, ...prepareRequest(request, this.ctx.signature) });
      } catch (e) {
        outcomes[index] = failure(e);
      }
    });
    const groups = this.batching
      ? groupByKey(prepared, (p) => (p.rows === undefined ? undefined : batchKey(p.feeds)))
      : prepared.map((p) => [p]);
    for (const group of groups) {
      if (group.length > 1 && (await this.runBatched(group, outcomes))) continue;
      for (const p of group) outcomes[p.index] = await this.runOne(p);
    }
    return outcomes;
  }

  /** One run for the whole group; false (nothing written) when the model or the split refuses it. */
  private async runBatched(group: Prepared[], outcomes: JobOutcome[]): Promise<boolean> {
    let parts: TensorMap[];
    try {
      const outputs = await this.ctx.run(concatFeeds(group.map((p) => p.feeds)));
      parts = splitOutputs(
        outputs,
        group.map((p) => p.rows ?? 0),
      );
    } catch (e) {
      // Fall back to one run per request, so one bad request fails alone with its own message.
      this.ctx.log.warn(`batched run of ${group.length} requests failed, running them one by one: ${String(e)}`);
      return false;
    }
    group.forEach((p, k) => {
      outcomes[p.index] = this.reply(parts[k]!, p.batchAdded);
    });
    return true;
  }

  private async runOne(p: Prepared): Promise<JobOutcome> {
    let outputs: TensorMap;
    try {
      outputs = await this.ctx.run(p.feeds);
    } catch (e) {
      // Inputs passed our checks, so ORT's complaint is almost always about how they combine (shapes).
      const why = e instanceof Error ? e.message : String(e);
      return failure(badRequest(`The model rejected the inputs: ${why}`));
    }
    return this.reply(outputs, p.batchAdded);
  }

  private reply(outputs: TensorMap, batchAdded: boolean): JobOutcome {
    try {
      return { ok: true, reply: jsonReply(replyValue(outputs, this.ctx.signature, batchAdded, this.labels)) };
    } catch (e) {
      this.ctx.log.error(`could not serialise model output: ${String(e)}`);
      return failure(internalError('Unsupported model output data type.', 503));
    }
  }
}

export async function createDefaultHandler(ctx: HandlerContext): Promise<Handler> {
  return new DefaultOnnxHandler(ctx, await loadLabels(ctx.modelDir));
}
