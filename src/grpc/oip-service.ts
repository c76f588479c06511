/**
 * The Open Inference Protocol's gRPC service (KServe v2 / Triton `GRPCInferenceService`) on the
 * gRPC inference port, beside TorchServe's InferenceAPIsService, with the REST `/v2` routes'
 * semantics (http/oip/routes.ts): the same server metadata, readiness, model metadata and
 * inference, through the model's WorkerPool so gRPC requests join the same dynamic batches as
 * REST ones. Served under two names with one implementation: KServe's `inference.GRPCInferenceService`
 * (proto/open_inference_grpc.proto) and TorchServe's
 * `org.pytorch.serve.grpc.openinference.GRPCInferenceService` (proto/torchserve_open_inference_grpc.proto,
 * the same messages). Errors: a ServeError maps by TorchServe's table (status.ts): unknown model or
 * version NOT_FOUND, a bad request INVALID_ARGUMENT, no worker / not loaded UNAVAILABLE.
 */
import * as grpc from '@grpc/grpc-js';
import { badRequest, internalError, ServeError } from '../errors.js';
import type { CodecLimits } from '../http/oip/codec.js';
import { configuredInputs } from '../http/oip/infer.js';
import { isReady, modelMetadataOf, OIP_EXTENSIONS, SERVER_NAME, SERVER_VERSION, serverReady } from '../http/oip/routes.js';
import type { Logger } from '../logging.js';
import type { ModelVersion } from '../registry/model-version.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { InferenceRequest } from '../runtime/types.js';
import type { TokenAuthority } from '../security/tokens.js';
import type { ModelConfig } from '../wallaroo/catalog.js';
import { authorized, callSignal, counted, metadataHeaders, type GrpcArrivals } from './call.js';
import { decodeGrpcInfer, encodeGrpcOutputs, type ModelInferRequestMsg } from './oip-tensors.js';
import { PROTO_FILES, serviceEntry, type GrpcServiceEntry } from './protos.js';
import { replyError, toGrpcError, tokenDenied } from './status.js';

export interface OipServiceDeps {
  registry: ModelRegistry;
  /** `max_request_size`: also the cap on elements one tensor may declare (as the REST codec). */
  maxRequestSize: number;
  /** `max_response_size`. */
  maxResponseSize: number;
  /** Token authorization; undefined when disabled. These RPCs need the inference key. */
  tokens?: TokenAuthority | undefined;
  /** The version's Wallaroo-style configuration (tensor_fields, batch_config), as on REST. */
  modelConfig?: ((model: string, version: string) => ModelConfig | undefined) | undefined;
  /** The inference listener's arrival tracker: gRPC requests in flight count for busy polling. */
  arrivals?: GrpcArrivals | undefined;
  /** True while the server drains: ServerReady and ModelReady answer false (as /v2/health/ready does then). */
  draining?: (() => boolean) | undefined;
  log?: Logger | undefined;
}

/** KServe's service name (proto/open_inference_grpc.proto). */
export const OIP_SERVICE = 'inference.GRPCInferenceService';
/** TorchServe's name for the same service, and the proto file declaring it. */
export const OIP_TORCHSERVE_SERVICE = 'org.pytorch.serve.grpc.openinference.GRPCInferenceService';
export const OIP_TORCHSERVE_PROTO = PROTO_FILES.openInferenceTorchServe;

interface ModelRefMsg {
  name?: string;
  version?: string;
}

/** A handler's error reply (e.g. `context.setResponseStatus(507)`), sent as the status it maps to. */
class ReplyStatus extends Error {
  constructor(readonly status: Partial<grpc.StatusObject>) {
    super(status.details ?? 'error');
  }
}

/** Unexpected failures are logged; the client gets INTERNAL with the message. */
function statusOf(err: unknown, log: Logger | undefined, method: string): Partial<grpc.StatusObject> {
  if (err instanceof ReplyStatus) return err.status;
  if (!(err instanceof ServeError)) log?.error(`OIP gRPC ${method} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return toGrpcError(err);
}

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/** A unary handler: token check, then `answer` (sync or async); any throw becomes its gRPC status. */
function unary<Req>(deps: OipServiceDeps, method: string, answer: (call: grpc.ServerUnaryCall<Req, unknown>) => unknown): Unary {
  return (call, callback) => {
    if (!authorized(deps.tokens, 'inference', call.metadata)) return callback(tokenDenied());
    let result: unknown;
    try {
      result = answer(call as grpc.ServerUnaryCall<Req, unknown>);
    } catch (err) {
      return callback(statusOf(err, deps.log, method));
    }
    if (result instanceof Promise) {
      result.then(
        (value) => callback(null, value),
        (err: unknown) => callback(statusOf(err, deps.log, method)),
      );
    } else callback(null, result);
  };
}

function resolveRef(deps: OipServiceDeps, ref: ModelRefMsg): ModelVersion {
  if (!ref.name) throw badRequest('Parameter name is required.');
  return deps.registry.resolve(ref.name, ref.version ? ref.version : undefined);
}

/** The one implementation both service names share. */
export function oipImplementation(deps: OipServiceDeps): grpc.UntypedServiceImplementation {
  const limits: CodecLimits = { maxElements: deps.maxRequestSize };

  async function modelInfer(call: grpc.ServerUnaryCall<ModelInferRequestMsg, unknown>): Promise<unknown> {
    const msg = call.request;
    if (!msg.model_name) throw badRequest('Parameter model_name is required.');
    const version = msg.model_version ? msg.model_version : undefined;
    const v = deps.registry.resolve(msg.model_name, version);
    const decoded = decodeGrpcInfer(msg, limits);
    const tensors = configuredInputs(v, deps.modelConfig?.(v.name, v.version), decoded.inputs);
    const request: InferenceRequest = {
      parts: [],
      headers: { ...metadataHeaders(call.metadata), url_path: '', explain: 'False' },
      tensors,
    };
    if (decoded.outputNames) request.outputNames = decoded.outputNames;
    const { signal, done } = callSignal(call);
    let reply;
    try {
      reply = await counted(deps.arrivals, () => v.pool.submit(request, { explicitVersion: version !== undefined, signal }));
    } finally {
      done();
    }
    if (reply.status >= 400) throw new ReplyStatus(replyError(reply));
    if (!reply.tensors) throw internalError(`Model "${v.name}" answered without tensors: its handler does not return output tensors`);
    return {
      model_name: v.name,
      model_version: v.version,
      id: msg.id ?? '',
      ...encodeGrpcOutputs(reply.tensors, decoded.raw),
    };
  }

  return {
    ServerLive: unary(deps, 'ServerLive', () => ({ live: true })),

    ServerReady: unary(deps, 'ServerReady', () => ({ ready: !deps.draining?.() && serverReady(deps.registry) })),

    ModelReady: unary<ModelRefMsg>(deps, 'ModelReady', (call) => ({ ready: isReady(resolveRef(deps, call.request)) && !deps.draining?.() })),

    ServerMetadata: unary(deps, 'ServerMetadata', () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [...OIP_EXTENSIONS] })),

    ModelMetadata: unary<ModelRefMsg>(deps, 'ModelMetadata', (call) => modelMetadataOf(deps.registry, resolveRef(deps, call.request))),

    ModelInfer: unary<ModelInferRequestMsg>(deps, 'ModelInfer', modelInfer),
  };
}

/** `inference.GRPCInferenceService` and TorchServe's `org.pytorch.serve.grpc.openinference.GRPCInferenceService`. */
export function oipServices(deps: OipServiceDeps): GrpcServiceEntry[] {
  const implementation = oipImplementation(deps);
  return [serviceEntry(PROTO_FILES.openInference, OIP_SERVICE, implementation), serviceEntry(OIP_TORCHSERVE_PROTO, OIP_TORCHSERVE_SERVICE, implementation)];
}
