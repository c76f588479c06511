/** The default handler's batching decisions, with a fake `run` (no ONNX Runtime session, no threads). */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ONNX_HANDLER } from '../../src/handlers/default-onnx.js';
import { transferList } from '../../src/runtime/transfer.js';
import type { JobOutcome, ModelSignature } from '../../src/runtime/types.js';
import { fakeContext, runBatch, type Feeds } from '../handlers/helpers.js';
import { jsonRequest } from './helpers.js';

const signature: ModelSignature = {
  inputs: [{ name: 'x', type: 'float32', shape: ['N', 2] }],
  outputs: [{ name: 'y', type: 'float32', shape: ['N', 2] }],
};

/** y = 10·x, refusing batches above `maxRows` rows (to exercise the one-by-one fallback). */
function tenTimes(maxRows = Infinity) {
  const runs: number[] = [];
  const ctx = fakeContext({
    signature,
    run(feeds: Feeds): Promise<Feeds> {
      const x = feeds['x']!;
      const rows = x.dims[0] ?? 0;
      runs.push(rows);
      if (rows > maxRows) return Promise.reject(new Error(`too many rows: ${rows}`));
      const data = Float32Array.from(x.data as Float32Array, (v) => v * 10);
      return Promise.resolve({ y: new ort.Tensor('float32', data, x.dims) });
    },
  });
  return { ctx, runs };
}

const body = (o: JobOutcome): unknown => {
  if (!o.ok) throw new Error(`unexpected failure: ${o.error.message}`);
  return JSON.parse(new TextDecoder().decode(o.reply.body)) as unknown;
};

describe('default ONNX handler', () => {
  it('runs compatible requests as one concatenated batch; bad ones fail alone', async () => {
    const { ctx, runs } = tenTimes();
    const { outcomes } = await runBatch(
      DEFAULT_ONNX_HANDLER,
      [jsonRequest([1, 2]), jsonRequest([[3, 4], [5, 6]]), jsonRequest([1, 2, 3]), jsonRequest({ x: [7, 8] })],
      ctx,
    );
    expect(runs).toEqual([4]);
    expect(body(outcomes[0]!)).toEqual([10, 20]);
    expect(body(outcomes[1]!)).toEqual([
      [30, 40],
      [50, 60],
    ]);
    expect(outcomes[2]).toMatchObject({
      ok: false,
      error: { status: 400, message: 'Input "x": expected shape [N,2] (float32), received [3]' },
    });
    expect(body(outcomes[3]!)).toEqual([70, 80]);
    expect(outcomes[0]).toMatchObject({ ok: true, reply: { status: 200, contentType: 'application/json' } });
  });

  it('falls back to one run per request when the batched run fails', async () => {
    const { ctx, runs } = tenTimes(1);
    const { outcomes } = await runBatch(DEFAULT_ONNX_HANDLER, [jsonRequest([1, 1]), jsonRequest([[2, 2], [3, 3]])], ctx);
    expect(runs).toEqual([3, 1, 2]);
    expect(body(outcomes[0]!)).toEqual([10, 10]);
    expect(outcomes[1]).toMatchObject({ ok: false, error: { status: 400, message: 'The model rejected the inputs: too many rows: 2' } });
  });
});

describe('transferList', () => {
  it('moves only buffers a view owns completely, once each', () => {
    const own = new Uint8Array(8);
    const pooled = Buffer.from('small'); // a slice of Node's shared 8 KiB pool
    const half = new Uint8Array(new ArrayBuffer(8), 4);
    expect(transferList([own, own, pooled, half, new Uint8Array(0)])).toEqual([own.buffer]);
  });
});
