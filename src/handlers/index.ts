/**
 * Handler resolution from the manifest's `handler` value: a `.js`/`.mjs` file inside the model
 * folder is a custom handler module; anything else (unset, a built-in name, a Python file from a
 * TorchServe archive) gets the default ONNX handler.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDefaultHandler } from './default-onnx.js';
import type { Handler, HandlerContext, HandlerFactory } from './types.js';

export type { Handler, HandlerContext, HandlerFactory, TensorData, TensorMap, TensorType } from './types.js';

/** Names that mean "the default ONNX handler" without a warning. */
export const DEFAULT_HANDLER_NAMES: readonly string[] = ['', 'default', 'onnx', 'default_onnx', 'base_handler'];

/** A `.js`/`.mjs` file in the model folder is a custom handler module. */
export const isCustomHandlerModule = (name: string): boolean => /\.(m?js)$/i.test(name);

function isHandler(v: unknown): v is Handler {
  return typeof v === 'object' && v !== null && typeof (v as { handle?: unknown }).handle === 'function';
}

async function loadCustom(file: string, ctx: HandlerContext): Promise<Handler> {
  const root = path.resolve(ctx.modelDir);
  const full = path.resolve(root, file);
  if (full !== root && !full.startsWith(root + path.sep)) {
    throw new Error(`handler ${file} is outside the model folder`);
  }
  const mod = (await import(pathToFileURL(full).href)) as { createHandler?: unknown; default?: unknown };
  const factory = mod.createHandler ?? mod.default;
  if (typeof factory !== 'function') {
    throw new Error(`handler ${file} must export a createHandler(ctx) function (named or default)`);
  }
  const handler = (await (factory as HandlerFactory)(ctx)) as unknown;
  if (!isHandler(handler)) throw new Error(`handler ${file}: createHandler(ctx) must return {handle(requests)}`);
  return handler;
}

export async function createHandler(name: string | undefined, ctx: HandlerContext): Promise<Handler> {
  const n = (name ?? '').trim();
  if (isCustomHandlerModule(n)) return loadCustom(n, ctx);
  if (!DEFAULT_HANDLER_NAMES.includes(n)) {
    ctx.log.warn(`handler "${n}" is not available in onnxserve; using the default ONNX handler`);
  }
  return createDefaultHandler(ctx);
}
