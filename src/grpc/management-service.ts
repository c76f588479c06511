/**
 * TorchServe's gRPC management service (`org.pytorch.serve.grpc.management.ManagementAPIsService`,
 * TorchServe's ManagementImpl): DescribeModel, ListModels, RegisterModel, ScaleWorker, SetDefault
 * and UnregisterModel, each with the semantics and texts of the REST route it mirrors.
 *
 * As TorchServe:
 * - every RPC needs the management key when token authorization is on (GRPCInterceptor), checked
 *   first; RegisterModel and UnregisterModel are then refused while `enable_model_api=false`
 *   (PERMISSION_DENIED "Model API disabled"); the other four are not gated;
 * - describe and list answer the REST JSON in Gson's pretty form (no trailing newline); register,
 *   scale, set-default and unregister answer the bare status text (`StatusResponse.getStatus()`);
 * - unset fields take the REST defaults (GRPCUtils.getRegisterParam: "" or a non-positive int
 *   means "not given"); `synchronous` is the proto's false when not sent;
 * - errors map the REST status through GRPCUtils' table (status.ts), details the REST message;
 *   a customized describe that cannot find its model is INTERNAL.
 * Register, unregister, scale and set-default calls (allowed, refused or failed) are audited as on
 * the REST listener.
 */
import { isIP } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { ServerConfig } from '../config/types.js';
import { ServeError, badRequest, modelNotFound } from '../errors.js';
import { modelListPage } from '../http/management.js';
import { torchServeJson } from '../http/reply.js';
import type { Logger } from '../logging.js';
import { defaultRegisterRequest, type ModelRegistry, type RegisterRequest } from '../registry/registry.js';
import { UNSET_BATCH_SIZE, UNSET_MAX_BATCH_DELAY, UNSET_TIMEOUT } from '../registry/settings.js';
import type { AuditLog } from '../security/audit.js';
import type { TokenAuthority } from '../security/tokens.js';
import { authorizationOf, authorized } from './call.js';
import { PROTO_FILES, serviceEntry, type GrpcServiceEntry } from './protos.js';
import { MODEL_API_DISABLED, TOKEN_DENIED, modelApiDisabled, toGrpcError, tokenDenied } from './status.js';

export interface ManagementServiceDeps {
  registry: ModelRegistry;
  config: ServerConfig;
  /** Token authorization; undefined when disabled. These RPCs need the management key. */
  tokens?: TokenAuthority | undefined;
  /** Register, unregister, scale and set-default calls (allowed, refused or failed) are audited as on REST. */
  audit?: AuditLog | undefined;
  log?: Logger | undefined;
}

/** The messages of management.proto, as proto-loader decodes them (keepCase, defaults). */
export interface ManagementResponseMsg {
  msg: string;
}
export interface DescribeModelMsg {
  model_name?: string;
  model_version?: string;
  customized?: boolean;
}
export interface ListModelsMsg {
  limit?: number;
  next_page_token?: number;
}
export interface RegisterModelMsg {
  batch_size?: number;
  handler?: string;
  initial_workers?: number;
  max_batch_delay?: number;
  model_name?: string;
  response_timeout?: number;
  runtime?: string;
  synchronous?: boolean;
  url?: string;
  s3_sse_kms?: boolean;
  queue_timeout?: number;
}
export interface ScaleWorkerMsg {
  model_name?: string;
  model_version?: string;
  max_worker?: number;
  min_worker?: number;
  number_gpu?: number;
  synchronous?: boolean;
  timeout?: number;
}
export interface SetDefaultMsg {
  model_name?: string;
  model_version?: string;
}
export interface UnregisterModelMsg {
  model_name?: string;
  model_version?: string;
}

/** GRPCUtils.getRegisterParam: an empty string is "not given". */
const given = (s: string | undefined): string | undefined => (s ? s : undefined);
/** GRPCUtils.getRegisterParam: a non-positive int is "not given". */
const positive = (n: number | undefined, fallback: number): number => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback);

/** Gson pretty printing as TorchServe's gRPC replies use it (the REST form without its trailing newline). */
export function gsonPretty(value: unknown): string {
  return torchServeJson(value).replace(/\n$/, '');
}

/** RegisterModelRequest → the registry's request, with the REST defaults for unset fields. */
export function registerRequestOf(msg: RegisterModelMsg, config: ServerConfig): RegisterRequest {
  const url = given(msg.url);
  if (!url) throw badRequest('Parameter url is required.');
  const base = defaultRegisterRequest(url, config);
  // s3_sse_kms and queue_timeout are accepted and ignored (no S3 downloads, no queue timeout here).
  return {
    url,
    modelName: given(msg.model_name),
    handler: given(msg.handler),
    runtime: given(msg.runtime),
    batchSize: positive(msg.batch_size, UNSET_BATCH_SIZE),
    maxBatchDelay: positive(msg.max_batch_delay, UNSET_MAX_BATCH_DELAY),
    initialWorkers: positive(msg.initial_workers, base.initialWorkers),
    synchronous: msg.synchronous === true,
    responseTimeout: positive(msg.response_timeout, UNSET_TIMEOUT),
    startupTimeout: UNSET_TIMEOUT,
  };
}

/** ApiUtils.getModelList: default versions sorted by name, paged; 0 (unset) or > 100 means 100. */
export function modelList(registry: ModelRegistry, limitIn: number | undefined, tokenIn: number | undefined): Record<string, unknown> {
  let limit = typeof limitIn === 'number' && Number.isInteger(limitIn) ? limitIn : 0;
  if (limit <= 0 || limit > 100) limit = 100;
  let token = typeof tokenIn === 'number' && Number.isInteger(tokenIn) ? tokenIn : 0;
  if (token < 0) token = 0;
  return modelListPage(registry, limit, token);
}

/** The client address of a call without its port (`call.getPeer()` is `addr:port`, IPv6 unbracketed). */
export function peerAddress(peer: string): string {
  let addr = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (bracketed?.[1]) addr = bracketed[1];
  else {
    const m = /^(.*):\d+$/.exec(addr);
    if (m?.[1] && isIP(m[1]) !== 0) addr = m[1];
  }
  return addr.replace(/^::ffff:/, '');
}

/** What an RPC answered: the reply text and the REST status it stands for. */
interface Answer {
  msg: string;
  status: number;
}

interface AuditTarget {
  action: 'register' | 'unregister' | 'scale' | 'set-default';
  model: string | null;
  version: string | null;
}

interface RpcSpec<Req> {
  /** Audited RPCs: the action and its model/version. */
  audit?: (req: Req) => AuditTarget;
  /** Refused while `enable_model_api=false` (register, unregister). */
  gated?: boolean;
  run(req: Req): Promise<Answer> | Answer;
}

export function managementServices(deps: ManagementServiceDeps): GrpcServiceEntry[] {
  const { registry, config } = deps;

  function rpc<Req>(spec: RpcSpec<Req>): grpc.handleUnaryCall<Req, ManagementResponseMsg> {
    return (call, callback) => {
      const target = spec.audit?.(call.request);
      const record = (status: number, reason: string | null) => {
        if (!target || !deps.audit) return;
        deps.audit.append({
          remote: peerAddress(call.getPeer()),
          key: deps.tokens ? deps.tokens.presentedKey(authorizationOf(call.metadata)) : 'disabled',
          action: target.action,
          model: target.model,
          version: target.version,
          outcome: status < 400 ? 'success' : status < 500 ? 'refused' : 'failed',
          status,
          reason,
        });
      };
      // REST-equivalent statuses of the refusals: the listener's 400 InvalidKeyException and 405 gate.
      if (!authorized(deps.tokens, 'management', call.metadata)) {
        record(400, TOKEN_DENIED);
        return callback(tokenDenied());
      }
      if (spec.gated && !config.enableModelApi) {
        record(405, MODEL_API_DISABLED);
        return callback(modelApiDisabled());
      }
      let pending: Promise<Answer>;
      try {
        pending = Promise.resolve(spec.run(call.request));
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (answer) => {
          record(answer.status, null);
          callback(null, { msg: answer.msg });
        },
        (err: unknown) => {
          if (!(err instanceof ServeError)) deps.log?.error(`gRPC management call failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          const status = toGrpcError(err);
          record(err instanceof ServeError ? err.status : 500, status.details ?? null);
          callback(status);
        },
      );
    };
  }

  const implementation: grpc.UntypedServiceImplementation = {
    DescribeModel: rpc<DescribeModelMsg>({
      run: (req) => {
        const name = req.model_name ?? '';
        const version = given(req.model_version);
        if (version === 'all' || req.customized !== true) {
          const list = version === 'all' ? registry.allVersions(name).map((v) => v.describe(false)) : [registry.resolve(name, version).describe(false)];
          return { msg: gsonPretty(list), status: 200 };
        }
        // TorchServe sends the customized describe to the backend as a job: a lookup failure there is INTERNAL.
        let v;
        try {
          v = registry.resolve(name, version);
        } catch (err) {
          if (err instanceof ServeError) throw new ServeError(500, err.type, err.message);
          throw err;
        }
        return { msg: gsonPretty([v.describe(true)]), status: 200 };
      },
    }),

    ListModels: rpc<ListModelsMsg>({
      run: (req) => ({ msg: gsonPretty(modelList(registry, req.limit, req.next_page_token)), status: 200 }),
    }),

    RegisterModel: rpc<RegisterModelMsg>({
      gated: true,
      audit: (req) => ({ action: 'register', model: given(req.model_name) ?? given(req.url) ?? null, version: null }),
      run: async (req) => {
        const outcome = await registry.register(registerRequestOf(req, config));
        return { msg: outcome.message, status: outcome.status };
      },
    }),

    ScaleWorker: rpc<ScaleWorkerMsg>({
      audit: (req) => ({ action: 'scale', model: given(req.model_name) ?? null, version: given(req.model_version) ?? null }),
      run: async (req) => {
        // number_gpu and timeout are accepted and ignored, as on REST.
        const min = positive(req.min_worker, 1);
        const max = positive(req.max_worker, min);
        if (max < min) throw badRequest('max_worker cannot be less than min_worker.');
        const name = given(req.model_name);
        // TorchServe looks up the null name an empty string becomes.
        if (!name) throw modelNotFound('Model not found: null');
        const outcome = await registry.scale(name, given(req.model_version), min, max, req.synchronous === true);
        return { msg: outcome.message, status: outcome.status };
      },
    }),

    SetDefault: rpc<SetDefaultMsg>({
      audit: (req) => ({ action: 'set-default', model: given(req.model_name) ?? null, version: given(req.model_version) ?? null }),
      run: (req) => {
        const outcome = registry.setDefault(req.model_name ?? '', req.model_version ?? '');
        return { msg: outcome.message, status: outcome.status };
      },
    }),

    UnregisterModel: rpc<UnregisterModelMsg>({
      gated: true,
      audit: (req) => ({ action: 'unregister', model: given(req.model_name) ?? null, version: given(req.model_version) ?? null }),
      run: async (req) => {
        const name = given(req.model_name);
        // TorchServe's text for a missing model_name (sic).
        if (!name) throw badRequest('Parameter url is required.');
        const outcome = await registry.unregister(name, given(req.model_version));
        return { msg: outcome.message, status: outcome.status };
      },
    }),
  };

  return [serviceEntry(PROTO_FILES.management, 'org.pytorch.serve.grpc.management.ManagementAPIsService', implementation)];
}
