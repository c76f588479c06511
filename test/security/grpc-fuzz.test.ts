/**
 * A bounded, seeded fuzz run over the gRPC ports of the real CLI: about 500 calls to every method of
 * the services (TorchServe inference and management, OIP, grpc.health.v1 Check), each carrying random bytes,
 * a valid message with bytes flipped, cut or inserted, or a valid-shaped message with hostile
 * values (huge or negative shapes, wrong datatypes, raw contents of the wrong size, long strings,
 * extreme integers). Each call must end with a status within a time limit — never a hang, never
 * UNKNOWN (an exception escaping a handler) — and afterwards the server is alive and still computes
 * the right numbers over both protocols.
 *
 * The seed is printed; `FUZZ_SEED=<n> npx vitest run test/security/grpc-fuzz.test.ts` replays a run.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadProto, serviceClient } from '../../src/grpc/protos.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { makeSandbox, startForeground, type ForegroundServer, type Sandbox } from '../e2e/harness.js';
import { makeClient, unary } from '../grpc/helpers.js';
import { prng, type Rng } from './fuzz-cases.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const CASES = 500;
const LANES = 6;
const CALL_TIMEOUT_MS = 10_000;

interface Target {
  file: string;
  service: string;
  method: string;
  stream: 'unary' | 'server' | 'bidi';
  port: 'inference' | 'management';
  /** Plausible requests to mutate. */
  bases: object[];
}

const ROW = [5.1, 3.5, 1.4, 0.2];
const TS = 'org.pytorch.serve.grpc.inference.InferenceAPIsService';
const MG = 'org.pytorch.serve.grpc.management.ManagementAPIsService';
const OIP = 'inference.GRPCInferenceService';
const predict = { model_name: 'mlp', input: { body: Buffer.from(JSON.stringify([ROW])) } };
const infer = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: ROW } }] };
const inferRaw = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float32Array(ROW).buffer)] };

const TARGETS: Target[] = [
  { file: 'inference.proto', service: TS, method: 'Ping', stream: 'unary', port: 'inference', bases: [{}] },
  { file: 'inference.proto', service: TS, method: 'Predictions', stream: 'unary', port: 'inference', bases: [predict, { ...predict, model_version: '1.0' }] },
  { file: 'inference.proto', service: TS, method: 'StreamPredictions', stream: 'server', port: 'inference', bases: [predict] },
  { file: 'inference.proto', service: TS, method: 'StreamPredictions2', stream: 'bidi', port: 'inference', bases: [{ ...predict, sequenceId: 's' }] },
  { file: 'management.proto', service: MG, method: 'ListModels', stream: 'unary', port: 'management', bases: [{ limit: 2, next_page_token: 1 }] },
  { file: 'management.proto', service: MG, method: 'DescribeModel', stream: 'unary', port: 'management', bases: [{ model_name: 'mlp', customized: true }] },
  { file: 'management.proto', service: MG, method: 'ScaleWorker', stream: 'unary', port: 'management', bases: [{ model_name: 'mlp', min_worker: 1, max_worker: 1 }] },
  { file: 'management.proto', service: MG, method: 'SetDefault', stream: 'unary', port: 'management', bases: [{ model_name: 'mlp', model_version: '1.0' }] },
  { file: 'management.proto', service: MG, method: 'RegisterModel', stream: 'unary', port: 'management', bases: [{ url: 'mlp.mar', model_name: 'x' }] },
  { file: 'management.proto', service: MG, method: 'UnregisterModel', stream: 'unary', port: 'management', bases: [{ model_name: 'mlp' }] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ServerLive', stream: 'unary', port: 'inference', bases: [{}] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ServerReady', stream: 'unary', port: 'inference', bases: [{}] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ServerMetadata', stream: 'unary', port: 'inference', bases: [{}] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ModelReady', stream: 'unary', port: 'inference', bases: [{ name: 'mlp' }] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ModelMetadata', stream: 'unary', port: 'inference', bases: [{ name: 'mlp', version: '1.0' }] },
  { file: 'open_inference_grpc.proto', service: OIP, method: 'ModelInfer', stream: 'unary', port: 'inference', bases: [infer, inferRaw] },
  { file: 'grpc/health/v1/health.proto', service: 'grpc.health.v1.Health', method: 'Check', stream: 'unary', port: 'management', bases: [{ service: '' }, { service: OIP }] },
];

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const randomBytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => int(rng, 0, 255)));
const DATATYPES = ['FP32', 'FP16', 'BF16', 'INT64', 'UINT64', 'BOOL', 'BYTES', 'INT8', 'fp32', '', 'COMPLEX'];
const HOSTILE_INTS = ['0', '-1', '9223372036854775807', '-9223372036854775808', '4294967296', '2147483648', '65536'];

/** A valid-shaped ModelInfer with hostile values. */
function hostileInfer(rng: Rng): object {
  const shape = Array.from({ length: int(rng, 0, 6) }, () => pick(rng, HOSTILE_INTS.concat(['1', '4', '2'])));
  const datatype = pick(rng, DATATYPES);
  const input: Record<string, unknown> = { name: pick(rng, ['x', '', 'y', 'x'.repeat(300)]), datatype, shape };
  if (rng() < 0.5) input.contents = { [pick(rng, ['fp32_contents', 'int64_contents', 'bytes_contents', 'bool_contents', 'uint_contents'])]: Array.from({ length: int(rng, 0, 12) }, () => (rng() < 0.5 ? 1 : 0)) };
  const msg: Record<string, unknown> = { model_name: pick(rng, ['mlp', 'mlp', 'mlp', '', 'nope', '../mlp']), inputs: Array.from({ length: int(rng, 0, 3) }, () => input) };
  if (rng() < 0.5) msg.raw_input_contents = Array.from({ length: int(rng, 0, 3) }, () => randomBytes(rng, int(rng, 0, 40)));
  if (rng() < 0.3) msg.outputs = [{ name: pick(rng, ['y', 'nope', '']) }];
  if (rng() < 0.2) msg.model_version = pick(rng, ['1.0', '2.0', '']);
  return msg;
}

function mutate(rng: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  switch (int(rng, 0, 3)) {
    case 0: // flip some bytes
      for (let i = 0; i < int(rng, 1, 4) && b.length > 0; i++) b[int(rng, 0, b.length - 1)] = int(rng, 0, 255);
      return b;
    case 1: // cut
      return b.subarray(0, int(rng, 0, b.length));
    case 2: // insert
      return Buffer.concat([b.subarray(0, int(rng, 0, b.length)), randomBytes(rng, int(rng, 1, 12)), b]);
    default: // duplicate a tail (repeated fields, truncated varints)
      return Buffer.concat([b, b.subarray(int(rng, 0, b.length))]);
  }
}

interface Case {
  target: Target;
  payload: Buffer;
  what: string;
}

function generate(seed: number): Case[] {
  const rng = prng(seed);
  const cases: Case[] = [];
  for (let i = 0; i < CASES; i++) {
    const target = pick(rng, TARGETS);
    const serialize = serviceClient(loadProto(target.file), target.service).service[target.method]!.requestSerialize;
    const kind = rng();
    let payload: Buffer;
    let what: string;
    if (kind < 0.25) {
      payload = randomBytes(rng, int(rng, 0, 120));
      what = 'random bytes';
    } else if (kind < 0.6 || target.method !== 'ModelInfer') {
      payload = mutate(rng, serialize(pick(rng, target.bases)));
      what = 'mutated message';
    } else {
      payload = serialize(hostileInfer(rng));
      what = 'hostile ModelInfer';
    }
    cases.push({ target, payload, what });
  }
  return cases;
}

let sb: Sandbox;
let server: ForegroundServer;
let model: MlpModel;
let ports: { inference: number; management: number };

beforeAll(async () => {
  sb = makeSandbox();
  model = await mlp(sb.dir);
  await writeMar(path.join(sb.store, 'mlp.mar'), {
    modelName: 'mlp',
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(model.path), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
  });
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'mlp.mar', max_request_size: 65536 });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
  const portOf = (hostPort: string | undefined) => Number(hostPort!.split(':')[1]);
  ports = { inference: portOf(server.endpoints.grpcInference), management: portOf(server.endpoints.grpcManagement) };
}, 60_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

const identity = (b: Buffer) => b;

/**
 * INTERNAL is expected only where TorchServe sends it too: an undecodable message (grpc-js), and
 * a Predictions whose model or version does not exist or has no name. Any other INTERNAL is an
 * exception that escaped a check.
 */
const EXPECTED_INTERNAL = /^(Error deserializing request|Request message parsing error|Model not found: |Model version: [\s\S]* does not exist for model: |Parameter (model_name|sequenceId) is required\.)/;

/** Sends one case; resolves the final status. */
function send(client: grpc.Client, c: Case): Promise<{ code: grpc.status; details: string }> {
  const path = `/${c.target.service}/${c.target.method}`;
  const deadline = Date.now() + CALL_TIMEOUT_MS;
  return new Promise((resolve) => {
    if (c.target.stream === 'unary') {
      client.makeUnaryRequest(path, identity, identity, c.payload, new grpc.Metadata(), { deadline }, (err) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }));
      return;
    }
    const call =
      c.target.stream === 'server'
        ? client.makeServerStreamRequest(path, identity, identity, c.payload, new grpc.Metadata(), { deadline })
        : client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), { deadline });
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
    call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details }));
    if (c.target.stream === 'bidi') {
      (call as grpc.ClientDuplexStream<Buffer, Buffer>).write(c.payload);
      (call as grpc.ClientDuplexStream<Buffer, Buffer>).end();
    }
  });
}

it(`every fuzzed gRPC call ends with a status, none UNKNOWN or hung; the server is fine afterwards (seed ${SEED})`, async () => {
  process.stdout.write(`gRPC fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)\n`);
  const cases = generate(SEED);
  const clients = { inference: new grpc.Client(`127.0.0.1:${ports.inference}`, grpc.credentials.createInsecure()), management: new grpc.Client(`127.0.0.1:${ports.management}`, grpc.credentials.createInsecure()) };
  const failures: string[] = [];
  const codes = new Map<string, number>();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i]!;
      const { code, details } = await send(clients[c.target.port], c);
      const name = grpc.status[code] ?? String(code);
      if (process.env.FUZZ_VERBOSE) process.stdout.write(`#${i} ${c.target.method} ${c.what}: ${name} ${details.slice(0, 120)}\n`);
      codes.set(name, (codes.get(name) ?? 0) + 1);
      const leaked = code === grpc.status.INTERNAL && !EXPECTED_INTERNAL.test(details);
      if (leaked || code === grpc.status.UNKNOWN || code === grpc.status.DEADLINE_EXCEEDED) failures.push(`#${i} ${c.target.method} ${c.what}: ${name} ${details.slice(0, 160)} (payload ${c.payload.toString('hex').slice(0, 80)})`);
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  clients.inference.close();
  clients.management.close();
  process.stdout.write(`gRPC fuzz statuses: ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  expect(failures).toEqual([]);

  // Alive, and still right over gRPC and REST.
  expect(server.child.exitCode).toBeNull();
  const oip = makeClient('open_inference_grpc.proto', OIP, ports.inference);
  const res = await unary<{ outputs: Array<{ name: string; contents: { fp32_contents: number[] } }>; raw_output_contents: Buffer[] }>(oip, 'ModelInfer', infer);
  oip.close();
  const want = model.expected([ROW])[0]!;
  res.outputs[0]!.contents.fp32_contents.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 4));
  const rest = await fetch(`${server.endpoints.inference}/predictions/mlp`, { method: 'POST', body: JSON.stringify([ROW]) });
  expect(rest.status).toBe(200);
}, 120_000);
