/**
 * Errors on the gRPC APIs: a ServeError (the REST status and message) becomes the gRPC status
 * TorchServe's gRPC handlers send, its details the REST message.
 */
import * as grpc from '@grpc/grpc-js';
import { ServeError } from '../errors.js';
import type { InferenceReply } from '../runtime/types.js';

export const TOKEN_DENIED = 'Token Authorization failed. Token either incorrect, expired, or not provided correctly';
/** TorchServe's GRPCInterceptor text for register/unregister while `enable_model_api=false`. */
export const MODEL_API_DISABLED = 'Model API disabled';

/** REST status → gRPC status code, exactly TorchServe's GRPCUtils.getGRPCStatusCode. */
export function grpcCode(status: number): grpc.status {
  switch (status) {
    case 400:
      return grpc.status.INVALID_ARGUMENT;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.NOT_FOUND;
    case 409:
      return grpc.status.ABORTED;
    case 413:
    case 429:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 416:
      return grpc.status.OUT_OF_RANGE;
    case 499:
      return grpc.status.CANCELLED;
    case 501:
      return grpc.status.UNIMPLEMENTED;
    case 503:
      return grpc.status.UNAVAILABLE;
    case 504:
      return grpc.status.DEADLINE_EXCEEDED;
    default:
      if (status >= 200 && status < 300) return grpc.status.OK;
      if (status >= 400 && status < 500) return grpc.status.FAILED_PRECONDITION;
      if (status >= 500 && status < 600) return grpc.status.INTERNAL;
      return grpc.status.UNKNOWN;
  }
}

export function toGrpcError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof ServeError) return { code: grpcCode(err.status), details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** A handler reply with an error status (e.g. `context.setResponseStatus(507)`) → a gRPC error. */
export function replyError(reply: InferenceReply): Partial<grpc.StatusObject> {
  const text = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength).toString('utf8');
  return { code: grpcCode(reply.status), details: text || reply.statusText || `Status ${reply.status}` };
}

export const tokenDenied = (): Partial<grpc.StatusObject> => ({ code: grpc.status.PERMISSION_DENIED, details: TOKEN_DENIED });
export const modelApiDisabled = (): Partial<grpc.StatusObject> => ({ code: grpc.status.PERMISSION_DENIED, details: MODEL_API_DISABLED });
