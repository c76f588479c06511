/**
 * Open Inference Protocol v2 REST on the inference port (KServe's v2 data plane, as Triton serves
 * it): server metadata and health, model metadata and readiness, inference (JSON and the binary
 * tensor extension) and Triton's statistics extension. Errors are thrown as ServeErrors and
 * rendered as `{"error": ...}` by the listener (oip/errors.ts).
 */
import fs from 'node:fs';
import { ServeError, methodNotAllowed, resourceNotFound, serviceUnavailable } from '../../errors.js';
import type { ModelRegistry } from '../../registry/registry.js';
import type { ModelVersion } from '../../registry/model-version.js';
import type { TensorMeta } from '../../runtime/types.js';
import type { HttpResult } from '../reply.js';
import type { RouteContext } from '../route-context.js';
import type { CodecLimits } from './codec.js';
import { metadataDatatype } from './datatypes.js';
import { oipJson } from './errors.js';
import { decodeInferBody, runInfer } from './infer.js';
import type { ModelConfig } from '../../wallaroo/catalog.js';

/**
 * Exactly the extensions implemented. `model_repository` lives on the management port (as every
 * model-changing API of TorchServe does); the inference port points there.
 */
export const OIP_EXTENSIONS = ['binary_tensor_data', 'statistics', 'model_repository'] as const;

export const SERVER_NAME = 'onnxserve';

/** The package version (read once; `0.0.0` if package.json cannot be read). */
export const SERVER_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export const ONNX_PLATFORM = 'onnxruntime_onnx';

export interface OipDeps {
  registry: ModelRegistry;
  maxRequestSize: number;
  modelConfig?: (model: string, version: string) => ModelConfig | undefined;
}

/** OIP shapes: fixed dims as they are, symbolic or unknown dims as -1. */
export const metadataShape = (shape: TensorMeta['shape']): number[] => shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));

const tensorMetadata = (m: TensorMeta) => ({ name: m.name, datatype: metadataDatatype(m.type), shape: metadataShape(m.shape) });

/** The model metadata object (REST and gRPC); 503 before a worker has loaded the model. */
export function modelMetadataOf(registry: ModelRegistry, v: ModelVersion) {
  const sig = v.signature();
  if (!sig) throw serviceUnavailable(`Model "${v.name}" version ${v.version} has not been loaded by a worker yet, so its inputs and outputs are not known`);
  return {
    name: v.name,
    versions: registry.allVersions(v.name).map((x) => x.version),
    platform: ONNX_PLATFORM,
    inputs: sig.inputs.map(tensorMetadata),
    outputs: sig.outputs.map(tensorMetadata),
  };
}

const modelMetadata = (deps: OipDeps, v: ModelVersion): HttpResult => oipJson(modelMetadataOf(deps.registry, v));

/** A model version can serve when a worker is ready. */
export const isReady = (v: ModelVersion) => v.pool.readyWorkers() > 0;

/**
 * Server readiness: every model's default version has at least its `minWorkers` workers ready
 * (and at least one, when minWorkers > 0) — false while start-up workers are still loading.
 */
export function serverReady(registry: ModelRegistry): boolean {
  return registry.listDefaults().every((v) => v.pool.readyWorkers() >= v.settings.minWorkers);
}

/** 200 when true, 503 when false (so a Kubernetes probe can use the endpoint), with the JSON body either way. */
const probe = (value: Record<string, unknown>, ok: boolean) => oipJson(value, ok ? 200 : 503);

function stats(versions: ModelVersion[]): HttpResult {
  return oipJson({ model_stats: versions.map((v) => ({ name: v.name, version: v.version, ...v.pool.inferenceStats() })) });
}

function requireMethod(ctx: RouteContext, method: 'GET' | 'POST'): void {
  if (ctx.method !== method && !(method === 'GET' && ctx.method === 'HEAD')) throw methodNotAllowed();
}

/** `rest`: the segments after `v2`. */
export function oipRouter(deps: OipDeps): (ctx: RouteContext, rest: string[]) => Promise<HttpResult> {
  const limits: CodecLimits = { maxElements: deps.maxRequestSize };
  return async (ctx, rest) => {
    const [first, model, ...tail] = rest;
    if (first === undefined) {
      requireMethod(ctx, 'GET');
      return oipJson({ name: SERVER_NAME, version: SERVER_VERSION, extensions: OIP_EXTENSIONS });
    }
    if (first === 'health' && rest.length === 2) {
      requireMethod(ctx, 'GET');
      if (model === 'live') return oipJson({ live: true });
      if (model === 'ready') {
        const ready = serverReady(deps.registry);
        return probe({ ready }, ready);
      }
      throw resourceNotFound();
    }
    if (first === 'repository') {
      throw new ServeError(404, 'ResourceNotFoundException', 'The model repository API (/v2/repository/...) is served on the management port');
    }
    if (first !== 'models' || model === undefined) throw resourceNotFound();
    if (model === 'stats' && tail.length === 0) {
      requireMethod(ctx, 'GET');
      return stats(deps.registry.allRegistered());
    }
    // /v2/models/{m}[/versions/{v}][/ready|/infer|/stats]
    let version: string | undefined;
    let action: string | undefined;
    if (tail[0] === 'versions') {
      if (tail.length < 2 || tail.length > 3) throw resourceNotFound();
      version = tail[1];
      action = tail[2];
    } else {
      if (tail.length > 1) throw resourceNotFound();
      action = tail[0];
    }
    const explicitVersion = version !== undefined;
    switch (action) {
      case undefined:
        requireMethod(ctx, 'GET');
        return modelMetadata(deps, deps.registry.resolve(model, version));
      case 'ready': {
        requireMethod(ctx, 'GET');
        const ready = isReady(deps.registry.resolve(model, version));
        return probe({ name: model, ready }, ready);
      }
      case 'infer': {
        requireMethod(ctx, 'POST');
        const v = deps.registry.resolve(model, version);
        return runInfer(ctx, v, decodeInferBody(ctx, v, limits), { explicitVersion, modelConfig: deps.modelConfig?.(v.name, v.version) });
      }
      case 'stats':
        requireMethod(ctx, 'GET');
        return stats(explicitVersion ? [deps.registry.resolve(model, version)] : deps.registry.allVersions(model));
      default:
        throw resourceNotFound();
    }
  };
}
