/**
 * Handler spec strings (the manifest's `handler`, the register `handler` parameter or
 * `default_service_handler`) → what to run. Pure and shared by the registration check (main
 * thread) and the worker's loader, so both read a spec the same way.
 */
import path from 'node:path';

/** Names that mean "the default ONNX handler". */
export const DEFAULT_HANDLER_NAMES: readonly string[] = ['', 'default', 'onnx', 'default_onnx', 'base_handler'];

/** A `.js`/`.mjs` file (optionally `:functionName`) in the model folder is a handler module. */
const MODULE_FILE = /\.m?js$/i;
const PYTHON_FILE = /\.pyc?$/i;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export type HandlerSpec =
  | { kind: 'default' }
  | { kind: 'builtin'; name: string }
  | { kind: 'module'; file: string; functionName?: string }
  | { kind: 'python'; file: string }
  | { kind: 'unknown'; name: string };

/** Splits `file.mjs:functionName` at the first colon (as the archiver does). */
function splitFunction(value: string): { file: string; functionName?: string } {
  const colon = value.indexOf(':');
  return colon === -1 ? { file: value } : { file: value.slice(0, colon), functionName: value.slice(colon + 1) };
}

/** Classifies a spec; `builtinNames` are the keys of BUILTIN_HANDLERS at the time of the call. */
export function parseHandlerSpec(spec: string | undefined, builtinNames: readonly string[]): HandlerSpec {
  const value = (spec ?? '').trim();
  if (DEFAULT_HANDLER_NAMES.includes(value)) return { kind: 'default' };
  if (builtinNames.includes(value)) return { kind: 'builtin', name: value };
  const { file, functionName } = splitFunction(value);
  if (PYTHON_FILE.test(file)) return { kind: 'python', file };
  if (MODULE_FILE.test(file) && (functionName === undefined || IDENTIFIER.test(functionName))) {
    return functionName === undefined ? { kind: 'module', file } : { kind: 'module', file, functionName };
  }
  return { kind: 'unknown', name: value };
}

/** Whether `file` (relative to `modelDir`) stays inside it. Absolute paths and `..` escapes do not. */
export function moduleInside(modelDir: string, file: string): string | undefined {
  if (path.isAbsolute(file) || file.includes('\0')) return undefined;
  const root = path.resolve(modelDir);
  const full = path.resolve(root, file);
  return full.startsWith(root + path.sep) ? full : undefined;
}

/** The "Supported: …" text of registration and load errors. */
export function supportedHandlersText(builtinNames: readonly string[]): string {
  const quote = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
  return (
    `the default ONNX handler (no handler, or ${quote(DEFAULT_HANDLER_NAMES.filter((n) => n !== ''))})` +
    (builtinNames.length > 0 ? `, a built-in handler (${quote(builtinNames)})` : '') +
    ', or a JavaScript handler module inside the archive (handler.mjs, handler.js, or file.mjs:functionName)'
  );
}
