/**
 * Which handler names this server can run. Refusing the rest at registration (rather than when
 * workers start, as TorchServe does) gives the user the reason straight away.
 */
import fs from 'node:fs';
import path from 'node:path';
import { invalidModel } from '../errors.js';
import { DEFAULT_HANDLER_NAMES, isCustomHandlerModule } from '../handlers/index.js';

const SUPPORTED_TEXT =
  'onnxserve runs ONNX models with its default ONNX handler (leave the handler empty or use one of ' +
  DEFAULT_HANDLER_NAMES.filter((n) => n !== '')
    .map((n) => `"${n}"`)
    .join(', ') +
  ') or a JavaScript handler module (.js/.mjs) inside the archive';

/**
 * Returns the handler to run: undefined for the default ONNX handler, else the module file.
 * Throws 400 InvalidModelException for Python handlers, unknown names and missing modules.
 */
export function checkHandler(handler: string | undefined, modelDir: string): string | undefined {
  const name = (handler ?? '').trim();
  if (DEFAULT_HANDLER_NAMES.includes(name)) return undefined;
  const file = name.split(':')[0] ?? name;
  if (/\.pyc?$/.test(file)) {
    throw invalidModel(`Handler "${name}" is a Python handler, which onnxserve cannot run. Supported: ${SUPPORTED_TEXT}.`);
  }
  if (isCustomHandlerModule(name)) {
    const full = path.resolve(modelDir, name);
    const inside = full.startsWith(path.resolve(modelDir) + path.sep);
    if (inside && fs.statSync(full, { throwIfNoEntry: false })?.isFile()) return name;
    throw invalidModel(`Handler "${name}" was not found in the model archive. Supported: ${SUPPORTED_TEXT}.`);
  }
  throw invalidModel(`Handler "${name}" is not supported. Supported: ${SUPPORTED_TEXT}.`);
}
