/**
 * A bounded, seeded fuzz run against the real CLI: about 600 random and mutated requests over the
 * inference, management and metrics ports (fuzz-cases.ts). Each must get a well-formed HTTP
 * response (status 200..599, a JSON body that parses when one is declared) or a clean close —
 * never a hang, and never a 5xx for what is merely malformed input. Afterwards the server is alive,
 * healthy, and still computes the right numbers.
 *
 * The seed is printed; `FUZZ_SEED=<n> npx vitest run test/security/fuzz.test.ts` replays a run,
 * and `FUZZ_ONLY=<i>,<j>` with it sends only those cases (the `#i` of a failure).
 */
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { identity } from '../fixtures/identity.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';
import { generateCases, type FuzzCase, type HttpCase, type Port, type RawCase } from './fuzz-cases.js';
import { parseResponse, portOf, rawExchange } from './raw-http.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const CASES = 600;
const ONLY = process.env.FUZZ_ONLY ? new Set(process.env.FUZZ_ONLY.split(',').map(Number)) : undefined;
/** Requests in flight at once. */
const LANES = 6;
/** `request_timeout_s` of the fuzzed server: what a stalled request costs. */
const REQUEST_TIMEOUT_S = 3;
/** Stalled requests (each waits out the request timeout). */
const MAX_STALLS = 4;
/** Anything slower is a hang. */
const CASE_TIMEOUT_MS = REQUEST_TIMEOUT_S * 1000 + 5000;

let sb: Sandbox;
let server: ForegroundServer;
let model: MlpModel;
let ports: Record<Port, number>;

const YAML = 'minWorkers: 1\nmaxWorkers: 1\n';

async function pack(name: string, onnx: string) {
  await writeMar(path.join(sb.store, `${name}.mar`), {
    modelName: name,
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(onnx), 'model-config.yaml': YAML },
  });
}

beforeAll(async () => {
  sb = makeSandbox();
  model = await mlp(sb.dir);
  await pack('mlp', model.path);
  await pack('echo', await identity(sb.dir, { datatypes: ['FP32'], file: 'echo.onnx' }));
  await pack('text', await identity(sb.dir, { datatypes: ['BYTES'], file: 'text.onnx' }));
  await pack('ints', await identity(sb.dir, { datatypes: ['INT64'], file: 'ints.onnx' }));
  const cfg = sb.writeConfig({
    model_store: sb.store,
    load_models: 'all',
    max_request_size: 1_000_000,
    request_timeout_s: REQUEST_TIMEOUT_S,
    disable_token_authorization: true,
  });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  const { inference, management, metrics } = server.endpoints;
  if (!metrics) throw new Error('the metrics API did not start');
  ports = { inference: portOf(inference), management: portOf(management), metrics: portOf(metrics) };
  await eventually(async () => {
    const r = await http(`${inference}/v2/health/ready`);
    if (r.status !== 200) throw new Error(`not ready: ${r.text}`);
  }, 30_000);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

interface Outcome {
  status?: number;
  contentType?: string;
  body?: Buffer;
  /** The body arrived whole (a JSON check is only fair then). */
  complete: boolean;
  /** The connection ended without a response (an orderly close or a reset). */
  closed: boolean;
  hung: boolean;
  /** Bytes came back that are not an HTTP response. */
  garbage?: string;
}

function sendHttp(c: HttpCase): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    // Framing stated explicitly: node:http sends a DELETE or OPTIONS body unframed otherwise.
    const framing = c.chunks ? { 'transfer-encoding': 'chunked' } : c.body ? { 'content-length': String(c.body.length) } : {};
    const headers = { ...c.headers, ...framing };
    const req = nodeHttp.request({ host: '127.0.0.1', port: ports[c.port], method: c.method, path: c.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => done({ status: res.statusCode, contentType: res.headers['content-type'], body: Buffer.concat(chunks), complete: true, closed: false, hung: false }));
      res.on('error', () => done({ status: res.statusCode, complete: false, closed: true, hung: false }));
    });
    const timer = setTimeout(() => done({ complete: false, closed: false, hung: true }), CASE_TIMEOUT_MS);
    // The server may answer (and close) before the body is all sent: a reset then is a close.
    req.on('error', () => done({ complete: false, closed: true, hung: false }));
    if (c.chunks) {
      for (const piece of c.chunks) req.write(piece);
      req.end();
    } else req.end(c.body);
  });
}

async function sendRaw(c: RawCase): Promise<Outcome> {
  const out = await rawExchange(ports[c.port], c.pieces, { timeoutMs: CASE_TIMEOUT_MS, end: c.truncated && !c.stall, untilResponse: true });
  const res = parseResponse(out.response);
  // A response whose body never completes on an open connection is a hang too.
  if (res) return { status: res.status, contentType: res.headers['content-type'], body: res.body, complete: res.complete, closed: false, hung: out.timedOut };
  if (out.response.length > 0) return { complete: false, closed: out.closed, hung: out.timedOut, garbage: out.response.toString('latin1', 0, 200) };
  return { complete: false, closed: out.closed, hung: out.timedOut };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An error body's envelope: `{"error"}` on /v2 routes, TorchServe's `{"code","type","message"}`
 * elsewhere; a raw request's path may not even parse, so either passes there.
 */
function envelopeProblem(c: FuzzCase, status: number, body: unknown): string | undefined {
  const torchServe = isObject(body) && body.code === status && typeof body.type === 'string' && typeof body.message === 'string';
  const oip = isObject(body) && typeof body.error === 'string' && Object.keys(body).length === 1;
  // Node's parser refused the request (e.g. an unknown method): no route, so no route's envelope.
  const unparsed = torchServe && isObject(body) && body.message === 'Invalid HTTP message.';
  if (c.kind === 'raw' || unparsed) return torchServe || oip ? undefined : 'an error body in neither envelope';
  // As the server splits paths (TorchServe's rule): `//v2` is not an OIP route.
  const v2 = /^\/v2(?:[/?]|$)/.test(c.path);
  if (v2 ? oip : torchServe) return undefined;
  return `an error body not in the ${v2 ? '{"error"}' : '{"code","type","message"}'} envelope`;
}


/** What is wrong with an outcome, if anything. */
function problem(c: FuzzCase, o: Outcome): string | undefined {
  if (o.hung) return 'no answer and no close (hang)';
  if (o.garbage !== undefined) return `not an HTTP response: ${JSON.stringify(o.garbage)}`;
  if (o.status === undefined) return undefined; // a clean close
  if (o.status < 200 || o.status > 599) return `status ${o.status}`;
  const isHead = c.kind === 'http' && c.method === 'HEAD';
  if (o.complete && !isHead && o.contentType?.startsWith('application/json') && o.body) {
    const text = o.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return `status ${o.status} with a JSON content type but a body that does not parse: ${text.slice(0, 200)}`;
    }
    const envelope = o.status >= 400 ? envelopeProblem(c, o.status, parsed) : undefined;
    if (envelope) return `status ${o.status} with ${envelope}: ${text.slice(0, 200)}`;
  }
  if (o.status >= 500) {
    const text = o.body?.toString('utf8', 0, 300) ?? '';
    // Not a malformed-input failure: a valid request whose answer is over max_response_size.
    if (o.status === 500 && text.includes('max_response_size')) return undefined;
    return `status ${o.status}: ${text}`;
  }
  return undefined;
}

it(`survives ${CASES} fuzzed requests on every port (seed ${SEED})`, async () => {
  console.log(`fuzz seed: ${SEED} (FUZZ_SEED=${SEED} reproduces this run)`);
  const cases = generateCases(SEED, CASES, MAX_STALLS);
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let next = 0;
  const lane = async () => {
    while (next < cases.length) {
      const index = next++;
      const c = cases[index]!;
      if (ONLY && !ONLY.has(index)) continue;
      const o = c.kind === 'http' ? await sendHttp(c) : await sendRaw(c);
      const key = o.status !== undefined ? String(o.status) : o.hung ? 'hang' : 'closed';
      tally.set(key, (tally.get(key) ?? 0) + 1);
      const wrong = problem(c, o);
      if (wrong) failures.push(`#${index} ${c.what}: ${wrong}`);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: LANES }, lane));
  console.log(`fuzz: ${cases.length} requests in ${Date.now() - started} ms; outcomes ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
  expect(failures, `seed ${SEED}:\n${failures.join('\n')}`).toEqual([]);

  // The server lives on, healthy, and still computes the right numbers.
  expect(server.child.exitCode).toBeNull();
  const api = server.endpoints.inference;
  const ping = await http(`${api}/ping`);
  expect(ping.status).toBe(200);
  const rows = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 2.3],
  ];
  const res = await http(`${api}/predictions/mlp`, { method: 'POST', body: JSON.stringify(rows) });
  expect(res.status, res.text).toBe(200);
  const got = res.json as number[][];
  model.expected(rows).forEach((row, i) => row.forEach((v, k) => expect(got[i]![k]).toBeCloseTo(v, 4)));
}, 60_000);
