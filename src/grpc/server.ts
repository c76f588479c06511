/**
 * The gRPC listeners (spec Appendix B), each on its own address like TorchServe's:
 * - inference (`grpc_inference_address`:`grpc_inference_port`, default 127.0.0.1:7070): TorchServe's
 *   InferenceAPIsService and the Open Inference Protocol's GRPCInferenceService (under KServe's
 *   package `inference` and TorchServe's `org.pytorch.serve.grpc.openinference`);
 * - management (`grpc_management_address`:`grpc_management_port`, default 127.0.0.1:7071):
 *   TorchServe's ManagementAPIsService.
 * Both loopback by default (CVE-2024-35199 was these ports on all interfaces), messages capped by
 * `max_request_size`/`max_response_size`, TLS with `enable_grpc_ssl`.
 */
import * as grpc from '@grpc/grpc-js';
import { SHUTTING_DOWN } from '../errors.js';
import type { Logger } from '../logging.js';
import type { GrpcServiceEntry } from './protos.js';

export interface GrpcTls {
  key: Buffer;
  cert: Buffer;
}

/**
 * The graceful drain as the gRPC side sees it (app.ts): while `draining()`, new calls are refused
 * with UNAVAILABLE (a client retries elsewhere) except the health probes, which answer not-ready
 * themselves; each unary call is counted in flight (`enter()` returns its `leave`) so the drain waits
 * for it as for an HTTP request.
 */
export interface GrpcGate {
  draining(): boolean;
  enter(): () => void;
}

/** Health probes answer during a drain (with their not-ready answers) instead of being refused. */
const PROBES = new Set(['Ping', 'ServerLive', 'ServerReady', 'ModelReady', 'Check', 'Watch']);

type UnaryHandler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;
type StreamHandler = (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => void;

/** `implementation` with the drain gate in front of every method. */
export function gated(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, gate: GrpcGate): grpc.UntypedServiceImplementation {
  const refused = { code: grpc.status.UNAVAILABLE, details: SHUTTING_DOWN };
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = implementation[name];
    if (!handler) continue;
    if (PROBES.has(name)) {
      out[name] = handler;
    } else if (!method.requestStream && !method.responseStream) {
      const unary = handler as UnaryHandler;
      out[name] = ((call, callback) => {
        if (gate.draining()) return callback(refused);
        const leave = gate.enter();
        unary(call, (err, value, trailer, flags) => {
          leave();
          callback(err, value, trailer, flags);
        });
      }) as UnaryHandler;
    } else {
      // Streams are not counted (their end has no single event); the listener's close waits for them.
      const stream = handler as StreamHandler;
      out[name] = ((call) => {
        if (gate.draining()) return void call.emit('error', refused);
        stream(call);
      }) as StreamHandler;
    }
  }
  return out;
}

export interface GrpcListenerOptions {
  /** Host to bind; never all interfaces unless configured so. */
  address: string;
  /** 0 for any free port. */
  port: number;
  /** Largest inbound message in bytes (`max_request_size`). */
  maxRequestSize: number;
  /** Largest outbound message in bytes (`max_response_size`). */
  maxResponseSize: number;
  /** Serve TLS (`enable_grpc_ssl`) with this PEM pair; plaintext (h2c) when undefined. */
  tls?: GrpcTls | undefined;
  /** `grpc_*_max_connection_age_ms` / `..._grace_ms`; unset = infinite, as TorchServe. */
  maxConnectionAgeMs?: number | undefined;
  maxConnectionAgeGraceMs?: number | undefined;
  /** The graceful drain (refuse new calls, count calls in flight); none: always open. */
  gate?: GrpcGate | undefined;
  log?: Logger | undefined;
}

export interface GrpcHandle {
  port: number;
  close(): Promise<void>;
}

/** How long a graceful gRPC shutdown waits for calls in progress before cutting them. */
const SHUTDOWN_GRACE_MS = 5000;

/** Starts one gRPC listener serving `services`; resolves once bound. */
export function startGrpcListener(services: readonly GrpcServiceEntry[], opts: GrpcListenerOptions): Promise<GrpcHandle> {
  const channelOptions: grpc.ServerOptions = {
    'grpc.max_receive_message_length': opts.maxRequestSize,
    'grpc.max_send_message_length': opts.maxResponseSize,
  };
  if (opts.maxConnectionAgeMs !== undefined && opts.maxConnectionAgeMs > 0) channelOptions['grpc.max_connection_age_ms'] = opts.maxConnectionAgeMs;
  if (opts.maxConnectionAgeGraceMs !== undefined && opts.maxConnectionAgeGraceMs > 0) channelOptions['grpc.max_connection_age_grace_ms'] = opts.maxConnectionAgeGraceMs;
  const server = new grpc.Server(channelOptions);
  for (const s of services) server.addService(s.definition, opts.gate ? gated(s.definition, s.implementation, opts.gate) : s.implementation);
  const host = opts.address;
  const bindHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const credentials = opts.tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }], false)
    : grpc.ServerCredentials.createInsecure();
  return new Promise((resolve, reject) => {
    server.bindAsync(`${bindHost}:${opts.port}`, credentials, (err, bound) => {
      if (err) return reject(err);
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
            server.tryShutdown(() => {
              clearTimeout(timer);
              done();
            });
          }),
      });
    });
  });
}
