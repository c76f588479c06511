/**
 * Triton's model repository extension on the management port: `POST /v2/repository/index`,
 * `POST /v2/repository/models/{m}/load` and `/unload`. Load and unload change what is served, so
 * they sit behind `enable_model_api` exactly like register and unregister (checked in the
 * listener's onRequest hook, before the body is read). The repository is TorchServe's model store.
 */
import { badRequest, methodNotAllowed, resourceNotFound } from '../../errors.js';
import type { ModelRegistry } from '../../registry/registry.js';
import type { HttpResult } from '../reply.js';
import type { RouteContext } from '../route-context.js';
import { bodyBuffer } from '../tensor-infer.js';
import { parseJsonObject } from './codec.js';
import { oipJson } from './errors.js';

export interface RepositoryDeps {
  registry: ModelRegistry;
}

/** `POST v2/repository/models/{m}/load|unload`: the calls `enable_model_api` gates. */
export function isRepositoryChange(method: string, segments: readonly string[]): boolean {
  return (
    method === 'POST' &&
    segments.length === 5 &&
    segments[0] === 'v2' &&
    segments[1] === 'repository' &&
    segments[2] === 'models' &&
    (segments[4] === 'load' || segments[4] === 'unload')
  );
}

/** The optional JSON body of a repository call (empty allowed). */
function optionalBody(ctx: RouteContext): Record<string, unknown> {
  const text = bodyBuffer(ctx.req, 'Repository').toString('utf8');
  return text.trim() === '' ? {} : parseJsonObject(text);
}

interface IndexEntry {
  name: string;
  version?: string;
  state: 'READY' | 'UNAVAILABLE';
  reason?: string;
}

/**
 * Every registered model version (READY when a worker is ready, else UNAVAILABLE), then every
 * model-store archive or folder that is not registered (UNAVAILABLE, reason "unloaded", under the
 * name `load` takes). `{"ready": true}` keeps only the READY ones.
 */
async function index(deps: RepositoryDeps, body: Record<string, unknown>): Promise<HttpResult> {
  if (body.ready !== undefined && typeof body.ready !== 'boolean') throw badRequest('"ready" must be true or false');
  const entries: IndexEntry[] = deps.registry.allRegistered().map((v) => {
    const ready = v.pool.readyWorkers() > 0;
    return ready ? { name: v.name, version: v.version, state: 'READY' } : { name: v.name, version: v.version, state: 'UNAVAILABLE', reason: 'no worker is ready' };
  });
  const registeredUrls = new Set(deps.registry.allRegistered().map((v) => v.url));
  for (const e of await deps.registry.storeEntries()) {
    if (deps.registry.has(e.name) || registeredUrls.has(e.file)) continue;
    entries.push({ name: e.name, state: 'UNAVAILABLE', reason: 'unloaded' });
  }
  return oipJson(body.ready === true ? entries.filter((e) => e.state === 'READY') : entries);
}

function checkLoadBody(body: Record<string, unknown>): void {
  const params = body.parameters;
  if (params === undefined) return;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw badRequest('"parameters" must be an object');
  for (const key of Object.keys(params)) {
    if (key === 'config' || key.startsWith('file:')) {
      throw badRequest(`Load parameter "${key}" is not supported: models load from the model store as they are`);
    }
  }
}

/** `rest`: the segments after `v2`. */
export function repositoryRouter(deps: RepositoryDeps): (ctx: RouteContext, rest: string[]) => Promise<HttpResult> {
  return async (ctx, rest) => {
    const [first, second, model, action, ...more] = rest;
    if (first !== 'repository') throw resourceNotFound();
    if (second === 'index' && model === undefined) {
      if (ctx.method !== 'POST') throw methodNotAllowed();
      return index(deps, optionalBody(ctx));
    }
    if (second !== 'models' || model === undefined || more.length > 0) throw resourceNotFound();
    if (action !== 'load' && action !== 'unload') throw resourceNotFound();
    if (ctx.method !== 'POST') throw methodNotAllowed();
    const body = optionalBody(ctx);
    if (action === 'load') {
      checkLoadBody(body);
      await deps.registry.loadFromStore(model);
    } else {
      await deps.registry.unloadAll(model);
    }
    // Triton answers both with 200 and an empty body.
    return { status: 200, body: '' };
  };
}
