/** The management API (port 8081), routed as TorchServe's ManagementRequestHandler (spec §3). */
import type { ServerConfig } from '../config/types.js';
import { ServeError, badRequest, methodNotAllowed, resourceNotFound } from '../errors.js';
import { defaultRegisterRequest, type ModelRegistry, type RegisterRequest } from '../registry/registry.js';
import { UNSET_BATCH_SIZE, UNSET_MAX_BATCH_DELAY, UNSET_TIMEOUT } from '../registry/settings.js';
import { apiDescription, modelManagementDescription } from './api-description.js';
import { isRepositoryChange, repositoryRouter } from './oip/repository.js';
import { statusResult, type HttpResult } from './reply.js';
import type { RouteContext, Router } from './route-context.js';
import { javaBoolean } from '../config/index.js';
import { isWallarooPath, wallarooRouter, type WallarooDeps } from '../wallaroo/routes.js';

export interface ManagementDeps {
  registry: ModelRegistry;
  config: ServerConfig;
  /** The Wallaroo-style API (`/v1/api/models/...`); absent: those paths are 404. */
  wallaroo?: WallarooDeps;
}

/** Java Integer.parseInt, falling back to a default on anything else (TorchServe's NumberUtils). */
export function javaInt(value: unknown, fallback: number): number {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (s === undefined || !/^[+-]?\d+$/.test(s)) return fallback;
  const n = Number(s);
  return n >= -2147483648 && n <= 2147483647 ? n : fallback;
}

/** Java Boolean.parseBoolean: only case-insensitive "true" is true. */
export function javaBool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  return javaBoolean(String(value));
}

/**
 * Whether the request is a register or unregister call (or the OIP repository's load/unload),
 * which `enable_model_api` gates.
 * Checked in an onRequest hook, before the body is read (spec §3.1 quirks included).
 */
export function isModelApiCall(method: string, segments: string[]): boolean {
  if (isRepositoryChange(method, segments)) return true;
  if (segments[0] !== 'models') return false;
  if (method === 'POST' && segments.length === 1) return true;
  if (method !== 'DELETE') return false;
  return segments.length === 2 || segments.length === 3 || (segments.length === 4 && segments[3] === 'set-default');
}

function registerParams(ctx: RouteContext, config: ServerConfig): RegisterRequest {
  const contentType = ctx.req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  let source: Record<string, unknown>;
  if (contentType === 'application/json') {
    const raw = Buffer.isBuffer(ctx.req.body) ? ctx.req.body.toString('utf8') : '';
    try {
      const parsed: unknown = raw.trim() ? JSON.parse(raw) : {};
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
      source = parsed as Record<string, unknown>;
    } catch (err) {
      throw badRequest(`Invalid JSON request body: ${(err as Error).message}`);
    }
  } else {
    source = Object.fromEntries(ctx.query);
  }
  const str = (k: string) => (source[k] === undefined || source[k] === null ? undefined : String(source[k]));
  const url = str('url');
  if (!url) throw badRequest('Parameter url is required.');
  const base = defaultRegisterRequest(url, config);
  return {
    url,
    modelName: str('model_name') || undefined,
    handler: str('handler') || undefined,
    runtime: str('runtime') || undefined,
    batchSize: javaInt(source.batch_size, UNSET_BATCH_SIZE),
    maxBatchDelay: javaInt(source.max_batch_delay, UNSET_MAX_BATCH_DELAY),
    initialWorkers: javaInt(source.initial_workers, base.initialWorkers),
    synchronous: javaBool(source.synchronous, true),
    responseTimeout: javaInt(source.response_timeout, UNSET_TIMEOUT),
    startupTimeout: javaInt(source.startup_timeout, UNSET_TIMEOUT),
  };
}

/**
 * One page of the model list (TorchServe's ApiUtils.getModelList), for a limit and token the caller
 * has normalised: default versions in order, `nextPageToken` even for an exactly full page.
 */
export function modelListPage(registry: ModelRegistry, limit: number, token: number): Record<string, unknown> {
  const all = registry.listDefaults();
  const body: Record<string, unknown> = {};
  if (token + limit <= all.length) body.nextPageToken = String(token + limit);
  body.models = all.slice(token, token + limit).map((v) => ({ modelName: v.name, modelUrl: v.url }));
  return body;
}

function list(deps: ManagementDeps, query: URLSearchParams): HttpResult {
  let limit = javaInt(query.get('limit') ?? undefined, 100);
  if (limit > 100 || limit < 0) limit = 100;
  let token = javaInt(query.get('next_page_token') ?? undefined, 0);
  if (token < 0) token = 0;
  return { status: 200, json: modelListPage(deps.registry, limit, token) };
}

function describe(deps: ManagementDeps, name: string, version: string | undefined, query: URLSearchParams): HttpResult {
  const customized = javaBool(query.get('customized') ?? undefined, false);
  if (version === 'all') return { status: 200, json: deps.registry.allVersions(name).map((v) => v.describe(false)) };
  return { status: 200, json: [deps.registry.resolve(name, version).describe(customized)] };
}

async function scale(deps: ManagementDeps, name: string, pathVersion: string | undefined, query: URLSearchParams): Promise<HttpResult> {
  const min = javaInt(query.get('min_worker') ?? undefined, 1);
  const max = javaInt(query.get('max_worker') ?? undefined, min);
  if (max < min) throw badRequest('max_worker cannot be less than min_worker.');
  // TorchServe fails with a 500 here (a negative array index); a clear 400 is what it meant.
  if (min < 0) throw badRequest('min_worker cannot be negative.');
  const version = pathVersion ?? query.get('model_version') ?? undefined;
  const synchronous = javaBool(query.get('synchronous') ?? undefined, false);
  const outcome = await deps.registry.scale(name, version, min, max, synchronous);
  return statusResult(outcome.status, outcome.message);
}

async function unregister(deps: ManagementDeps, name: string, version: string | undefined): Promise<HttpResult> {
  const outcome = await deps.registry.unregister(name, version);
  return statusResult(outcome.status, outcome.message);
}

/** KServe v1 readiness on the management port: `GET /v1/models/{m}` (also `{m}:anything`). */
function kserveReadiness(deps: ManagementDeps, method: string, segment: string): HttpResult {
  if (method !== 'GET') throw methodNotAllowed();
  const name = segment.split(':')[0] ?? segment;
  const v = deps.registry.resolve(name);
  return { status: 200, json: { name, ready: v.pool.readyWorkers() > 0 } };
}

function workflows(method: string, segments: string[]): HttpResult {
  if (segments.length === 1) {
    if (method === 'POST') throw badRequest('Registering new workflows is disabled.');
    if (method === 'GET') return { status: 200, json: { workflows: [] } };
    throw methodNotAllowed();
  }
  if (segments.length === 2 && (method === 'GET' || method === 'DELETE')) {
    throw new ServeError(404, 'WorkflowNotFoundException', `Workflow not found: ${segments[1]}`);
  }
  throw methodNotAllowed();
}

export function managementRouter(deps: ManagementDeps): Router {
  const repository = repositoryRouter(deps);
  const wallaroo = deps.wallaroo ? wallarooRouter(deps.wallaroo) : undefined;
  return async (ctx) => {
    const { method, segments, query } = ctx;
    const [first, name, version, action] = segments;
    if (first === 'v2') return repository(ctx, segments.slice(1));
    if (wallaroo && isWallarooPath(segments)) return wallaroo(ctx);
    if (first === undefined) {
      if (method === 'OPTIONS') return { status: 200, json: apiDescription('management') };
      throw methodNotAllowed();
    }
    if (first === 'api-description') return { status: 200, json: apiDescription('management') };
    if (first === 'v1' && name === 'models' && version !== undefined && segments.length === 3) return kserveReadiness(deps, method, version);
    if (first === 'workflows') return workflows(method, segments);
    if (first !== 'models' || segments.length > 4) throw resourceNotFound();

    if (name === undefined) {
      if (method === 'GET') return list(deps, query);
      if (method === 'POST') {
        const outcome = await deps.registry.register(registerParams(ctx, deps.config));
        return statusResult(outcome.status, outcome.message);
      }
      throw methodNotAllowed();
    }
    if (segments.length === 4) {
      if (action !== 'set-default') throw resourceNotFound();
      // TorchServe routes by segment count: GET/DELETE here act on the *default* version.
      if (method === 'PUT') {
        const outcome = deps.registry.setDefault(name, version ?? '');
        return statusResult(outcome.status, outcome.message);
      }
      if (method === 'GET') return describe(deps, name, undefined, query);
      if (method === 'DELETE') return unregister(deps, name, undefined);
      throw methodNotAllowed();
    }
    switch (method) {
      case 'GET':
        return describe(deps, name, version, query);
      case 'PUT':
        return scale(deps, name, version, query);
      case 'DELETE':
        return unregister(deps, name, version);
      case 'OPTIONS':
        deps.registry.resolve(name);
        return { status: 200, json: modelManagementDescription(name) };
      default:
        throw methodNotAllowed();
    }
  };
}
