/**
 * TorchServe's gRPC inference service over real sockets: a real server (startServer, real models,
 * gRPC ports 0), clients generated from the same protos. Ping, Predictions, StreamPredictions with
 * several messages, StreamPredictions2 sequences, errors mapped as TorchServe, deadlines dropping
 * queued requests, client cancellation stopping a handler, token metadata, TLS, default binding.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferenceService } from '../../src/grpc/inference-service.js';
import { loadProto, serviceClient } from '../../src/grpc/protos.js';
import { startGrpcListener } from '../../src/grpc/server.js';
import { TOKEN_DENIED } from '../../src/grpc/status.js';
import { resolveConfig, nodeConfigSources } from '../../src/config/index.js';
import { writeMar } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';
import { bearer, collect, failure, makeClient, startGrpcTestServer, unary, type AnyClient, type GrpcTestServer } from './helpers.js';

const SERVICE = 'org.pytorch.serve.grpc.inference.InferenceAPIsService';
const TLS_DIR = path.resolve(import.meta.dirname, '../fixtures/tls');

/** A `handle` module with a command per body text; `calls` counts the requests it ran. */
const CUSTOM = `
let calls = 0;
let last = { produced: 0, cancelled: false, finished: true };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export async function handle(batch, ctx) {
  const out = [];
  for (let i = 0; i < batch.length; i++) {
    calls++;
    const r = batch[i];
    const cmd = new TextDecoder().decode(r.parts[0].data);
    if (cmd.startsWith('sleep:')) {
      await sleep(Number(cmd.slice(6)));
      out.push('slept');
    } else if (cmd.startsWith('count:')) {
      for (let k = 0; k < Number(cmd.slice(6)); k++) await ctx.sendIntermediate('chunk ' + k, i);
      out.push('done');
    } else if (cmd === 'endless') {
      last = { produced: 0, cancelled: false, finished: false };
      while (last.produced < 400 && (await ctx.sendIntermediate('tick ' + last.produced, i))) {
        last.produced++;
        await sleep(10);
      }
      last.cancelled = ctx.isCancelled(i);
      last.finished = true;
      out.push('stopped');
    } else if (cmd.startsWith('big:')) {
      out.push('x'.repeat(Number(cmd.slice(4))));
    } else if (cmd === 'calls') {
      out.push(String(calls));
    } else if (cmd === 'last') {
      out.push(last);
    } else if (cmd === 'full') {
      ctx.setResponseStatus(507, 'Insufficient Storage', i);
      out.push('no room');
    } else if (cmd === 'teapot') {
      throw Object.assign(new Error("I'm a teapot"), { status: 418 });
    } else if (cmd === 'seq') {
      out.push('seq=' + (r.headers.sequence_id ?? 'none'));
    } else {
      out.push('echo ' + cmd);
    }
  }
  return out;
}
`;

let srv: GrpcTestServer;
let model: MlpModel;
let c: AnyClient;

const text = (b: Buffer) => b.toString('utf8');
const say = (cmd: string, extra: object = {}) => ({ model_name: 'custom', input: { body: Buffer.from(cmd) }, ...extra });
const predict = (req: object, md?: grpc.Metadata, opts?: grpc.CallOptions) => unary<{ prediction: Buffer }>(c, 'Predictions', req, md, opts);

beforeAll(async () => {
  srv = await startGrpcTestServer(async (dir, store) => {
    model = await mlp(dir);
    const onnx = fs.readFileSync(model.path);
    await writeMar(path.join(store, 'mlp.mar'), { modelName: 'mlp', serializedFile: 'model.onnx', files: { 'model.onnx': onnx } });
    await writeMar(path.join(store, 'custom.mar'), {
      modelName: 'custom',
      handler: 'handler.mjs',
      serializedFile: 'model.onnx',
      configFile: 'model-config.yaml',
      files: { 'model.onnx': onnx, 'handler.mjs': CUSTOM, 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
    });
  }, { load_models: 'mlp.mar,custom.mar', busy_poll_us: 20000 });
  c = makeClient('inference.proto', SERVICE, srv.inferencePort);
}, 60_000);

afterAll(async () => {
  c?.close();
  await srv?.close();
});

describe('InferenceAPIsService (TorchServe gRPC)', () => {
  it('the server binds both gRPC ports on loopback (0: any free one)', () => {
    expect(srv.inferencePort).toBeGreaterThan(0);
    expect(srv.managementPort).toBeGreaterThan(0);
    expect(srv.managementPort).not.toBe(srv.inferencePort);
  });

  it('Ping answers the health document in Gson pretty form', async () => {
    const res = await unary<{ health: string }>(c, 'Ping', {});
    expect(res.health).toBe('{\n  "status": "Healthy"\n}');
  });

  it('Predictions runs the model on the input named like a form field', async () => {
    const rows = [
      [1, 2, 3, 4],
      [0.5, -1, 2, 0],
    ];
    const res = await predict({ model_name: 'mlp', input: { body: Buffer.from(JSON.stringify({ x: rows })) } });
    const got = JSON.parse(text(res.prediction)) as number[][];
    const want = model.expected(rows);
    expect(got).toHaveLength(2);
    got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 4)));
  });

  it('Predictions with an explicit version', async () => {
    const res = await predict({ model_name: 'mlp', model_version: '1.0', input: { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) } });
    expect((JSON.parse(text(res.prediction)) as number[][])[0]![0]).toBeCloseTo(model.expected([[1, 2, 3, 4]])[0]![0]!, 4);
  });

  it('a lone gRPC request is busy-polled like a lone REST one (it counts as the one in flight)', async () => {
    const pool = srv.server.registry.resolve('mlp').pool;
    const before = pool.stats().polledResults;
    for (let i = 0; i < 20; i++) await predict({ model_name: 'mlp', input: { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, i]] })) } });
    expect(pool.stats().polledResults - before).toBeGreaterThan(0);
  });

  it('StreamPredictions streams each intermediate reply, then the final one, then ends', async () => {
    const messages = await collect<{ prediction: Buffer }>(c.StreamPredictions!(say('count:3'), new grpc.Metadata()) as grpc.ClientReadableStream<{ prediction: Buffer }>);
    expect(messages.map((m) => text(m.prediction))).toEqual(['chunk 0', 'chunk 1', 'chunk 2', 'done']);
  });

  it('StreamPredictions of a model that does not stream is one message', async () => {
    const req = { model_name: 'mlp', input: { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) } };
    const messages = await collect<{ prediction: Buffer }>(c.StreamPredictions!(req, new grpc.Metadata()) as grpc.ClientReadableStream<{ prediction: Buffer }>);
    expect(messages).toHaveLength(1);
    expect((JSON.parse(text(messages[0]!.prediction)) as number[][])[0]).toHaveLength(3);
  });

  it('StreamPredictions2 answers a sequence in order, tags each reply with its sequenceId, and keeps going after an error', async () => {
    const call = c.StreamPredictions2!(new grpc.Metadata()) as grpc.ClientDuplexStream<object, { prediction: Buffer; sequenceId?: string; status?: { code: number; message: string } }>;
    const done = collect(call);
    call.write(say('seq', { sequenceId: 's1' }));
    call.write(say('count:2', { sequenceId: 's1' }));
    call.write({ model_name: 'nope', input: {}, sequenceId: 's1' });
    call.write(say('echo', {}));
    call.write(say('hello', { sequenceId: 's1' }));
    call.end();
    const msgs = await done;
    expect(msgs.map((m) => (m.status ? `E${m.status.code}:${m.status.message}` : text(m.prediction)))).toEqual([
      'seq=s1',
      'chunk 0',
      'chunk 1',
      'done',
      `E${grpc.status.INTERNAL}:Model not found: nope`,
      `E${grpc.status.INTERNAL}:Parameter sequenceId is required.`,
      'echo hello',
    ]);
    expect(msgs.filter((m) => !m.status).every((m) => m.sequenceId === 's1')).toBe(true);
  });

  it('a lookup failure is INTERNAL with the REST message, as TorchServe', async () => {
    const unknown = await failure(predict({ model_name: 'nope', input: { body: Buffer.from('{}') } }));
    expect(unknown.code).toBe(grpc.status.INTERNAL);
    expect(unknown.details).toBe('Model not found: nope');
    const version = await failure(predict({ model_name: 'mlp', model_version: '9.9', input: { body: Buffer.from('{}') } }));
    expect(version.code).toBe(grpc.status.INTERNAL);
    expect(version.details).toMatch(/9\.9/);
    const noName = await failure(predict({ input: {} }));
    expect(noName.code).toBe(grpc.status.INTERNAL);
    expect(noName.details).toBe('Parameter model_name is required.');
  });

  it('an error status from the handler maps through TorchServe GRPCUtils (507 INTERNAL, 418 FAILED_PRECONDITION)', async () => {
    const full = await failure(predict(say('full')));
    expect(full.code).toBe(grpc.status.INTERNAL);
    expect(full.details).toBe('no room');
    const teapot = await failure(predict(say('teapot')));
    expect(teapot.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(teapot.details).toContain('teapot');
  });

  it('a bad input for the model is a clean error status, the server lives on', async () => {
    const err = await failure(predict({ model_name: 'mlp', input: { body: Buffer.from('{"x": [[1, 2]]}') } }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await unary<{ health: string }>(c, 'Ping', {})).health).toContain('Healthy');
  });

  it('a request whose deadline passes while queued is dropped: it never runs', async () => {
    const before = Number(text((await predict(say('calls'))).prediction));
    const busy = predict(say('sleep:700'));
    await new Promise((r) => setTimeout(r, 100));
    const late = await failure(predict(say('echo'), undefined, { deadline: Date.now() + 150 }));
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(text((await busy).prediction)).toBe('slept');
    const after = Number(text((await predict(say('calls'))).prediction));
    // calls counted: the first 'calls' itself, the sleep, the second 'calls'; not the dropped one.
    expect(after - before).toBe(2);
  });

  it('cancelling a stream stops the handler', async () => {
    const call = c.StreamPredictions!(say('endless'), new grpc.Metadata()) as grpc.ClientReadableStream<{ prediction: Buffer }>;
    let seen = 0;
    await new Promise<void>((resolve) => {
      call.on('data', () => {
        if (++seen === 3) {
          call.cancel();
          resolve();
        }
      });
      call.on('error', () => undefined);
    });
    let last: { produced: number; cancelled: boolean; finished: boolean } = { produced: 0, cancelled: false, finished: false };
    const until = Date.now() + 5000;
    while (!last.finished && Date.now() < until) {
      last = JSON.parse(text((await predict(say('last'))).prediction)) as typeof last;
      if (!last.finished) await new Promise((r) => setTimeout(r, 50));
    }
    expect(last.finished).toBe(true);
    expect(last.cancelled).toBe(true);
    expect(last.produced).toBeLessThan(100);
  });

  it('a message over max_request_size is RESOURCE_EXHAUSTED, the server lives on', async () => {
    const err = await failure(predict({ model_name: 'mlp', input: { body: Buffer.alloc(6553500 + 10, 0x20) } }));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await unary<{ health: string }>(c, 'Ping', {})).health).toContain('Healthy');
  });

  it('a reply over max_response_size is RESOURCE_EXHAUSTED with the REST text, unary and streamed', async () => {
    const err = await failure(predict(say('big:6553600')));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/exceeds max_response_size \(6553500 bytes\)/);
    const streamed = await failure(collect(c.StreamPredictions!(say('big:6553600'), new grpc.Metadata()) as grpc.ClientReadableStream<unknown>));
    expect(streamed.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(text((await predict(say('big:10'))).prediction)).toBe('xxxxxxxxxx');
  });

  it('an input map entry sent without its value is an empty part, not an internal error', async () => {
    const raw = new grpc.Client(`127.0.0.1:${srv.inferencePort}`, grpc.credentials.createInsecure());
    const entry = Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from('body')]);
    const msg = Buffer.concat([Buffer.from([0x0a, 6]), Buffer.from('custom'), Buffer.from([0x1a, entry.length]), entry]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      raw.makeUnaryRequest(`/${SERVICE}/Predictions`, (b: Buffer) => b, (b: Buffer) => b, msg, (e, v) => (e ? reject(e) : resolve(v!)));
    });
    raw.close();
    // PredictionResponse field 1 (prediction) = the handler's echo of an empty command.
    expect(reply.subarray(2).toString()).toBe('echo ');
  });

  it('a malformed message is a clean INTERNAL status (protobuf parse), the server lives on', async () => {
    const raw = new grpc.Client(`127.0.0.1:${srv.inferencePort}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      raw.makeUnaryRequest(`/${SERVICE}/Predictions`, (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0xff, 0xff, 0xff]), (e) => resolve(e!));
    });
    raw.close();
    expect([grpc.status.INTERNAL, grpc.status.INVALID_ARGUMENT]).toContain(err.code);
    expect((await unary<{ health: string }>(c, 'Ping', {})).health).toContain('Healthy');
  });
});

describe('token authorization through metadata', () => {
  let secured: GrpcTestServer;
  let sc: AnyClient;
  let keys: { inference: { key: string }; management: { key: string } };

  beforeAll(async () => {
    secured = await startGrpcTestServer(async (dir, store) => {
      const m = await mlp(dir);
      await writeMar(path.join(store, 'mlp.mar'), { modelName: 'mlp', serializedFile: 'model.onnx', files: { 'model.onnx': fs.readFileSync(m.path) } });
    }, { load_models: 'mlp.mar', disable_token_authorization: false });
    keys = JSON.parse(fs.readFileSync(path.join(secured.dir, 'key_file.json'), 'utf8')) as typeof keys;
    sc = makeClient('inference.proto', SERVICE, secured.inferencePort);
  }, 60_000);
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
    const err = await failure(unary(sc, 'Ping', {}));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toBe(TOKEN_DENIED);
  });

  it('refuses the management key and malformed headers', async () => {
    for (const value of [`Bearer ${keys.management.key}`, keys.inference.key, `bearer ${keys.inference.key}`]) {
      const err = await failure(unary(sc, 'Predictions', { model_name: 'mlp', input: {} }, withAuth(value)));
      expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    }
  });

  it('accepts the inference key', async () => {
    expect((await unary<{ health: string }>(sc, 'Ping', {}, bearer(keys.inference.key))).health).toContain('Healthy');
    const input = { body: Buffer.from(JSON.stringify({ x: [[1, 2, 3, 4]] })) };
    const pred = await unary<{ prediction: Buffer }>(sc, 'Predictions', { model_name: 'mlp', input }, bearer(keys.inference.key));
    expect((JSON.parse(text(pred.prediction)) as number[][])[0]).toHaveLength(3);
  });

  it('streamed calls without the key are refused too', async () => {
    const err = await failure(collect(sc.StreamPredictions!({ model_name: 'mlp', input: {} }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    const duplex = sc.StreamPredictions2!(new grpc.Metadata()) as grpc.ClientDuplexStream<object, unknown>;
    duplex.end();
    const err2 = await failure(collect(duplex));
    expect(err2.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe('enable_grpc_ssl', () => {
  let tlsSrv: GrpcTestServer;
  beforeAll(async () => {
    tlsSrv = await startGrpcTestServer(
      (dir) => {
        fs.copyFileSync(path.join(TLS_DIR, 'cert.pem'), path.join(dir, 'cert.pem'));
        fs.copyFileSync(path.join(TLS_DIR, 'key.pem'), path.join(dir, 'key.pem'));
      },
      { enable_grpc_ssl: true, certificate_file: 'cert.pem', private_key_file: 'key.pem' },
    );
  }, 60_000);
  afterAll(async () => tlsSrv?.close());

  it('serves TLS on both ports with certificate_file/private_key_file', async () => {
    const ca = fs.readFileSync(path.join(TLS_DIR, 'cert.pem'));
    const opts = { 'grpc.ssl_target_name_override': 'localhost' };
    const tc = makeClient('inference.proto', SERVICE, tlsSrv.inferencePort, grpc.credentials.createSsl(ca), opts);
    expect((await unary<{ health: string }>(tc, 'Ping', {})).health).toContain('Healthy');
    tc.close();
    const mc = makeClient('management.proto', 'org.pytorch.serve.grpc.management.ManagementAPIsService', tlsSrv.managementPort, grpc.credentials.createSsl(ca), opts);
    const list = await unary<{ msg: string }>(mc, 'ListModels', {});
    expect(JSON.parse(list.msg)).toEqual({ models: [] });
    mc.close();
  });

  it('refuses a plaintext client', async () => {
    const plain = makeClient('inference.proto', SERVICE, tlsSrv.inferencePort);
    const err = await failure(unary(plain, 'Ping', {}, new grpc.Metadata(), { deadline: Date.now() + 3000 }));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(err.code);
    plain.close();
  });

  it('enable_grpc_ssl without a PEM pair stops start-up with the keys named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-ssl-'));
    fs.writeFileSync(path.join(dir, 'config.properties'), 'model_store=.\nenable_grpc_ssl=true\nkeystore=ks.p12\n');
    const config = resolveConfig(nodeConfigSources({ tsConfig: 'config.properties', ncs: true }, {}, dir));
    expect(config.enableGrpcSsl).toBe(true);
    return import('../../src/grpc/listeners.js').then(({ grpcTls }) => {
      expect(() => grpcTls(config, dir)).toThrow(/enable_grpc_ssl=true needs certificate_file and private_key_file/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});

describe('binding', () => {
  it('defaults: 127.0.0.1:7070 and 127.0.0.1:7071, never all interfaces', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-bind-'));
    const config = resolveConfig(nodeConfigSources({ ncs: true, modelStore: '.' }, {}, dir));
    fs.rmSync(dir, { recursive: true, force: true });
    expect([config.grpcInferenceAddress, config.grpcInferencePort, config.grpcManagementAddress, config.grpcManagementPort]).toEqual(['127.0.0.1', 7070, '127.0.0.1', 7071]);
  });

  it('connection age keys: milliseconds, never when unset or past a timer (TorchServe Long.MAX), malformed stops start-up', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-age-'));
    const resolveWith = (text: string) => {
      fs.writeFileSync(path.join(dir, 'config.properties'), `model_store=.\n${text}`);
      return resolveConfig(nodeConfigSources({ tsConfig: 'config.properties', ncs: true }, {}, dir));
    };
    try {
      expect(resolveWith('grpc_inference_max_connection_age_ms=60000\ngrpc_inference_max_connection_age_grace_ms=5000\ngrpc_management_max_connection_age_ms=9223372036854775807\n').grpcConnectionAge).toEqual({
        inference: { ageMs: 60000, graceMs: 5000 },
        management: {},
      });
      expect(() => resolveWith('grpc_management_max_connection_age_ms=soon\n')).toThrow(/grpc_management_max_connection_age_ms must be a non-negative integer/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a connection older than max_connection_age is closed; the client reconnects and calls go on', async () => {
    const handle = await startGrpcListener([inferenceService({ registry: srv.server.registry, maxResponseSize: 1 << 20 })], {
      address: '127.0.0.1',
      port: 0,
      maxRequestSize: 1 << 20,
      maxResponseSize: 1 << 20,
      maxConnectionAgeMs: 150,
      maxConnectionAgeGraceMs: 100,
    });
    const aged = makeClient('inference.proto', SERVICE, handle.port);
    try {
      const states: grpc.connectivityState[] = [];
      const channel = aged.getChannel();
      expect((await unary<{ health: string }>(aged, 'Ping', {})).health).toContain('Healthy');
      const watch = (from: grpc.connectivityState) => channel.watchConnectivityState(from, Date.now() + 2000, () => {
        const now = channel.getConnectivityState(false);
        states.push(now);
        if (now === grpc.connectivityState.READY) watch(now);
      });
      watch(channel.getConnectivityState(false));
      await new Promise((r) => setTimeout(r, 600));
      // The server's GOAWAY took the channel out of READY at least once.
      expect(states.some((st) => st !== grpc.connectivityState.READY)).toBe(true);
      expect((await unary<{ health: string }>(aged, 'Ping', {})).health).toContain('Healthy');
    } finally {
      aged.close();
      await handle.close();
    }
  });

  it('a loopback listener cannot be reached on another interface of the machine', async () => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    const handle = await startGrpcListener([inferenceService({ registry: srv.server.registry, maxResponseSize: 1 << 20 })], {
      address: '127.0.0.1',
      port: 0,
      maxRequestSize: 1 << 20,
      maxResponseSize: 1 << 20,
    });
    try {
      const local = makeClient('inference.proto', SERVICE, handle.port);
      expect((await unary<{ health: string }>(local, 'Ping', {})).health).toContain('Healthy');
      local.close();
      if (external) {
        const Ctor = serviceClient(loadProto('inference.proto'), SERVICE);
        const remote = new Ctor(`${external}:${handle.port}`, grpc.credentials.createInsecure()) as unknown as AnyClient;
        const err = await failure(unary(remote, 'Ping', {}, new grpc.Metadata(), { deadline: Date.now() + 2000 }));
        expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(err.code);
        remote.close();
      }
    } finally {
      await handle.close();
    }
  });
});
