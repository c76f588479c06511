/**
 * BaseHandler-style composition as the worker runs it: handle vs steps with default fallbacks,
 * request decoding, output encoding, per-request response settings, errors, explanations and
 * streaming hooks — with a real context around a fake session.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { HandlerContext, HandlerModule, HandlerRequest } from '../../src/handlers/api.js';
import { initializeHandler } from '../../src/handlers/compose.js';
import { decodePart, decodeParts } from '../../src/handlers/requests.js';
import type { ModelSignature } from '../../src/runtime/types.js';
import { fakeContext, json, request, runBatch, text, type Feeds } from './helpers.js';

const signature: ModelSignature = {
  inputs: [{ name: 'x', type: 'float32', shape: ['N', 2] }],
  outputs: [{ name: 'y', type: 'float32', shape: ['N', 2] }],
};

/** y = x + 1, recording the rows of each run. */
function plusOne() {
  const runs: number[] = [];
  const ctx = fakeContext({
    signature,
    run(feeds: Feeds): Promise<Feeds> {
      const x = feeds['x']!;
      runs.push(x.dims[0] ?? 0);
      return Promise.resolve({ y: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array, (v) => v + 1), x.dims) });
    },
  });
  return { ctx, runs };
}

const handleWith = (handle: NonNullable<HandlerModule['handle']>): HandlerModule => ({ handle });

describe('request decoding (HandlerRequest.data)', () => {
  it('decodes JSON parts, text parts, and leaves other parts as bytes', async () => {
    const { ctx } = plusOne();
    let seen: HandlerRequest[] = [];
    const module = handleWith((batch) => {
      seen = batch;
      return batch.map(() => 'ok');
    });
    const bytes = new Uint8Array([0xff, 0xd8, 0xff]);
    await runBatch(
      module,
      [
        request({ a: 1 }, { contentType: 'application/json', headers: { 'x-k': 'v' } }),
        request('hello', { contentType: 'text/plain', name: 'data' }),
        request(bytes),
        request('{broken', { contentType: 'application/json' }),
      ],
      ctx,
    );
    expect(seen[0]!.data).toEqual({ body: { a: 1 } });
    expect(seen[0]!.headers['x-k']).toBe('v');
    expect(seen[1]!.data).toEqual({ data: 'hello' });
    expect(seen[2]!.data['body']).toEqual(bytes);
    expect(seen[3]!.data['body']).toBeInstanceOf(Uint8Array);
    expect(seen[1]!.parts[0]).toMatchObject({ name: 'data', contentType: 'text/plain' });
  });

  it('keeps the last of duplicate names, and a __proto__ field as data', () => {
    const enc = new TextEncoder();
    expect(decodePart({ contentType: 'text/csv', data: enc.encode('a,b') })).toBe('a,b');
    const data = decodeParts([
      { name: 'a', contentType: 'text/plain', data: enc.encode('first') },
      { name: 'a', contentType: 'text/plain', data: enc.encode('second') },
      { name: '__proto__', contentType: 'application/json', data: enc.encode('{"polluted": true}') },
    ]);
    expect(data['a']).toBe('second');
    expect(Object.keys(data)).toEqual(['a', '__proto__']);
    expect((data as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('outputs', () => {
  it('sends bytes raw, strings as UTF-8 text, anything else as JSON with indent 2', async () => {
    const { ctx } = plusOne();
    const { outcomes } = await runBatch(
      handleWith(() => [new Uint8Array([1, 2, 3]), 'héllo', { a: [1, 2] }, null, new Float32Array([0.5]), { n: 7n }]),
      [1, 2, 3, 4, 5, 6].map((i) => request(i)),
      ctx,
    );
    expect(outcomes[0]).toMatchObject({ ok: true, reply: { status: 200, contentType: 'application/octet-stream', body: new Uint8Array([1, 2, 3]) } });
    expect(outcomes[1]).toMatchObject({ ok: true, reply: { contentType: 'text/plain; charset=utf-8' } });
    expect(text(outcomes[1]!)).toBe('héllo');
    expect(outcomes[2]).toMatchObject({ ok: true, reply: { contentType: 'application/json' } });
    expect(text(outcomes[2]!)).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(text(outcomes[3]!)).toBe('null');
    expect(json(outcomes[4]!)).toEqual([0.5]);
    expect(json(outcomes[5]!)).toEqual({ n: 7 });
  });

  it('applies status, reason phrase, content type and headers per request index', async () => {
    const { ctx } = plusOne();
    const { outcomes } = await runBatch(
      handleWith((batch, c) => {
        c.setResponseStatus(201, 'Created');
        c.setResponseContentType('application/x-custom', 1);
        c.setResponseHeader('X-Answer', '42', 1);
        c.setResponseStatus(507, undefined, 2);
        return batch.map((_, i) => (i === 2 ? 'Invalid response' : { i }));
      }),
      [request(1), request(2), request(3)],
      ctx,
    );
    expect(outcomes[0]).toMatchObject({ ok: true, reply: { status: 201, statusText: 'Created', contentType: 'application/json' } });
    expect(outcomes[1]).toMatchObject({ ok: true, reply: { status: 200, contentType: 'application/x-custom', headers: { 'X-Answer': '42' } } });
    expect(outcomes[2]).toMatchObject({ ok: true, reply: { status: 507, contentType: 'text/plain; charset=utf-8' } });
    expect(text(outcomes[2]!)).toBe('Invalid response');
    expect((outcomes[0] as { reply: { headers?: unknown } }).reply.headers).toBeUndefined();
  });

  it('refuses invalid response settings by failing the batch (503)', async () => {
    for (const bad of [
      (c: HandlerContext) => c.setResponseStatus(42),
      (c: HandlerContext) => c.setResponseStatus(200, 'two\r\nlines'),
      (c: HandlerContext) => c.setResponseHeader('bad name', 'v'),
      (c: HandlerContext) => c.setResponseHeader('X-Ok', 'a\nb'),
      (c: HandlerContext) => c.setResponseContentType('text/plain', 5),
    ]) {
      const { ctx } = plusOne();
      const { outcomes } = await runBatch(
        handleWith((batch, c) => {
          bad(c);
          return batch.map(() => 'x');
        }),
        [request(1)],
        ctx,
      );
      expect(outcomes[0]).toEqual({ ok: false, error: { status: 503, type: 'InternalServerException', message: 'Prediction failed' } });
    }
  });
});

describe('errors', () => {
  it('fails the batch with 503 "Prediction failed" for a plain throw, and logs the stack', async () => {
    const { ctx } = plusOne();
    const { outcomes } = await runBatch(
      handleWith(() => {
        throw new TypeError('user bug');
      }),
      [request(1), request(2)],
      ctx,
    );
    const error = { status: 503, type: 'InternalServerException', message: 'Prediction failed' };
    expect(outcomes).toEqual([
      { ok: false, error },
      { ok: false, error },
    ]);
    expect(ctx.log.lines.some((l) => l.includes('TypeError: user bug'))).toBe(true);
  });

  it('uses the status, message and type a thrown error carries', async () => {
    const cases: Array<[unknown, object]> = [
      [Object.assign(new Error("I'm a teapot"), { status: 418 }), { status: 418, type: 'InternalServerException', message: "I'm a teapot" }],
      [{ status: 599, message: 'custom', type: 'PredictionException' }, { status: 599, type: 'PredictionException', message: 'custom' }],
      [{ status: 'nope', message: 'x' }, { status: 503, type: 'InternalServerException', message: 'Prediction failed' }],
    ];
    for (const [thrown, error] of cases) {
      const { ctx } = plusOne();
      const { outcomes } = await runBatch(
        handleWith(() => Promise.reject(thrown)),
        [request(1)],
        ctx,
      );
      expect(outcomes[0]).toEqual({ ok: false, error });
    }
  });

  it('fails one request alone when its result is an Error with a status', async () => {
    const { ctx } = plusOne();
    const { outcomes } = await runBatch(
      handleWith(() => ['fine', Object.assign(new Error('bad item'), { status: 422, type: 'BadRequestException' })]),
      [request(1), request(2)],
      ctx,
    );
    expect(text(outcomes[0]!)).toBe('fine');
    expect(outcomes[1]).toEqual({ ok: false, error: { status: 422, type: 'BadRequestException', message: 'bad item' } });
  });

  it('answers TorchServe texts for a wrong number of results, a non-list and unserialisable values', async () => {
    const { ctx } = plusOne();
    const mismatch = await runBatch(handleWith(() => ['only one']), [request(1), request(2)], ctx);
    expect(mismatch.outcomes[1]).toEqual({ ok: false, error: { status: 503, type: 'InternalServerException', message: 'number of batch response mismatched' } });
    const notList = await runBatch(handleWith(() => 'x' as unknown as string[]), [request(1)], ctx);
    expect(notList.outcomes[0]).toMatchObject({ ok: false, error: { status: 503, message: 'Invalid model predict output' } });
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    const unserialisable = await runBatch(handleWith(() => [circular, () => 1]), [request(1), request(2)], ctx);
    for (const o of unserialisable.outcomes) expect(o).toMatchObject({ ok: false, error: { status: 503, message: 'Unsupported model output data type.' } });
  });
});

describe('composition with the default ONNX handler steps', () => {
  it('a module with only postprocess gets JSON decoding and session.run from the default steps', async () => {
    const { ctx, runs } = plusOne();
    let received: unknown;
    const module: HandlerModule = {
      postprocess(outputs: unknown) {
        received = outputs;
        return (outputs as Feeds[]).map((o) => ({ sum: Array.from(o['y']!.data as Float32Array).reduce((a, b) => a + b, 0) }));
      },
    };
    const { outcomes } = await runBatch(module, [request([1, 2]), request([[3, 4]])], ctx);
    expect(runs).toEqual([2]); // concatenated into one run
    expect(json(outcomes[0]!)).toEqual({ sum: 5 });
    expect(json(outcomes[1]!)).toEqual({ sum: 9 });
    expect((received as Feeds[])[0]!['y']).toBeInstanceOf(ort.Tensor);
  });

  it('a module with only preprocess may return JSON values, which the default inference maps onto inputs', async () => {
    const { ctx } = plusOne();
    const module: HandlerModule = {
      preprocess: (batch) => batch.map((r) => ({ x: (r.data['body'] as { values: number[] }).values })),
    };
    const { outcomes } = await runBatch(module, [request({ values: [1, 1] }, { contentType: 'application/json' })], ctx);
    expect(json(outcomes[0]!)).toEqual([2, 2]);
  });

  it('one feeds object for the whole batch runs once and is split into one reply per row', async () => {
    const { ctx, runs } = plusOne();
    const module: HandlerModule = {
      preprocess: (batch, c) => ({ x: new c.ort.Tensor('float32', Float32Array.from(batch.flatMap((_, i) => [i, i])), [batch.length, 2]) }),
    };
    const { outcomes } = await runBatch(module, [request(0), request(0), request(0)], ctx);
    expect(runs).toEqual([3]);
    expect(outcomes.map(json)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('a bad request in a steps batch fails alone, its error passing through the user steps', async () => {
    const { ctx } = plusOne();
    const module: HandlerModule = { postprocess: (outputs) => (outputs as unknown[]).map((o) => (o instanceof Error ? o : 'ran')) };
    const { outcomes } = await runBatch(module, [request([1, 2]), request('not json')], ctx);
    expect(text(outcomes[0]!)).toBe('ran');
    expect(outcomes[1]).toMatchObject({ ok: false, error: { status: 400, type: 'BadRequestException' } });
  });

  it('initialize runs once with the base context; what it sets is visible per batch', async () => {
    const { ctx } = plusOne();
    const module: HandlerModule = {
      initialize(c) {
        (c as unknown as { state: string }).state = `ready:${String(c.modelYamlConfig['k'] ?? 'none')}`;
      },
      handle: (batch, c) => batch.map(() => (c as unknown as { state: string }).state),
    };
    await initializeHandler(module, ctx);
    const { outcomes } = await runBatch(module, [request(1)], ctx);
    expect(text(outcomes[0]!)).toBe('ready:none');
  });
});

describe('explanations', () => {
  const explainHeaders = { explain: 'True' };

  it('sends explanation requests through preprocess and explain, predictions through handle', async () => {
    const { ctx } = plusOne();
    let explainedBatch: HandlerRequest[] = [];
    const module: HandlerModule = {
      handle: (batch) => batch.map(() => 'predicted'),
      preprocess: (batch) => batch.map((r) => r.data['body']),
      explain(pre, _c, batch) {
        explainedBatch = batch;
        return (pre as unknown[]).map((v) => ({ explained: v }));
      },
    };
    const { outcomes } = await runBatch(
      module,
      [request(1), request(2, { headers: explainHeaders, contentType: 'application/json' }), request(3)],
      ctx,
    );
    expect(text(outcomes[0]!)).toBe('predicted');
    expect(json(outcomes[1]!)).toEqual({ explained: 2 });
    expect(text(outcomes[2]!)).toBe('predicted');
    expect(explainedBatch).toHaveLength(1);
  });

  it('answers 400 for explanations when the handler has no explain (the default handler has none)', async () => {
    const { ctx } = plusOne();
    const { outcomes } = await runBatch(handleWith((b) => b.map(() => 'p')), [request([1, 2], { headers: explainHeaders }), request(1)], ctx);
    expect(outcomes[0]).toEqual({ ok: false, error: { status: 400, type: 'BadRequestException', message: 'Model "fake" does not support explanations' } });
    expect(text(outcomes[1]!)).toBe('p');
  });
});

describe('streaming hooks', () => {
  it('sends intermediates with the position in the pool batch and the request settings', async () => {
    const { ctx } = plusOne();
    const module: HandlerModule = {
      async handle(batch, c) {
        c.setResponseContentType('text/event-stream', 1);
        expect(await c.sendIntermediate('to second', 1)).toBe(true);
        expect(await c.sendIntermediate({ first: true })).toBe(true);
        await expect(c.sendIntermediate('x', 7)).rejects.toThrow(RangeError);
        return batch.map(() => 'final');
      },
    };
    const { intermediates, outcomes } = await runBatch(
      module,
      [request(0, { headers: { explain: 'True' } }), request(1), request(2)],
      ctx,
    );
    // The explanation request (position 0) is not part of this call: positions 1 and 2 are its 0 and 1.
    expect(intermediates.map((m) => [m.index, new TextDecoder().decode(m.reply.body), m.reply.contentType])).toEqual([
      [2, 'to second', 'text/event-stream'],
      [1, '{\n  "first": true\n}', 'application/json'],
    ]);
    expect(text(outcomes[1]!)).toBe('final');
  });

  it('reports cancelled requests, and answers false after the batch is over', async () => {
    const { ctx } = plusOne();
    let kept: HandlerContext | undefined;
    const module: HandlerModule = {
      async handle(batch, c) {
        kept = c;
        expect(c.isCancelled(0)).toBe(false);
        expect(c.isCancelled(1)).toBe(true);
        expect(await c.sendIntermediate('skipped', 1)).toBe(false);
        return batch.map(() => 'done');
      },
    };
    const { intermediates } = await runBatch(module, [request(0), request(1)], ctx, new Set([1]));
    expect(intermediates).toEqual([]);
    expect(await kept!.sendIntermediate('late')).toBe(false);
    expect(kept!.isCancelled()).toBe(true);
  });
});
