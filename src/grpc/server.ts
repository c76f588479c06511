/**
 * TorchServe's gRPC inference API (`org.pytorch.serve.grpc.inference.InferenceAPIsService`,
 * spec Appendix B) on `grpc_inference_address` (default 127.0.0.1:7070): Ping, Predictions and
 * StreamPredictions with the REST routes' semantics; a ServeError becomes a gRPC status whose
 * details are the REST message. Token authorization reads the `authorization` metadata.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ServeError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { ModelRegistry } from '../registry/registry.js';
import { Cancellation } from '../runtime/cancellation.js';
import type { InferenceReply, InferenceRequest, RequestPart } from '../runtime/types.js';
import type { TokenAuthority } from '../security/tokens.js';

/** `proto/` at the package root: the same relative place from `src/grpc` and `dist/grpc`. */
export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

export const TOKEN_DENIED = 'Token Authorization failed. Token either incorrect, expired, or not provided correctly';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface GrpcDeps {
  registry: ModelRegistry;
  /** Host to bind (`grpc_inference_address`); default 127.0.0.1, never all interfaces by default. */
  address?: string;
  /** `grpc_inference_port`; default 7070, 0 for any free port. */
  port?: number;
  /** Largest inbound message in bytes (`max_request_size`); default 6553500. */
  maxRequestSize?: number;
  /** Largest outbound message in bytes (`max_response_size`); default 6553500. */
  maxResponseSize?: number;
  /** Token authorization; undefined when disabled. Inference RPCs need the inference key. */
  tokens?: TokenAuthority;
  log?: Logger;
}

export interface GrpcHandle {
  port: number;
  close(): Promise<void>;
}

/** ServeError status (REST) → gRPC status code, as TorchServe's gRPC handlers map exceptions. */
export function grpcCode(status: number): grpc.status {
  switch (status) {
    case 400:
      return grpc.status.INVALID_ARGUMENT;
    case 403:
      return grpc.status.INVALID_ARGUMENT;
    case 404:
      return grpc.status.NOT_FOUND;
    case 405:
      return grpc.status.PERMISSION_DENIED;
    case 408:
      return grpc.status.DEADLINE_EXCEEDED;
    case 409:
      return grpc.status.ALREADY_EXISTS;
    case 413:
    case 507:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 503:
      return grpc.status.UNAVAILABLE;
    default:
      return status >= 400 && status < 500 ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
  }
}

export function toGrpcError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof ServeError) return { code: grpcCode(err.status), details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** A handler reply with an error status (e.g. `context.setResponseStatus(507)`) → a gRPC error. */
function replyError(reply: InferenceReply): Partial<grpc.StatusObject> {
  const text = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength).toString('utf8');
  return { code: grpcCode(reply.status), details: text || reply.statusText || `Status ${reply.status}` };
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

interface PredictionsRequestMsg {
  model_name: string;
  model_version: string;
  input: Record<string, Buffer>;
  sequenceId?: string;
}

function metadataHeaders(metadata: grpc.Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) {
    if (k === 'authorization') continue;
    headers[k] = typeof v === 'string' ? v : v.toString('utf8');
  }
  return headers;
}

function authorized(deps: GrpcDeps, metadata: grpc.Metadata): boolean {
  if (!deps.tokens) return true;
  const value = metadata.get('authorization')[0];
  const header = typeof value === 'string' ? value : value?.toString('utf8');
  return deps.tokens.allows('inference', header);
}

const denied = (): Partial<grpc.StatusObject> => ({ code: grpc.status.PERMISSION_DENIED, details: TOKEN_DENIED });

/** Resolves the model and submits the request; `onIntermediate` streams `sendIntermediate` replies. */
function submitPrediction(
  deps: GrpcDeps,
  msg: PredictionsRequestMsg,
  metadata: grpc.Metadata,
  abort: Cancellation,
  onIntermediate?: (reply: InferenceReply) => boolean,
): Promise<InferenceReply> {
  const name = msg.model_name;
  if (!name) throw new ServeError(400, 'BadRequestException', 'Parameter model_name is required.');
  const version = msg.model_version ? msg.model_version : undefined;
  const v = deps.registry.resolve(name, version);
  const parts: RequestPart[] = Object.entries(msg.input ?? {}).map(([key, data]) => ({ name: key, data }));
  const request: InferenceRequest = {
    parts,
    headers: { ...metadataHeaders(metadata), explain: 'False', url_path: '' },
  };
  return v.pool.submit(request, { explicitVersion: version !== undefined, signal: abort, ...(onIntermediate ? { onIntermediate } : {}) });
}

function inferenceService(deps: GrpcDeps): grpc.UntypedServiceImplementation {
  const maxResponse = deps.maxResponseSize ?? 6553500;
  const tooLarge = (size: number) =>
    new ServeError(
      500,
      'InternalServerException',
      `Response size ${size} bytes exceeds max_response_size (${maxResponse} bytes). Consider increasing the 'max_response_size' in 'config.properties' to fix.`,
    );
  return {
    Ping(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      if (!authorized(deps, call.metadata)) return callback(denied());
      const healthy = deps.registry.isHealthy();
      // TorchServe's Gson pretty form of {"status": …}.
      callback(null, { health: JSON.stringify({ status: healthy ? 'Healthy' : 'Unhealthy' }, null, 2) });
    },
    Predictions(call: grpc.ServerUnaryCall<PredictionsRequestMsg, unknown>, callback: grpc.sendUnaryData<unknown>) {
      if (!authorized(deps, call.metadata)) return callback(denied());
      const abort = new Cancellation();
      call.on('cancelled', () => abort.abort());
      let pending: Promise<InferenceReply>;
      try {
        pending = submitPrediction(deps, call.request, call.metadata, abort);
      } catch (err) {
        return callback(toGrpcError(err));
      }
      pending.then(
        (reply) => {
          if (reply.status >= 400) return callback(replyError(reply));
          if (reply.body.byteLength > maxResponse) return callback(toGrpcError(tooLarge(reply.body.byteLength)));
          callback(null, { prediction: asBuffer(reply.body) });
        },
        (err: unknown) => callback(toGrpcError(err)),
      );
    },
    StreamPredictions(call: grpc.ServerWritableStream<PredictionsRequestMsg, unknown>) {
      // grpc-js: a server stream ends with an error status through an 'error' event.
      const fail = (e: Partial<grpc.StatusObject>) => void call.emit('error', e);
      if (!authorized(deps, call.metadata)) return fail(denied());
      const abort = new Cancellation();
      call.on('cancelled', () => abort.abort());
      const onIntermediate = (reply: InferenceReply): boolean => {
        if (abort.aborted || call.cancelled) return false;
        if (reply.body.byteLength > 0) call.write({ prediction: asBuffer(reply.body) });
        return true;
      };
      let pending: Promise<InferenceReply>;
      try {
        pending = submitPrediction(deps, call.request, call.metadata, abort, onIntermediate);
      } catch (err) {
        return fail(toGrpcError(err));
      }
      pending.then(
        (reply) => {
          if (call.cancelled) return;
          if (reply.status >= 400) return fail(replyError(reply));
          if (reply.body.byteLength > 0) call.write({ prediction: asBuffer(reply.body) });
          call.end();
        },
        (err: unknown) => {
          if (!call.cancelled) fail(toGrpcError(err));
        },
      );
    },
    StreamPredictions2(call: grpc.ServerDuplexStream<PredictionsRequestMsg, unknown>) {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'StreamPredictions2 is not supported yet' });
    },
  };
}

let cachedDefinition: grpc.GrpcObject | undefined;

/** The loaded TorchServe inference package (also what tests build their clients from). */
export function loadInferencePackage(): grpc.GrpcObject {
  if (!cachedDefinition) {
    const def = protoLoader.loadSync(path.join(PROTO_DIR, 'inference.proto'), PROTO_LOADER_OPTIONS);
    cachedDefinition = grpc.loadPackageDefinition(def);
  }
  return cachedDefinition;
}

function serviceDefinition(pkg: grpc.GrpcObject, dotted: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const key of dotted.split('.')) node = (node as Record<string, unknown>)[key];
  return (node as grpc.ServiceClientConstructor).service;
}

/** Starts the gRPC inference listener; resolves once bound. */
export function startGrpc(deps: GrpcDeps): Promise<GrpcHandle> {
  const maxIn = deps.maxRequestSize ?? 6553500;
  const maxOut = deps.maxResponseSize ?? 6553500;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxIn,
    'grpc.max_send_message_length': maxOut,
  });
  const pkg = loadInferencePackage();
  server.addService(serviceDefinition(pkg, 'org.pytorch.serve.grpc.inference.InferenceAPIsService'), inferenceService(deps));
  const host = deps.address ?? '127.0.0.1';
  const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const port = deps.port ?? 7070;
  return new Promise((resolve, reject) => {
    server.bindAsync(`${bindHost}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) return reject(err);
      deps.log?.info(`gRPC Inference API bind to: ${host}:${bound}`);
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.forceShutdown(), 5000);
            server.tryShutdown(() => {
              clearTimeout(timer);
              done();
            });
          }),
      });
    });
  });
}
