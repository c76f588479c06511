/**
 * Which handler specs this server can run, checked at registration. Refusing the rest here
 * (rather than when workers start, as TorchServe does) gives the user the reason straight away.
 * The worker's loader (handlers/loader.ts) reads specs with the same parseHandlerSpec.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelYamlConfig } from '../archive/types.js';
import { invalidModel } from '../errors.js';
import { BUILTIN_HANDLER_NAMES } from '../handlers/builtin/names.js';
import { moduleInside, parseHandlerSpec, supportedHandlersText } from '../handlers/spec.js';

/**
 * Whether `file` is a regular file inside `modelDir`, also after resolving links (a folder model
 * may hold a link to somewhere else). The worker's loader checks the same again before importing.
 * File-system errors (a name too long, a link loop) count as "not there": their texts name the
 * private extraction folder and must not reach a client.
 */
function isModuleFileInside(modelDir: string, file: string): boolean {
  const full = moduleInside(modelDir, file);
  if (!full) return false;
  try {
    const root = fs.realpathSync(modelDir);
    const real = fs.realpathSync(full);
    return real.startsWith(root + path.sep) && fs.statSync(real).isFile();
  } catch {
    return false;
  }
}

/**
 * Returns the handler spec to hand to workers: undefined for the default ONNX handler, else the
 * built-in name or the module (`file.mjs[:functionName]`). Throws 400 InvalidModelException for
 * Python handlers, unknown names and modules missing from the archive.
 */
export function checkHandler(handler: string | undefined, modelDir: string): string | undefined {
  const name = (handler ?? '').trim();
  const builtinNames = BUILTIN_HANDLER_NAMES;
  const supported = () => `Supported: ${supportedHandlersText(builtinNames)}.`;
  const spec = parseHandlerSpec(name, builtinNames);
  switch (spec.kind) {
    case 'default':
      return undefined;
    case 'builtin':
      return spec.name;
    case 'python':
      throw invalidModel(`Handler "${name}" is a Python handler, which onnxserve cannot run. ${supported()}`);
    case 'module': {
      if (isModuleFileInside(modelDir, spec.file)) return name;
      throw invalidModel(`Handler "${name}" was not found in the model archive. ${supported()}`);
    }
    case 'unknown':
      throw invalidModel(`Handler "${name}" is not supported. ${supported()}`);
  }
}

/**
 * The handler's `context.modelYamlConfig`: every top-level key of model-config.yaml. The archive
 * keeps frontend keys (validated) apart from the rest (`extra`); they are put back together here.
 * Frontend keys with a default (e.g. responseTimeout) are present even when the file omits them.
 */
export function handlerYamlConfig(config: ModelYamlConfig | undefined): Record<string, unknown> {
  if (!config) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key !== 'extra' && value !== undefined) out[key] = value;
  }
  for (const [key, value] of Object.entries(config.extra)) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
