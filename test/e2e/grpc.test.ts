/**
 * gRPC as a user walks it: the real CLI started with token authorization on and the model API
 * enabled, the bundled example client (examples/grpc/client.mjs, what the README shows) calling
 * every service with the keys from key_file.json — TorchServe's inference and management services
 * and the Open Inference Protocol's GRPCInferenceService — on the ports the CLI printed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from './harness.js';

const CLIENT = path.join(REPO_ROOT, 'examples/grpc/client.mjs');
const run = promisify(execFile);

let sb: Sandbox;
let server: ForegroundServer;

async function client(...args: string[]): Promise<string> {
  const env = { ...process.env, GRPC_INFERENCE: server.endpoints.grpcInference!, GRPC_MANAGEMENT: server.endpoints.grpcManagement! };
  const { stdout } = await run(process.execPath, [CLIENT, ...args], { cwd: sb.dir, env, timeout: 30_000 });
  return stdout;
}

async function clientError(...args: string[]): Promise<string> {
  try {
    await client(...args);
  } catch (err) {
    return (err as { stderr: string }).stderr;
  }
  throw new Error(`client ${args.join(' ')} succeeded`);
}

beforeAll(async () => {
  sb = makeSandbox();
  for (const f of ['iris.mar', 'silero_vad.mar']) fs.copyFileSync(path.join(REPO_ROOT, 'model_store', f), path.join(sb.store, f));
  fs.copyFileSync(path.join(REPO_ROOT, 'model_store/iris-sample.json'), path.join(sb.dir, 'iris-sample.json'));
  fs.copyFileSync(path.join(REPO_ROOT, 'examples/silero_vad/sample.wav'), path.join(sb.dir, 'sample.wav'));
  const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'iris.mar,silero_vad.mar', default_workers_per_model: 1, disable_token_authorization: false });
  server = await startForeground(sb, ['--ncs', '--ts-config', cfg, '--enable-model-api']);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  sb?.remove();
});

describe('gRPC through the CLI and the example client', () => {
  it('the CLI prints both gRPC addresses, on loopback', () => {
    expect(server.endpoints.grpcInference).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.endpoints.grpcManagement).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('TorchServe inference: Ping, Predictions, StreamPredictions (silero VAD segments as they close)', async () => {
    expect(JSON.parse(await client('ping'))).toEqual({ status: 'Healthy' });
    const iris = JSON.parse(await client('predict', 'iris', 'iris-sample.json')) as Record<string, number>;
    expect(Object.keys(iris)).toEqual(expect.arrayContaining(['setosa', 'versicolor', 'virginica']));
    expect(iris.setosa).toBeGreaterThan(0.9);
    const lines = (await client('stream', 'silero_vad', 'sample.wav')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.at(-1)).toMatchObject({ segments: lines.length - 1 });
  });

  it('TorchServe management: list, describe, scale, register and unregister', async () => {
    expect((JSON.parse(await client('list')) as { models: Array<{ modelName: string }> }).models.map((m) => m.modelName)).toEqual(['iris', 'silero_vad']);
    expect((JSON.parse(await client('describe', 'iris')) as Array<{ modelName: string }>)[0]!.modelName).toBe('iris');
    expect(await client('scale', 'iris', '2')).toContain('Workers scaled to 2 for model: iris');
    expect(await client('register', 'iris.mar', 'iris2')).toContain('Model "iris2" Version: 1.0 registered with 1 initial workers');
    expect(await client('unregister', 'iris2')).toContain('Model "iris2" unregistered');
    expect(await clientError('describe', 'iris2')).toMatch(/^NOT_FOUND: Model not found: iris2/);
  });

  it('Open Inference Protocol: live, ready, server and model metadata, ModelInfer with raw FP32', async () => {
    expect(JSON.parse(await client('live'))).toEqual({ live: true });
    expect(JSON.parse(await client('ready'))).toEqual({ ready: true });
    expect(JSON.parse(await client('server'))).toMatchObject({ name: 'onnxserve' });
    const meta = JSON.parse(await client('metadata', 'iris')) as { inputs: Array<{ name: string; datatype: string }> };
    expect(meta.inputs[0]!.datatype).toBe('FP32');
    const res = JSON.parse(await client('infer', 'iris', '5.1,3.5,1.4,0.2')) as { model_name: string; outputs: Array<{ name: string; data: number[] }> };
    expect(res.model_name).toBe('iris');
    expect(res.outputs.length).toBeGreaterThan(0);
    expect(res.outputs[0]!.data.length).toBeGreaterThan(0);
  });

  it('without the keys every service refuses: PERMISSION_DENIED', async () => {
    const keyFile = path.join(sb.dir, 'key_file.json');
    const keys = fs.readFileSync(keyFile);
    fs.renameSync(keyFile, `${keyFile}.away`);
    try {
      for (const cmd of [['ping'], ['list'], ['live']]) expect(await clientError(...cmd)).toMatch(/^PERMISSION_DENIED: Token Authorization failed/);
    } finally {
      fs.renameSync(`${keyFile}.away`, keyFile);
    }
    expect(fs.readFileSync(keyFile)).toEqual(keys);
  });
});
