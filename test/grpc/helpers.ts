/**
 * Shared by the gRPC tests: a real in-process server (startServer, real models, gRPC ports 0 on
 * loopback), clients generated from the same protos the server loads, and promise wrappers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startServer, type ServerHandle } from '../../src/app.js';
import { nodeConfigSources, resolveConfig } from '../../src/config/index.js';
import { loadProto, serviceClient } from '../../src/grpc/protos.js';
import { createLoggers, type Loggers } from '../../src/logging.js';

export type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;

/** A generated client: each method as grpc-js makes it (unary: (req, md, [opts], cb); streams return the call). */
export type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** A client of `service` (dotted name) from `protoFile`, on 127.0.0.1:port. */
export function makeClient(protoFile: string, service: string, port: number, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options?: grpc.ClientOptions): AnyClient {
  const Ctor = serviceClient(loadProto(protoFile), service);
  return new Ctor(`127.0.0.1:${port}`, creds, options) as unknown as AnyClient;
}

/** Calls a unary method; resolves the reply or rejects the ServiceError. */
export function unary<T>(client: AnyClient, method: string, request: object, md = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = client[method];
    if (!fn) return reject(new Error(`no method ${method}`));
    fn.call(client, request, md, options, (err: grpc.ServiceError | null, value?: T) => (err ? reject(err) : resolve(value as T)));
  });
}

/** The ServiceError a call fails with (fails the test if it succeeds). */
export async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** Collects a server stream's messages until it ends; rejects with the error status if it fails. */
export function collect<T>(stream: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): Promise<T[]> {
  const messages: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(messages));
  });
}

export function bearer(key: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  return md;
}

export interface GrpcTestServer {
  dir: string;
  server: ServerHandle;
  inferencePort: number;
  managementPort: number;
  close(): Promise<void>;
}

/**
 * Starts a real server in a temp dir: `store` holds what `files` writes there (archives, folders),
 * `props` adds to (or overrides) loopback HTTP ports 0, gRPC ports 0 and token auth off.
 */
export async function startGrpcTestServer(setup: (dir: string, store: string) => Promise<void> | void, props: Record<string, string | number | boolean> = {}): Promise<GrpcTestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-'));
  const store = path.join(dir, 'store');
  fs.mkdirSync(store);
  await setup(dir, store);
  const all: Record<string, string | number | boolean> = {
    inference_address: 'http://127.0.0.1:0',
    management_address: 'http://127.0.0.1:0',
    metrics_address: 'http://127.0.0.1:0',
    grpc_inference_port: 0,
    grpc_management_port: 0,
    disable_token_authorization: true,
    model_store: 'store',
    default_workers_per_model: 1,
    ...props,
  };
  fs.writeFileSync(path.join(dir, 'config.properties'), Object.entries(all).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n');
  const config = resolveConfig(nodeConfigSources({ tsConfig: 'config.properties', ncs: true }, {}, dir));
  const loggers: Loggers = createLoggers({ logLocation: path.join(dir, 'logs'), console: false });
  let server: ServerHandle;
  try {
    server = await startServer(config, loggers, { cwd: dir, tempRoot: path.join(dir, 'tmp') });
  } catch (err) {
    await loggers.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    server,
    inferencePort: server.grpc.inferencePort,
    managementPort: server.grpc.managementPort,
    close: async () => {
      await server.close();
      await loggers.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
