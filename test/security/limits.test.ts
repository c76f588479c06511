/**
 * Input limits end to end through the real CLI ("Security by default", limits everywhere): each
 * decoding limit answers a clear 4xx in its route's envelope (`{"code","type","message"}` on
 * TorchServe routes, `{"error"}` on /v2) before anything large is allocated, a response over
 * `max_response_size` is a 500 that says so, and connection-level abuse (a huge header, slowloris,
 * a stalled body, thousands of one-byte chunks) gets an error status or a close. After every test
 * the server still answers a valid prediction with the right numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { identity } from '../fixtures/identity.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type JsonResponse, type Sandbox } from '../e2e/harness.js';
import { parseResponse, portOf, rawExchange } from './raw-http.js';

/** `request_timeout_s` for this server: headers must arrive within min(10 s, it), the whole request within it. */
export const REQUEST_TIMEOUT_S = 3;
/** Node checks the request/header timeouts once a second: allow that plus scheduling noise. */
const TIMEOUT_SLACK_MS = 3000;
/** TorchServe's default `max_response_size` (the server under test keeps it). */
const MAX_RESPONSE_SIZE = 6553500;

/** A handler that answers `big` with more than max_response_size, `stream-big` with one such chunk. */
const BIG_HANDLER = `
export async function handle(batch, ctx) {
  const out = [];
  for (let i = 0; i < batch.length; i++) {
    const cmd = new TextDecoder().decode(batch[i].parts[0].data);
    if (cmd === 'stream-big') {
      await ctx.sendIntermediate('first\\n', i);
      await ctx.sendIntermediate('x'.repeat(${MAX_RESPONSE_SIZE + 1000}), i);
      out.push('end\\n');
    } else out.push(cmd === 'big' ? 'x'.repeat(${MAX_RESPONSE_SIZE + 1000}) : 'small');
  }
  return out;
}
`;

let sb: Sandbox;
let server: ForegroundServer;
let api: string;
let model: MlpModel;

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];
const YAML = 'minWorkers: 1\nmaxWorkers: 1\n';

async function pack(name: string, onnx: string, extra: { handler?: string; files?: Record<string, string> } = {}) {
  await writeMar(path.join(sb.store, `${name}.mar`), {
    modelName: name,
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    ...(extra.handler ? { handler: extra.handler } : {}),
    files: { 'model.onnx': fs.readFileSync(onnx), 'model-config.yaml': YAML, ...extra.files },
  });
}

beforeAll(async () => {
  sb = makeSandbox();
  model = await mlp(sb.dir);
  await pack('mlp', model.path);
  await pack('echo', await identity(sb.dir, { datatypes: ['FP32'], file: 'echo.onnx' }));
  await pack('text', await identity(sb.dir, { datatypes: ['BYTES'], file: 'text.onnx' }));
  await pack('big', model.path, { handler: 'big.mjs', files: { 'big.mjs': BIG_HANDLER } });
  const cfg = sb.writeConfig({
    model_store: sb.store,
    load_models: 'all',
    request_timeout_s: REQUEST_TIMEOUT_S,
    // The streamed reply cut short by max_response_size is not seen as finished by the drain yet.
    disable_token_authorization: true,
  });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  api = server.endpoints.inference;
  await eventually(async () => {
    const r = await http(`${api}/v2/health/ready`);
    if (r.status !== 200) throw new Error(`not ready: ${r.text}`);
  }, 30_000);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

afterEach(async () => {
  // Whatever the test sent, the server is up and still computes the right numbers.
  expect(server.child.exitCode).toBeNull();
  const res = await http(`${api}/predictions/mlp`, { method: 'POST', body: JSON.stringify(ROWS) });
  expect(res.status, res.text).toBe(200);
  const got = res.json as number[][];
  model.expected(ROWS).forEach((row, i) => row.forEach((v, k) => expect(got[i]![k]).toBeCloseTo(v, 4)));
});

const post = (target: string, body: string | Buffer | FormData, headers: Record<string, string> = {}) => http(`${api}/${target}`, { method: 'POST', body, headers });

/** A TorchServe-envelope error. */
function expectTorchServeError(res: JsonResponse, status: number, message: RegExp | string) {
  expect(res.status, res.text).toBe(status);
  const body = res.json as { code: number; type: string; message: string };
  expect(body.code).toBe(status);
  expect(body.type).toBe(status === 413 ? 'RequestEntityTooLargeException' : status === 500 ? 'InternalServerException' : 'BadRequestException');
  if (typeof message === 'string') expect(body.message).toContain(message);
  else expect(body.message).toMatch(message);
}

/** An Open Inference Protocol error: `{"error": message}`. */
function expectOipError(res: JsonResponse, status: number, message: RegExp | string) {
  expect(res.status, res.text).toBe(status);
  expect(Object.keys(res.json as object)).toEqual(['error']);
  const text = (res.json as { error: string }).error;
  if (typeof message === 'string') expect(text).toContain(message);
  else expect(text).toMatch(message);
}

const v2 = (inputs: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ inputs, ...extra });
const x = (shape: unknown, data: unknown = [1, 2, 3, 4]) => ({ name: 'x', datatype: 'FP32', shape, data });
const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
/** A few kilobytes whose first elements claim `width^levels` elements: `[[[0,…], 1, …], 1, …]`. */
function claimsHuge(levels: number, width: number): string {
  let text = `[${new Array(width).fill(0).join(',')}]`;
  for (let l = 1; l < levels; l++) text = `[${text},${new Array(width - 1).fill(1).join(',')}]`;
  return text;
}
/** An FP32 [1,2] input of the echo model carried in the binary part. */
const binInput = (size: unknown) => ({ name: 'in_fp32', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: size } });

/** JSON header + binary part, with Inference-Header-Content-Length. */
function binaryRequest(header: unknown, bin: Buffer, headerLength?: string): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, bin]), headers: { 'inference-header-content-length': headerLength ?? String(json.length) } };
}

describe('form parts', () => {
  it('refuses a multipart body with more than 1000 parts (413) and reads what the client still sends', async () => {
    const form = new FormData();
    for (let i = 0; i < 1001; i++) form.append(`f${i}`, new Blob(['[1]']), 'part.json');
    expectTorchServeError(await post('predictions/mlp', form), 413, 'The form has more than 1000 parts (fields and files)');
  });

  it('refuses an urlencoded body with more than 1000 fields (413)', async () => {
    const body = Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join('&');
    expectTorchServeError(await post('predictions/mlp', body, { 'content-type': 'application/x-www-form-urlencoded' }), 413, 'more than 1000 parts');
  });

  it('answers a malformed multipart body with 400, not 500', async () => {
    const type = { 'content-type': 'multipart/form-data; boundary=xx' };
    expectTorchServeError(await post('predictions/mlp', '--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n[1,', type), 400, 'Malformed multipart/form-data body');
    expectTorchServeError(await post('predictions/mlp', 'abc', { 'content-type': 'multipart/form-data' }), 400, 'Malformed multipart/form-data body');
  });
});

describe('number of tensors in a request', () => {
  it('refuses more than 1024 inputs or outputs before looking at them', async () => {
    const inputs = Array.from({ length: 1025 }, (_, i) => ({ name: `x${i}`, datatype: 'FP32', shape: [1], data: [1] }));
    expectOipError(await post('v2/models/mlp/infer', v2(inputs)), 400, '"inputs" lists 1025 tensors, more than a request may (1024)');
    const outputs = Array.from({ length: 1025 }, (_, i) => ({ name: `y${i}` }));
    expectOipError(await post('v2/models/mlp/infer', v2([x([1, 4])], { outputs })), 400, '"outputs" lists 1025 tensors, more than a request may (1024)');
  });

  it('refuses more inputs or outputs than the model has (unknown names)', async () => {
    expectOipError(await post('v2/models/mlp/infer', v2([x([1, 4]), { ...x([1, 4]), name: 'z' }])), 400, 'Unknown input "z"');
    expectOipError(await post('v2/models/mlp/infer', v2([x([1, 4])], { outputs: [{ name: 'y' }, { name: 'w' }] })), 400, 'Unknown output "w"');
  });

  it('refuses more than 1024 KServe v1 instances for a handler that takes them one by one', async () => {
    const res = await post('v1/models/big:predict', JSON.stringify({ instances: new Array(1025).fill('small') }));
    expectTorchServeError(res, 400, '"instances" has 1025 entries, more than a request may carry (1024)');
  });
});

describe('shapes and element counts', () => {
  it('refuses a shape whose product overflows, before allocating', async () => {
    const res = await post('v2/models/mlp/infer', v2([x([2147483647, 2147483647, 16])]));
    expectOipError(res, 400, 'Input "x": shape [2147483647,2147483647,16] has 73786976226118729744 elements, more than a request can carry (at most 6553500)');
    const product = await post('v2/models/mlp/infer', v2([x([6553500, 6553500])]));
    expectOipError(product, 400, 'Input "x": shape [6553500,6553500] has 42948362250000 elements, more than a request can carry (at most 6553500)');
    // A zero elsewhere does not make an absurd dimension acceptable.
    expectOipError(await post('v2/models/echo/infer', v2([{ ...x([0, 2 ** 53 - 1], []), name: 'in_fp32' }])), 400, 'larger than a request can carry');
  });

  it('refuses negative, fractional, non-numeric and too many dimensions', async () => {
    for (const [dim, shown] of [
      [-1, '-1'],
      [1.5, '1.5'],
      ['NaN', '"NaN"'],
      [null, 'null'],
      [1e400, 'Infinity'],
    ] as const) {
      const body = `{"inputs":[{"name":"x","datatype":"FP32","shape":[${typeof dim === 'string' ? `"${dim}"` : dim === 1e400 ? '1e400' : String(dim)},4],"data":[1,2,3,4]}]}`;
      expectOipError(await post('v2/models/mlp/infer', body), 400, `Input "x": "shape" must be a list of non-negative integers, got ${shown} at index 0`);
    }
    expectOipError(await post('v2/models/mlp/infer', v2([x(new Array(65).fill(1), [1])])), 400, 'Input "x": shape has 65 dimensions, more than 64');
  });

  it('refuses data whose length does not match the shape', async () => {
    expectOipError(await post('v2/models/mlp/infer', v2([x([1, 4], [1, 2, 3])])), 400, 'Input "x": shape [1,4] needs 4 elements, "data" has 3');
    // Nested data claiming a huge shape through its first elements: refused by its structure, not allocated.
    expectOipError(await post('v2/models/mlp/infer', v2([x([1, 4], [[1, 2, 3, 4], [5]])])), 400, 'nested "data" does not match shape [1,4]: the top level has 2 entries');
    // /predictions: 10^12 elements claimed by a few kilobytes are refused by structure, not allocated.
    expectTorchServeError(await post('predictions/echo', claimsHuge(4, 1000)), 400, 'Input "in_fp32": ragged nested array: element [0,0,1] has 1, expected an array of 1000');
  });
});

describe('the binary tensor extension', () => {
  it('refuses a BYTES element whose length prefix runs past the data', async () => {
    const bin = Buffer.alloc(8);
    bin.writeUInt32LE(0xffffffff, 0);
    const { body, headers } = binaryRequest({ inputs: [{ name: 'in_bytes', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 8 } }] }, bin);
    expectOipError(await post('v2/models/text/infer', body, headers), 400, 'Input "in_bytes": BYTES element [0] declares 4294967295 bytes, only 4 left');
    const short = binaryRequest({ inputs: [{ name: 'in_bytes', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 2 } }] }, Buffer.alloc(2));
    expectOipError(await post('v2/models/text/infer', short.body, short.headers), 400, 'BYTES data ends inside the length of element [0]');
  });

  it('refuses binary_data_size values that are negative, fractional, huge, not numbers, or past the body', async () => {
    for (const [size, shown] of [
      [-1, '-1'],
      [1.5, '1.5'],
      [1e300, '1e+300'],
      ['8', '"8"'],
      [null, 'null'],
    ] as const) {
      const { body, headers } = binaryRequest({ inputs: [binInput(size)] }, Buffer.alloc(8));
      expectOipError(await post('v2/models/echo/infer', body, headers), 400, `parameter "binary_data_size" must be a non-negative integer, got ${shown}`);
    }
    const past = binaryRequest({ inputs: [binInput(2 ** 40)] }, Buffer.alloc(8));
    expectOipError(await post('v2/models/echo/infer', past.body, past.headers), 400, 'binary_data_size 1099511627776 runs past the end of the body (8 bytes left)');
  });

  it('refuses an Inference-Header-Content-Length that is larger than the body, negative or not a number', async () => {
    const header = { inputs: [binInput(8)] };
    const over = binaryRequest(header, Buffer.alloc(8), '100000');
    expectOipError(await post('v2/models/echo/infer', over.body, over.headers), 400, /^Inference-Header-Content-Length is 100000, but the body has only \d+ bytes$/);
    for (const value of ['-5', '1e3', 'abc', '99999999999999999999']) {
      const bad = binaryRequest(header, Buffer.alloc(8), value);
      expectOipError(await post('v2/models/echo/infer', bad.body, bad.headers), 400, `Inference-Header-Content-Length must be a non-negative integer, got "${value}"`);
    }
  });
});

describe('JSON nesting bombs (100 000 levels)', () => {
  const BOMB = nested(100_000);
  const DEEP = 'nested arrays are more than 64 levels deep (a tensor has at most 64 dimensions)';

  it('/predictions: a bare nested array, one inside an object, and a multipart JSON field', async () => {
    expectTorchServeError(await post('predictions/mlp', BOMB), 400, `Input "x": ${DEEP}`);
    expectTorchServeError(await post('predictions/mlp', `{"x": ${BOMB}}`), 400, `Input "x": ${DEEP}`);
    const field = `--xx\r\nContent-Disposition: form-data; name="x"\r\nContent-Type: application/json\r\n\r\n${BOMB}\r\n--xx--\r\n`;
    expectTorchServeError(await post('predictions/mlp', field, { 'content-type': 'multipart/form-data; boundary=xx' }), 400, 'Field "x": its JSON is nested too deeply');
  });

  it('/v2: as data, as the shape, and as one dimension of the shape', async () => {
    expectOipError(await post('v2/models/mlp/infer', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":${BOMB}}]}`), 400, 'nested "data" does not match shape [1,4]');
    const deepShape = `{"inputs":[{"name":"x","datatype":"FP32","shape":[${new Array(100_000).fill(1).join(',')}],"data":[1]}]}`;
    expectOipError(await post('v2/models/mlp/infer', deepShape), 400, 'shape has 100000 dimensions, more than 64');
    expectOipError(await post('v2/models/mlp/infer', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,${BOMB}],"data":[1]}]}`), 400, 'got an array at index 1');
  });

  it('/v1: as instances and as columnar inputs, and for a handler that takes instances one by one', async () => {
    expectTorchServeError(await post('v1/models/mlp:predict', `{"instances": ${BOMB}}`), 400, 'Input "x": shape has 100000 dimensions, more than 64');
    expectTorchServeError(await post('v1/models/mlp:predict', `{"inputs": ${BOMB}}`), 400, 'more than 64');
    expectTorchServeError(await post('v1/models/big:predict', `{"instances": [${BOMB}]}`), 400, 'An instance is nested too deeply to be passed to the handler');
  });
});

describe('max_response_size', () => {
  const N = 1_000_000;
  const floats = Buffer.from(new Float32Array(N).fill(0.123456789).buffer);
  const input = { name: 'in_fp32', datatype: 'FP32', shape: [1, N], parameters: { binary_data_size: N * 4 } };

  it('answers 500 in the /v2 envelope when the JSON response would exceed it, and the same tensor in binary under it', async () => {
    const json = binaryRequest({ inputs: [input] }, floats);
    expectOipError(await post('v2/models/echo/infer', json.body, json.headers), 500, /^Response size \d+ bytes exceeds max_response_size \(6553500 bytes\)\. Consider increasing/);
    const bin = binaryRequest({ inputs: [input], parameters: { binary_data_output: true } }, floats);
    const res = await fetch(`${api}/v2/models/echo/infer`, { method: 'POST', body: bin.body, headers: bin.headers });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const headerLength = Number(res.headers.get('inference-header-content-length'));
    expect(body.subarray(headerLength).equals(floats)).toBe(true);
  });

  it('answers 500 in the TorchServe envelope when a handler returns more than it', async () => {
    expectTorchServeError(await post('predictions/big', 'big'), 500, /^Response size 6554500 bytes exceeds max_response_size \(6553500 bytes\)/);
    const small = await post('predictions/big', 'small');
    expect(small.status).toBe(200);
    expect(small.text).toBe('small');
  });

  it('ends a streamed reply whose chunk exceeds it (the status line is gone already)', async () => {
    const res = await fetch(`${api}/predictions/big`, { method: 'POST', body: 'stream-big' });
    expect(res.status).toBe(200);
    const text = await res.text().catch(() => 'aborted');
    expect(text.length).toBeLessThan(MAX_RESPONSE_SIZE);
  });

  // Needs app.ts to pass `maxResponseSize: config.maxResponseSize` to inferenceRouter (the integrator's
  // file); until then the router applies TorchServe's default, 6553500, whatever the config says.
  it('honours a configured max_response_size', async () => {
    const sb2 = makeSandbox();
    try {
      await writeMar(path.join(sb2.store, 'echo.mar'), {
        modelName: 'echo',
        serializedFile: 'model.onnx',
        configFile: 'model-config.yaml',
        files: { 'model.onnx': fs.readFileSync(await identity(sb2.dir, { datatypes: ['FP32'] })), 'model-config.yaml': YAML },
      });
      const cfg = sb2.writeConfig({ model_store: sb2.store, load_models: 'all', max_response_size: 1000 });
      const s2 = await startForeground(sb2, ['--ncs', '--ts-config', cfg]);
      try {
        const body = v2([{ name: 'in_fp32', datatype: 'FP32', shape: [1, 400], data: new Array(400).fill(0.5) }]);
        const res = await eventually(async () => {
          const r = await http(`${s2.endpoints.inference}/v2/models/echo/infer`, { method: 'POST', body });
          if (r.status === 503) throw new Error('no worker yet');
          return r;
        });
        expectOipError(res, 500, 'exceeds max_response_size (1000 bytes)');
      } finally {
        await s2.stop();
      }
    } finally {
      sb2.remove();
    }
  });
});

describe('connection-level limits', () => {
  const port = () => portOf(api);

  it('answers a 64 KB header line with an error status (or closes), and stays up', async () => {
    const out = await rawExchange(port(), [`GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65536)}\r\n\r\n`], { timeoutMs: 10_000 });
    expect(out.closed).toBe(true);
    const res = parseResponse(out.response);
    if (res) {
      expect([400, 413, 431]).toContain(res.status);
      if (res.status === 400) expect(JSON.parse(res.body.toString())).toEqual({ code: 400, type: 'BadRequestException', message: 'Invalid HTTP message.' });
    }
  });

  it('closes a slowloris connection (headers one byte every 200 ms) within request_timeout_s', async () => {
    const head = `GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(400)}\r\n\r\n`;
    const limit = REQUEST_TIMEOUT_S * 1000 + TIMEOUT_SLACK_MS;
    const out = await rawExchange(port(), head.split(''), { delayMs: 200, timeoutMs: limit + 5000 });
    expect(out.closed, 'the server kept a slowloris connection open').toBe(true);
    expect(out.elapsedMs).toBeLessThan(limit);
    const res = parseResponse(out.response);
    if (res) expect([400, 408]).toContain(res.status);
  }, 30_000);

  it('closes a request whose body never finishes within request_timeout_s', async () => {
    const limit = REQUEST_TIMEOUT_S * 1000 + TIMEOUT_SLACK_MS;
    const out = await rawExchange(port(), ['POST /predictions/mlp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[1,'], { timeoutMs: limit + 5000 });
    expect(out.closed, 'the server kept a stalled body open').toBe(true);
    expect(out.elapsedMs).toBeLessThan(limit);
    const res = parseResponse(out.response);
    if (res) {
      expect(res.status).toBe(408);
      expect(JSON.parse(res.body.toString())).toMatchObject({ code: 408, type: 'RequestTimeoutException' });
    }
  }, 30_000);

  it('answers a chunked body of 10 000 one-byte chunks correctly', async () => {
    const body = JSON.stringify(ROWS).padEnd(10_000, ' ');
    let chunked = '';
    for (const ch of body) chunked += `1\r\n${ch}\r\n`;
    const head = 'POST /predictions/mlp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const out = await rawExchange(port(), [head, `${chunked}0\r\n\r\n`], { timeoutMs: 20_000 });
    const res = parseResponse(out.response);
    expect(res?.status).toBe(200);
    const got = JSON.parse(res!.body.toString()) as number[][];
    model.expected(ROWS).forEach((row, i) => row.forEach((v, k) => expect(got[i]![k]).toBeCloseTo(v, 4)));
  });
});
