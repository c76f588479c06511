/**
 * The `.proto` files under `proto/` (written for onnxserve, wire-compatible with TorchServe's and
 * KServe's): loading them once, and finding a service in a loaded package.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** `proto/` at the package root: the same relative place from `src/grpc` and `dist/grpc`. */
export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** Proto files by the service they define. */
export const PROTO_FILES = {
  /** `org.pytorch.serve.grpc.inference.InferenceAPIsService` */
  inference: 'inference.proto',
  /** `org.pytorch.serve.grpc.management.ManagementAPIsService` */
  management: 'management.proto',
  /** `inference.GRPCInferenceService` (KServe/Triton). */
  openInference: 'open_inference_grpc.proto',
  /** TorchServe's name for the same service, `org.pytorch.serve.grpc.openinference.GRPCInferenceService` (same messages). */
  openInferenceTorchServe: 'torchserve_open_inference_grpc.proto',
  /** `grpc.health.v1.Health`, the standard health checking protocol. */
  health: 'grpc/health/v1/health.proto',
} as const;

const loaded = new Map<string, grpc.GrpcObject>();

/** A loaded proto file (cached); tests build their clients from the same objects. */
export function loadProto(file: string, options: protoLoader.Options = PROTO_LOADER_OPTIONS): grpc.GrpcObject {
  const key = options === PROTO_LOADER_OPTIONS ? file : `${file}#${JSON.stringify(options)}`;
  let pkg = loaded.get(key);
  if (!pkg) {
    pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, file), options));
    loaded.set(key, pkg);
  }
  return pkg;
}

/** `a.b.Service` in a loaded package → its client constructor (which carries `.service`). */
export function serviceClient(pkg: grpc.GrpcObject, dotted: string): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const key of dotted.split('.')) node = (node as Record<string, unknown> | undefined)?.[key];
  if (typeof node !== 'function') throw new Error(`no service ${dotted} in the loaded protos`);
  return node as grpc.ServiceClientConstructor;
}

/** One service a listener serves: its definition and the handlers. */
export interface GrpcServiceEntry {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export function serviceEntry(file: string, dotted: string, implementation: grpc.UntypedServiceImplementation): GrpcServiceEntry {
  return { definition: serviceClient(loadProto(file), dotted).service, implementation };
}
