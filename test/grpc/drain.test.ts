/**
 * The graceful drain on the gRPC side (a real server, real sockets): a call in progress finishes,
 * new calls are refused with UNAVAILABLE so clients retry elsewhere, the health probes report
 * not-ready (Ping Unhealthy, OIP ServerReady/ModelReady false) while ServerLive stays true, and the
 * drain waits for the gRPC call as it does for an HTTP request. Also grpc.health.v1.Health (what
 * Kubernetes gRPC probes call): SERVING, NOT_FOUND for unknown services, NOT_SERVING while draining.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTTING_DOWN } from '../../src/errors.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { failure, makeClient, startGrpcTestServer, unary, type AnyClient, type GrpcTestServer } from './helpers.js';

const HANDLER = `
export async function handle(batch) {
  const cmd = new TextDecoder().decode(batch[0].parts[0].data);
  if (cmd.startsWith('sleep:')) await new Promise((r) => setTimeout(r, Number(cmd.slice(6))));
  return batch.map(() => 'done ' + cmd);
}
`;

let srv: GrpcTestServer;
let ts: AnyClient;
let oip: AnyClient;

beforeAll(async () => {
  srv = await startGrpcTestServer(async (dir, store) => {
    const onnx = fs.readFileSync((await mlp(dir)).path);
    await writeMar(path.join(store, 'slowish.mar'), {
      modelName: 'slowish',
      handler: 'handler.mjs',
      serializedFile: 'model.onnx',
      configFile: 'model-config.yaml',
      files: { 'model.onnx': onnx, 'handler.mjs': HANDLER, 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
    });
  }, { load_models: 'slowish.mar' });
  ts = makeClient('inference.proto', 'org.pytorch.serve.grpc.inference.InferenceAPIsService', srv.inferencePort);
  oip = makeClient('open_inference_grpc.proto', 'inference.GRPCInferenceService', srv.inferencePort);
}, 60_000);

afterAll(async () => {
  ts?.close();
  oip?.close();
  await srv?.close();
});

const say = (cmd: string) => ({ model_name: 'slowish', input: { body: Buffer.from(cmd) } });

describe('graceful drain over gRPC', () => {
  it('finishes the call in progress, refuses new ones, probes say not ready, and the drain waits for the call', async () => {
    // Workers load after start-up: wait for ready first.
    for (let i = 0; !(await unary<{ ready: boolean }>(oip, 'ServerReady', {})).ready; i++) {
      if (i > 200) throw new Error('never ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    const inProgress = unary<{ prediction: Buffer }>(ts, 'Predictions', say('sleep:800'));
    await new Promise((r) => setTimeout(r, 150));
    const drained = srv.server.drain(10_000);
    await new Promise((r) => setTimeout(r, 50));

    const refused = await failure(unary(ts, 'Predictions', say('late')));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.details).toBe(SHUTTING_DOWN);
    const refusedOip = await failure(unary(oip, 'ModelMetadata', { name: 'slowish' }));
    expect(refusedOip.code).toBe(grpc.status.UNAVAILABLE);
    expect(JSON.parse((await unary<{ health: string }>(ts, 'Ping', {})).health)).toEqual({ status: 'Unhealthy' });
    expect((await unary<{ ready: boolean }>(oip, 'ServerReady', {})).ready).toBe(false);
    expect((await unary<{ ready: boolean }>(oip, 'ModelReady', { name: 'slowish' })).ready).toBe(false);
    expect((await unary<{ live: boolean }>(oip, 'ServerLive', {})).live).toBe(true);
    for (const port of [srv.inferencePort, srv.managementPort]) {
      const health = makeClient('grpc/health/v1/health.proto', 'grpc.health.v1.Health', port);
      expect((await unary<{ status: string }>(health, 'Check', { service: '' })).status).toBe('NOT_SERVING');
      health.close();
    }

    expect((await inProgress).prediction.toString()).toBe('done sleep:800');
    expect(await drained).toBe(true);
    // The drain ended only after the gRPC call: it was counted in flight.
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
  });
});

describe('grpc.health.v1.Health', () => {
  it('answers on both ports without a key; unknown services are NOT_FOUND; Watch streams the status', async () => {
    const health = (port: number) => makeClient('grpc/health/v1/health.proto', 'grpc.health.v1.Health', port);
    const inf = health(tokenSrv.inferencePort);
    const mgmt = health(tokenSrv.managementPort);
    try {
      for (let i = 0; (await unary<{ status: string }>(inf, 'Check', { service: '' })).status !== 'SERVING'; i++) {
        if (i > 200) throw new Error('never SERVING');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const service of ['inference.GRPCInferenceService', 'org.pytorch.serve.grpc.inference.InferenceAPIsService', 'org.pytorch.serve.grpc.openinference.GRPCInferenceService']) {
        expect((await unary<{ status: string }>(inf, 'Check', { service })).status).toBe('SERVING');
      }
      expect((await unary<{ status: string }>(mgmt, 'Check', { service: 'org.pytorch.serve.grpc.management.ManagementAPIsService' })).status).toBe('SERVING');
      const unknown = await failure(unary(inf, 'Check', { service: 'org.pytorch.serve.grpc.management.ManagementAPIsService' }));
      expect(unknown.code).toBe(grpc.status.NOT_FOUND);
      const watch = inf.Watch!({ service: '' }, new grpc.Metadata()) as grpc.ClientReadableStream<{ status: string }>;
      const first = await new Promise<{ status: string }>((resolve) => watch.once('data', resolve));
      expect(first.status).toBe('SERVING');
      watch.on('error', () => undefined);
      watch.cancel();
    } finally {
      inf.close();
      mgmt.close();
    }
  });
});

let tokenSrv: GrpcTestServer;
beforeAll(async () => {
  // Token authorization on: the health service must not ask for a key (probes send none).
  tokenSrv = await startGrpcTestServer(async (dir, store) => {
    const onnx = fs.readFileSync((await mlp(dir)).path);
    await writeMar(path.join(store, 'mlp.mar'), { modelName: 'mlp', serializedFile: 'model.onnx', files: { 'model.onnx': onnx } });
  }, { load_models: 'mlp.mar', disable_token_authorization: false });
}, 60_000);
afterAll(async () => tokenSrv?.close());
