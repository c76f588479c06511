/**
 * TorchServe's gRPC inference service (`org.pytorch.serve.grpc.inference.InferenceAPIsService`):
 * Ping, Predictions, StreamPredictions (a handler's `send_intermediate_predict_response` replies
 * stream as messages) and StreamPredictions2 (a bidirectional sequence: each request answered in
 * order, errors as a per-message `status` so the stream lives on), with the REST routes'
 * semantics. As TorchServe: a request that fails before it reaches a model (no model name, model
 * or version not found) is INTERNAL with the REST message; a reply with an error status maps
 * through GRPCUtils' table (status.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { responseTooLarge } from '../http/inference.js';
import type { Logger } from '../logging.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { CancelSignal, InferenceReply, InferenceRequest, RequestPart } from '../runtime/types.js';
import type { TokenAuthority } from '../security/tokens.js';
import { authorized, callSignal, counted, metadataHeaders, type GrpcArrivals } from './call.js';
import { PROTO_FILES, serviceEntry, type GrpcServiceEntry } from './protos.js';
import { replyError, toGrpcError, tokenDenied } from './status.js';

export interface InferenceServiceDeps {
  registry: ModelRegistry;
  /** Largest reply body in bytes (`max_response_size`). */
  maxResponseSize: number;
  /** Token authorization; undefined when disabled. Inference RPCs need the inference key. */
  tokens?: TokenAuthority | undefined;
  /** The inference listener's arrival tracker: gRPC requests in flight count for busy polling. */
  arrivals?: GrpcArrivals | undefined;
  /** True while the server drains: Ping answers Unhealthy (as /ping does then). */
  draining?: (() => boolean) | undefined;
  log?: Logger | undefined;
}

export interface PredictionsRequestMsg {
  model_name: string;
  model_version: string;
  /** Buffers, except an entry sent without a value (see bytesOf). */
  input: Record<string, Buffer | number[]>;
  sequenceId?: string;
}

interface PredictionMsg {
  prediction?: Buffer;
  sequenceId?: string;
  status?: { code: number; message: string; details: unknown[] };
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * A map value as bytes: a map entry sent without its value decodes as protobufjs' default for
 * bytes, an empty array, not a Buffer (found by test/security/grpc-fuzz.test.ts).
 */
const bytesOf = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : Array.isArray(v) ? Uint8Array.from(v as number[]) : new Uint8Array(0));

/** Failures before the request reaches a model: INTERNAL with the REST message, as TorchServe's InferenceImpl. */
class LookupError extends Error {}

/** Resolves the model and submits the request; `onIntermediate` streams `sendIntermediate` replies. */
function submitPrediction(
  deps: InferenceServiceDeps,
  msg: PredictionsRequestMsg,
  metadata: grpc.Metadata,
  signal: CancelSignal,
  onIntermediate?: (reply: InferenceReply) => boolean,
): Promise<InferenceReply> {
  const name = msg.model_name;
  if (!name) throw new LookupError('Parameter model_name is required.');
  const version = msg.model_version ? msg.model_version : undefined;
  let v;
  try {
    v = deps.registry.resolve(name, version);
  } catch (err) {
    throw new LookupError(err instanceof Error ? err.message : String(err));
  }
  const parts: RequestPart[] = Object.entries(msg.input ?? {}).map(([key, data]) => ({ name: key, data: bytesOf(data) }));
  const headers: Record<string, string> = { ...metadataHeaders(metadata), explain: 'False', url_path: '' };
  if (msg.sequenceId) headers.sequence_id = msg.sequenceId;
  const request: InferenceRequest = { parts, headers };
  const pool = v.pool;
  return counted(deps.arrivals, () => pool.submit(request, { explicitVersion: version !== undefined, signal, ...(onIntermediate ? { onIntermediate } : {}) }));
}

function statusOf(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof LookupError) return { code: grpc.status.INTERNAL, details: err.message };
  return toGrpcError(err);
}

export function inferenceService(deps: InferenceServiceDeps): GrpcServiceEntry {
  const maxResponse = deps.maxResponseSize;
  /** The final reply as a message, or the error status it stands for. */
  const finalMessage = (reply: InferenceReply): PredictionMsg | Partial<grpc.StatusObject> => {
    if (reply.status >= 400) return replyError(reply);
    // As a reply grpc-js refuses to send (max_send_message_length): RESOURCE_EXHAUSTED, with the REST text.
    if (reply.body.byteLength > maxResponse) return { code: grpc.status.RESOURCE_EXHAUSTED, details: responseTooLarge(reply.body.byteLength, maxResponse).message };
    return { prediction: asBuffer(reply.body) };
  };
  const isStatus = (m: PredictionMsg | Partial<grpc.StatusObject>): m is Partial<grpc.StatusObject> => 'code' in m;

  const implementation: grpc.UntypedServiceImplementation = {
    Ping(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      if (!authorized(deps.tokens, 'inference', call.metadata)) return callback(tokenDenied());
      const healthy = !deps.draining?.() && deps.registry.isHealthy();
      // TorchServe's Gson pretty form of {"status": …}.
      callback(null, { health: JSON.stringify({ status: healthy ? 'Healthy' : 'Unhealthy' }, null, 2) });
    },

    Predictions(call: grpc.ServerUnaryCall<PredictionsRequestMsg, unknown>, callback: grpc.sendUnaryData<unknown>) {
      if (!authorized(deps.tokens, 'inference', call.metadata)) return callback(tokenDenied());
      const { signal, done } = callSignal(call);
      let pending: Promise<InferenceReply>;
      try {
        pending = submitPrediction(deps, call.request, call.metadata, signal);
      } catch (err) {
        done();
        return callback(statusOf(err));
      }
      pending.then(
        (reply) => {
          done();
          const m = finalMessage(reply);
          if (isStatus(m)) callback(m);
          else callback(null, m);
        },
        (err: unknown) => {
          done();
          callback(statusOf(err));
        },
      );
    },

    StreamPredictions(call: grpc.ServerWritableStream<PredictionsRequestMsg, unknown>) {
      // grpc-js: a server stream ends with an error status through an 'error' event.
      const fail = (e: Partial<grpc.StatusObject>) => void call.emit('error', e);
      if (!authorized(deps.tokens, 'inference', call.metadata)) return fail(tokenDenied());
      const { signal, done } = callSignal(call);
      const onIntermediate = (reply: InferenceReply): boolean => {
        if (signal.aborted || call.cancelled) return false;
        if (reply.status >= 400) return false;
        call.write({ prediction: asBuffer(reply.body) });
        return true;
      };
      let pending: Promise<InferenceReply>;
      try {
        pending = submitPrediction(deps, call.request, call.metadata, signal, onIntermediate);
      } catch (err) {
        done();
        return fail(statusOf(err));
      }
      pending.then(
        (reply) => {
          done();
          if (call.cancelled) return;
          const m = finalMessage(reply);
          if (isStatus(m)) return fail(m);
          call.write(m);
          call.end();
        },
        (err: unknown) => {
          done();
          if (!call.cancelled) fail(statusOf(err));
        },
      );
    },

    StreamPredictions2(call: grpc.ServerDuplexStream<PredictionsRequestMsg, unknown>) {
      if (!authorized(deps.tokens, 'inference', call.metadata)) return void call.emit('error', tokenDenied());
      const { signal, done } = callSignal(call);
      // One sequence: requests answered in the order they came, one at a time (TorchServe's job group).
      let chain: Promise<void> = Promise.resolve();
      const send = (m: PredictionMsg) => {
        if (!call.cancelled && !call.writableEnded) call.write(m);
      };
      const sendError = (sequenceId: string | undefined, e: Partial<grpc.StatusObject>) =>
        send({ ...(sequenceId ? { sequenceId } : {}), status: { code: e.code ?? grpc.status.INTERNAL, message: e.details ?? '', details: [] } });
      call.on('data', (msg: PredictionsRequestMsg) => {
        chain = chain.then(async () => {
          if (signal.aborted) return;
          const sequenceId = msg.sequenceId || undefined;
          if (!sequenceId) return sendError(undefined, { code: grpc.status.INTERNAL, details: 'Parameter sequenceId is required.' });
          const onIntermediate = (reply: InferenceReply): boolean => {
            if (signal.aborted || call.cancelled) return false;
            if (reply.status < 400) send({ prediction: asBuffer(reply.body), sequenceId });
            return true;
          };
          try {
            const reply = await submitPrediction(deps, msg, call.metadata, signal, onIntermediate);
            const m = finalMessage(reply);
            if (isStatus(m)) sendError(sequenceId, m);
            else send({ ...m, sequenceId });
          } catch (err) {
            sendError(sequenceId, statusOf(err));
          }
        });
      });
      call.on('end', () => {
        void chain.then(() => {
          done();
          if (!call.cancelled) call.end();
        });
      });
      call.on('error', () => signal.abort());
    },
  };
  return serviceEntry(PROTO_FILES.inference, 'org.pytorch.serve.grpc.inference.InferenceAPIsService', implementation);
}
