/**
 * Worker-side handler resolution: a spec string (see spec.ts) → a validated HandlerModule. The
 * default ONNX handler, a built-in by name, or a module file imported from inside the model folder
 * (`file.mjs:functionName` makes that export the `handle` entry point).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HandlerModule } from './api.js';
import { BUILTIN_HANDLER_NAMES } from './builtin/names.js';
import { DEFAULT_ONNX_HANDLER } from './default-onnx.js';
import { HandlerContractError, validateHandlerModule } from './module-contract.js';
import { moduleInside, parseHandlerSpec, supportedHandlersText } from './spec.js';

/** A handler that cannot be used: the worker load fails with this message. */
export class HandlerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerLoadError';
  }
}

export interface LoadedHandler {
  module: HandlerModule;
  /** For logs: `default ONNX handler`, `built-in image_classifier`, `handler.mjs:fn`. */
  description: string;
}

const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function validated(mod: unknown, spec: string, functionName?: string): HandlerModule {
  try {
    return validateHandlerModule(mod, functionName);
  } catch (e) {
    if (e instanceof HandlerContractError) throw new HandlerLoadError(`handler "${spec}": ${e.message}`);
    throw e;
  }
}

/** The module file's real path, refusing anything (also through links) outside the model folder. */
async function moduleFile(modelDir: string, file: string, spec: string): Promise<string> {
  const full = moduleInside(modelDir, file);
  if (!full) throw new HandlerLoadError(`handler "${spec}": the module must be inside the model folder`);
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(full), realpath(modelDir)]);
  } catch {
    throw new HandlerLoadError(`handler "${spec}": ${file} was not found in the model folder`);
  }
  if (!real.startsWith(root + path.sep)) throw new HandlerLoadError(`handler "${spec}": the module must be inside the model folder`);
  return real;
}

export async function loadHandler(spec: string | undefined, modelDir: string): Promise<LoadedHandler> {
  const builtinNames = BUILTIN_HANDLER_NAMES;
  const parsed = parseHandlerSpec(spec, builtinNames);
  const given = (spec ?? '').trim();
  switch (parsed.kind) {
    case 'default':
      return { module: DEFAULT_ONNX_HANDLER, description: 'default ONNX handler' };
    case 'builtin': {
      // Loaded on demand: only workers of image models pay for sharp.
      const { BUILTIN_HANDLERS } = await import('./builtin/index.js');
      return { module: validated(BUILTIN_HANDLERS[parsed.name], given), description: `built-in ${parsed.name}` };
    }
    case 'module': {
      const file = await moduleFile(modelDir, parsed.file, given);
      let mod: unknown;
      try {
        mod = await import(pathToFileURL(file).href);
      } catch (e) {
        throw new HandlerLoadError(`handler "${given}": the module could not be imported: ${why(e)}`);
      }
      return { module: validated(mod, given, parsed.functionName), description: given };
    }
    case 'python':
      throw new HandlerLoadError(`handler "${given}" is a Python handler, which onnxserve cannot run; supported: ${supportedHandlersText(builtinNames)}`);
    case 'unknown':
      throw new HandlerLoadError(`handler "${given}" is not supported; supported: ${supportedHandlersText(builtinNames)}`);
  }
}
