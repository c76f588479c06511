/**
 * A closed-loop load over gRPC (grpc-js, the client generated from the server's own protos), the
 * twin of load.ts's closedLoop: `concurrency` loops each with one call in flight, for a fixed time
 * after a warm-up, every reply counted and the first one checked. All loops share one channel (one
 * HTTP/2 connection, calls multiplexed), which is how gRPC clients are used.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { loadProto, serviceClient } from '../src/grpc/protos.js';
import { loadResult, type LoadResult } from './load.js';

export interface GrpcTarget {
  /** `host:port` */
  address: string;
  protoFile: string;
  /** Dotted service name, e.g. `org.pytorch.serve.grpc.inference.InferenceAPIsService`. */
  service: string;
  method: string;
  request: object;
  /** Validates the first reply (throws to fail the scenario). */
  check?: (reply: unknown) => void;
}

export interface GrpcLoadOptions extends GrpcTarget {
  concurrency: number;
  durationS: number;
  warmup?: number;
  keepSamples?: boolean;
}

type Unary = (req: object, cb: (err: grpc.ServiceError | null, value?: unknown) => void) => void;

/** One client (channel) for a target; close it when done. */
export function grpcClient(t: Pick<GrpcTarget, 'address' | 'protoFile' | 'service'>): grpc.Client & Record<string, Unary> {
  const Ctor = serviceClient(loadProto(t.protoFile), t.service);
  return new Ctor(t.address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 }) as unknown as grpc.Client & Record<string, Unary>;
}

export function grpcCall(client: Record<string, Unary>, method: string, request: object): Promise<unknown> {
  return new Promise((resolve, reject) => client[method]!.call(client, request, (err, value) => (err ? reject(err) : resolve(value))));
}

async function drive(client: Record<string, Unary>, o: GrpcLoadOptions, durationS: number, check?: (r: unknown) => void) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let checked = check === undefined;
  const start = performance.now();
  const endAt = start + durationS * 1000;
  const loop = async () => {
    while (performance.now() < endAt) {
      const t0 = performance.now();
      try {
        const r = await grpcCall(client, o.method, o.request);
        latencies.push(performance.now() - t0);
        if (!checked) {
          checked = true;
          check!(r);
        }
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  return { latencies, wallS: (performance.now() - start) / 1000, errors, firstError };
}

export async function grpcClosedLoop(o: GrpcLoadOptions): Promise<LoadResult> {
  const client = grpcClient(o);
  try {
    if (o.warmup && o.warmup > 0) await drive(client, o, o.warmup);
    const run = await drive(client, o, o.durationS, o.check);
    if (run.latencies.length === 0) throw new Error(`every gRPC ${o.method} to ${o.address} failed: ${run.firstError}`);
    return loadResult(o.concurrency, run, o.keepSamples);
  } finally {
    client.close();
  }
}
