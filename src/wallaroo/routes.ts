/**
 * The Wallaroo-style model management API on the management port (issue 8, part 4): six POST
 * endpoints under `/v1/api/models/`, request and reply members as the seed document
 * (shared/seeds/wallaroo-model-management.txt) shows them.
 *
 * Replies are compact JSON written as bytes (`body`), not through `json`: TorchServe's renderer
 * drops null members, and this API's replies carry `null` for unknown values. Errors keep the
 * management port's `{"code","type","message"}` members (the seed documents no error body),
 * compact like the rest of this API.
 */
import type { FastifyRequest } from 'fastify';
import { ServeError, badRequest, methodNotAllowed, resourceNotFound } from '../errors.js';
import type { HttpResult } from '../http/reply.js';
import type { RouteContext, Router } from '../http/route-context.js';
import { jsonObjectBody, onlyMembers, optionalInteger, optionalNameList, optionalNumber, optionalString, requiredInteger, type JsonObject } from './body.js';
import type { CatalogModel, ModelCatalog, ModelConfig, ModelConfigFields } from './catalog.js';
import { briefConfig, fullConfig, listedModel, modelById, modelWithVersions, versionEntry } from './shapes.js';

/** One insert_model_config attempt, for the audit log (the integrator adds remote address and key type). */
export interface WallarooAuditEvent {
  req: FastifyRequest;
  action: 'insert-model-config';
  model: string | null;
  version: string | null;
  outcome: 'success' | 'refused' | 'failed';
  status: number;
  reason: string | null;
}

export interface WallarooDeps {
  catalog: ModelCatalog;
  /**
   * Whether a mutation may happen now (the model control mode): undefined allows it, a ServeError
   * (e.g. 405 when the model API is off) is the reply. Asked before the body is read.
   */
  checkMutation(): ServeError | undefined;
  /** Told of every insert_model_config attempt: success, refusal (4xx) or failure (5xx). */
  audit?(event: WallarooAuditEvent): void;
  /** The model's default version string (whose configuration get_by_id shows); else the newest version. */
  currentVersion?(model: string): string | undefined;
  /** The ONNX input names of a version, in order, when known: tensor_fields must name as many. */
  modelInputs?(model: string, version: string): readonly string[] | undefined;
  /** After a configuration changed (e.g. write a config snapshot). */
  onChange?(): void;
}

/** Whether a management request belongs to this API (`/v1/api/...`). */
export function isWallarooPath(segments: readonly string[]): boolean {
  return segments[0] === 'v1' && segments[1] === 'api';
}

/** Compact JSON bytes, nulls kept. */
export function wallarooJson(value: unknown, status = 200): HttpResult {
  return { status, body: Buffer.from(JSON.stringify(value), 'utf8'), contentType: 'application/json' };
}

export function wallarooError(err: ServeError): HttpResult {
  return wallarooJson({ code: err.status, type: err.type, message: err.message }, err.status);
}

const workspaceNotFound = (id: number) => new ServeError(404, 'WorkspaceNotFoundException', `Workspace not found: ${id} (the only workspace is 1)`);
const modelIdNotFound = (id: number) => new ServeError(404, 'ModelNotFoundException', `Model not found: ${id}`);
const modelNameNotFound = (name: string) => new ServeError(404, 'ModelNotFoundException', `Model not found: ${name}`);
const versionIdNotFound = (id: number) => new ServeError(404, 'ModelVersionNotFoundException', `Model version not found: ${id}`);

interface Endpoint {
  /** Members the body may have. */
  members: readonly string[];
  /** Shown in the 400 for a missing or non-object body. */
  example: string;
  run(body: JsonObject, deps: WallarooDeps): unknown;
}

function checkWorkspace(deps: WallarooDeps, id: number): void {
  if (id !== deps.catalog.workspace.id) throw workspaceNotFound(id);
}

function modelOf(deps: WallarooDeps, id: number): CatalogModel {
  const m = deps.catalog.model(id);
  if (!m) throw modelIdNotFound(id);
  return m;
}

/** The configuration get_by_id and get_config_by_id show: the default version's, else the newest's. */
function currentConfig(deps: WallarooDeps, m: CatalogModel): ModelConfig | undefined {
  const name = deps.currentVersion?.(m.name);
  const v = (name === undefined ? undefined : m.versions.find((x) => x.version === name)) ?? m.versions[m.versions.length - 1];
  return v?.config;
}

/** `get` names the model `id`; the seed's parameter table calls it `model_id`: both are taken. */
function idOrModelId(body: JsonObject): number {
  const id = optionalInteger(body, 'id');
  const modelId = optionalInteger(body, 'model_id');
  if (id !== undefined && modelId !== undefined && id !== modelId) throw badRequest(`id (${id}) and model_id (${modelId}) name different models; send one of them`);
  const chosen = id ?? modelId;
  if (chosen === undefined) throw badRequest('id (or model_id) is required (an integer)');
  return chosen;
}

/** The read endpoints by name (a Map: path segments must not reach Object.prototype). */
const ENDPOINTS = new Map<string, Endpoint>(Object.entries({
  list: {
    members: ['workspace_id'],
    example: '{"workspace_id": 1}',
    run(body, deps) {
      checkWorkspace(deps, requiredInteger(body, 'workspace_id'));
      // Newest first, as the seed's example lists them (15, then 14).
      return { models: deps.catalog.models().reverse().map(listedModel) };
    },
  },
  get_by_id: {
    // The seed's parameter table names workspace_id, its examples send id: id is required,
    // workspace_id is checked when given.
    members: ['id', 'workspace_id'],
    example: '{"id": 1}',
    run(body, deps) {
      const ws = optionalInteger(body, 'workspace_id');
      if (ws !== undefined) checkWorkspace(deps, ws);
      const m = modelOf(deps, requiredInteger(body, 'id'));
      return modelById(m, deps.catalog.workspace.id, currentConfig(deps, m));
    },
  },
  list_versions: {
    members: ['model_id', 'models_pk_id'],
    example: '{"model_id": "my-model", "models_pk_id": 1}',
    run(body, deps) {
      const name = optionalString(body, 'model_id', 'a string (the model name; models_pk_id takes the numeric id)');
      const pk = optionalInteger(body, 'models_pk_id');
      if (name === undefined && pk === undefined) throw badRequest('model_id (the model name) or models_pk_id (its numeric id) is required');
      const byName = name === undefined ? undefined : deps.catalog.modelByName(name);
      if (name !== undefined && !byName) throw modelNameNotFound(name);
      const m = byName ?? modelOf(deps, pk!);
      if (pk !== undefined && m.id !== pk) throw badRequest(`model_id "${m.name}" is model ${m.id}, not models_pk_id ${pk}`);
      return m.versions.map((v) => versionEntry(v, m.id, true));
    },
  },
  get_config_by_id: {
    members: ['model_id'],
    example: '{"model_id": 1}',
    run(body, deps) {
      const m = modelOf(deps, requiredInteger(body, 'model_id'));
      const c = currentConfig(deps, m);
      return { model_config: c === undefined ? null : briefConfig(c) };
    },
  },
  get: {
    members: ['id', 'model_id'],
    example: '{"id": 1}',
    run(body, deps) {
      return modelWithVersions(modelOf(deps, idOrModelId(body)));
    },
  },
} satisfies Record<string, Endpoint>));

const INSERT = 'insert_model_config';

const INSERT_MEMBERS = ['model_version_id', 'tensor_fields', 'batch_config', 'filter_threshold', 'input_schema', 'output_schema'] as const;

function configFields(body: JsonObject): ModelConfigFields {
  const batch = optionalString(body, 'batch_config', '"single"');
  if (batch !== undefined && batch !== 'single') throw badRequest(`batch_config must be "single" (one row per request) or null (any number), not ${JSON.stringify(batch)}`);
  return {
    tensorFields: optionalNameList(body, 'tensor_fields') ?? null,
    batchConfig: batch ?? null,
    filterThreshold: optionalNumber(body, 'filter_threshold') ?? null,
    inputSchema: optionalString(body, 'input_schema') ?? null,
    outputSchema: optionalString(body, 'output_schema') ?? null,
  };
}

/** insert_model_config: the one mutation; gated first, audited whatever the outcome. */
async function insertModelConfig(ctx: RouteContext, deps: WallarooDeps): Promise<HttpResult> {
  const target: { model: string | null; version: string | null } = { model: null, version: null };
  const audit = (status: number, reason: string | null) =>
    deps.audit?.({ req: ctx.req, action: 'insert-model-config', ...target, outcome: status < 400 ? 'success' : status < 500 ? 'refused' : 'failed', status, reason });
  try {
    const refused = deps.checkMutation();
    if (refused) throw refused;
    const body = jsonObjectBody(ctx.req.body, '{"model_version_id": 1, "tensor_fields": ["input"], "batch_config": null}');
    onlyMembers(body, INSERT_MEMBERS);
    const versionId = requiredInteger(body, 'model_version_id');
    const v = deps.catalog.versionById(versionId);
    if (v) Object.assign(target, { model: v.model, version: v.version });
    const fields = configFields(body);
    if (!v) throw versionIdNotFound(versionId);
    const inputs = deps.modelInputs?.(v.model, v.version);
    if (fields.tensorFields && inputs && fields.tensorFields.length !== inputs.length) {
      throw badRequest(
        `tensor_fields has ${fields.tensorFields.length} name(s) but model ${v.model} version ${v.version} has ${inputs.length} input(s) (${inputs.join(', ')}): one name per input, in order`,
      );
    }
    const config = deps.catalog.insertConfig(versionId, fields);
    if (!config) throw versionIdNotFound(versionId);
    deps.onChange?.();
    audit(200, null);
    return wallarooJson({ model_config: fullConfig(config) });
  } catch (err) {
    if (err instanceof ServeError) audit(err.status, err.message);
    else audit(500, err instanceof Error ? err.message : String(err));
    throw err;
  }
}

/** The router for `/v1/api/...` (segments as the management router has them, `v1` first). */
export function wallarooRouter(deps: WallarooDeps): Router {
  const route = async (ctx: RouteContext): Promise<HttpResult> => {
    const [, , models, name, ...more] = ctx.segments;
    if (models !== 'models' || name === undefined || more.length > 0) throw resourceNotFound();
    const endpoint = ENDPOINTS.get(name);
    if (!endpoint && name !== INSERT) throw resourceNotFound();
    if (ctx.method !== 'POST') throw methodNotAllowed();
    if (!endpoint) return insertModelConfig(ctx, deps);
    const body = jsonObjectBody(ctx.req.body, endpoint.example);
    onlyMembers(body, endpoint.members);
    return wallarooJson(endpoint.run(body, deps));
  };
  return async (ctx) => {
    try {
      return await route(ctx);
    } catch (err) {
      if (err instanceof ServeError) return wallarooError(err);
      throw err;
    }
  };
}
