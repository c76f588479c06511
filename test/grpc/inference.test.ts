/**
 * TorchServe's gRPC inference service over a real socket: the server runs in-process against the
 * registry of a real startServer() (one MLP model), the client is generated from the same protos.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerHandle } from '../../src/app.js';
import { nodeConfigSources, resolveConfig } from '../../src/config/index.js';
import { createLoggers, type Loggers } from '../../src/logging.js';
import { TokenAuthority } from '../../src/security/tokens.js';
import { loadInferencePackage, startGrpc, TOKEN_DENIED, type GrpcHandle } from '../../src/grpc/server.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;
interface InferenceClient extends grpc.Client {
  Ping(req: object, md: grpc.Metadata, cb: Callback<{ health: string }>): void;
  Predictions(req: object, md: grpc.Metadata, cb: Callback<{ prediction: Buffer }>): void;
  StreamPredictions(req: object, md: grpc.Metadata): grpc.ClientReadableStream<{ prediction: Buffer }>;
}

function client(port: number): InferenceClient {
  const pkg = loadInferencePackage() as unknown as {
    org: { pytorch: { serve: { grpc: { inference: { InferenceAPIsService: new (addr: string, creds: grpc.ChannelCredentials) => InferenceClient } } } } };
  };
  const Ctor = pkg.org.pytorch.serve.grpc.inference.InferenceAPIsService;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function unary<T>(fn: (md: grpc.Metadata, cb: Callback<T>) => void, md = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => fn(md, (err, value) => (err ? reject(err) : resolve(value as T))));
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

let dir: string;
let model: MlpModel;
let server: ServerHandle;
let loggers: Loggers;
let grpcServer: GrpcHandle;
let c: InferenceClient;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-'));
  const store = path.join(dir, 'store');
  fs.mkdirSync(store);
  model = await mlp(dir);
  await writeMar(path.join(store, 'mlp.mar'), {
    modelName: 'mlp',
    serializedFile: 'model.onnx',
    files: { 'model.onnx': fs.readFileSync(model.path) },
  });
  const props = [
    'inference_address=http://127.0.0.1:0',
    'management_address=http://127.0.0.1:0',
    'metrics_address=http://127.0.0.1:0',
    'disable_token_authorization=true',
    'model_store=store',
    'load_models=mlp.mar',
    'default_workers_per_model=1',
  ];
  fs.writeFileSync(path.join(dir, 'config.properties'), props.join('\n') + '\n');
  const config = resolveConfig(nodeConfigSources({ tsConfig: 'config.properties', ncs: true }, {}, dir));
  loggers = createLoggers({ logLocation: path.join(dir, 'logs'), console: false });
  server = await startServer(config, loggers, { cwd: dir, tempRoot: path.join(dir, 'tmp') });
  grpcServer = await startGrpc({ registry: server.registry, address: '127.0.0.1', port: 0 });
  c = client(grpcServer.port);
}, 60_000);

afterAll(async () => {
  c?.close();
  await grpcServer?.close();
  await server?.close();
  await loggers?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('InferenceAPIsService (TorchServe gRPC)', () => {
  it('binds loopback on the port asked for (0: any free one)', () => {
    expect(grpcServer.port).toBeGreaterThan(0);
  });

  it('Ping answers the health document', async () => {
    const res = await unary<{ health: string }>((md, cb) => c.Ping({}, md, cb));
    expect(JSON.parse(res.health)).toEqual({ status: 'Healthy' });
    expect(res.health).toBe('{\n  "status": "Healthy"\n}');
  });

  it('Predictions runs the model on the input named like a form field', async () => {
    const rows = [
      [1, 2, 3, 4],
      [0.5, -1, 2, 0],
    ];
    const input = { body: Buffer.from(JSON.stringify({ x: rows })) };
    const res = await unary<{ prediction: Buffer }>((md, cb) => c.Predictions({ model_name: 'mlp', input }, md, cb));
    const got = JSON.parse(res.prediction.toString('utf8')) as number[][];
    const want = model.expected(rows);
    expect(got).toHaveLength(2);
    got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 4)));
  });

  it('Predictions with an explicit version', async () => {
    const input = { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) };
    const res = await unary<{ prediction: Buffer }>((md, cb) => c.Predictions({ model_name: 'mlp', model_version: '1.0', input }, md, cb));
    const got = JSON.parse(res.prediction.toString('utf8')) as number[][];
    expect(got[0]![0]).toBeCloseTo(model.expected([[1, 2, 3, 4]])[0]![0]!, 4);
  });

  it('StreamPredictions sends the final reply and ends', async () => {
    const input = { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) };
    const stream = c.StreamPredictions({ model_name: 'mlp', input }, new grpc.Metadata());
    const messages: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { prediction: Buffer }) => messages.push(m.prediction));
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    expect(messages).toHaveLength(1);
    expect((JSON.parse(messages[0]!.toString('utf8')) as number[][])[0]).toHaveLength(3);
  });

  it('an unknown model is NOT_FOUND with the REST message', async () => {
    const err = await failure(unary((md, cb) => c.Predictions({ model_name: 'nope', input: { body: Buffer.from('{}') } }, md, cb)));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('Model not found: nope');
  });

  it('an unknown version is NOT_FOUND', async () => {
    const err = await failure(unary((md, cb) => c.Predictions({ model_name: 'mlp', model_version: '9.9', input: { body: Buffer.from('{}') } }, md, cb)));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toMatch(/9\.9/);
  });

  it('a missing model name is INVALID_ARGUMENT', async () => {
    const err = await failure(unary((md, cb) => c.Predictions({ input: {} }, md, cb)));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('a bad input for the model is a clean error status, the server lives on', async () => {
    const err = await failure(unary((md, cb) => c.Predictions({ model_name: 'mlp', input: { body: Buffer.from('{"x": [[1, 2]]}') } }, md, cb)));
    expect([grpc.status.INVALID_ARGUMENT, grpc.status.INTERNAL]).toContain(err.code);
    const ok = await unary<{ health: string }>((md, cb) => c.Ping({}, md, cb));
    expect(ok.health).toContain('Healthy');
  });
});

describe('token authorization through metadata', () => {
  let tokens: TokenAuthority;
  let secured: GrpcHandle;
  let sc: InferenceClient;
  let keys: { inference: { key: string }; management: { key: string } };

  beforeAll(async () => {
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-keys-'));
    tokens = TokenAuthority.create({ dir: keyDir, expirationMin: 60 });
    keys = JSON.parse(tokens.keyFileJson()) as typeof keys;
    secured = await startGrpc({ registry: server.registry, address: '127.0.0.1', port: 0, tokens });
    sc = client(secured.port);
  });
  afterAll(async () => {
    sc?.close();
    await secured?.close();
  });

  const withAuth = (value: string) => {
    const md = new grpc.Metadata();
    md.set('authorization', value);
    return md;
  };

  it('refuses a call without the key: PERMISSION_DENIED with TorchServe text', async () => {
    const err = await failure(unary((md, cb) => sc.Ping({}, md, cb)));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe(TOKEN_DENIED);
  });

  it('refuses the management key and a malformed header', async () => {
    for (const value of [`Bearer ${keys.management.key}`, keys.inference.key, `bearer ${keys.inference.key}`]) {
      const err = await failure(unary((md, cb) => sc.Predictions({ model_name: 'mlp', input: {} }, md, cb), withAuth(value)));
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    }
  });

  it('accepts the inference key', async () => {
    const md = withAuth(`Bearer ${keys.inference.key}`);
    const res = await unary<{ health: string }>((m, cb) => sc.Ping({}, m, cb), md);
    expect(res.health).toContain('Healthy');
    const input = { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) };
    const pred = await unary<{ prediction: Buffer }>((m, cb) => sc.Predictions({ model_name: 'mlp', input }, m, cb), withAuth(`Bearer ${keys.inference.key}`));
    expect((JSON.parse(pred.prediction.toString('utf8')) as number[][])[0]).toHaveLength(3);
  });

  it('a streamed call without the key is refused too', async () => {
    const stream = sc.StreamPredictions({ model_name: 'mlp', input: {} }, new grpc.Metadata());
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      stream.on('data', () => undefined);
      stream.on('error', (e: grpc.ServiceError) => resolve(e));
    });
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
