/**
 * Checks run before anything is written: the ONNX model loads in onnxruntime-node, the handler is
 * one the server can run (a default/built-in name, or a JavaScript module that imports and honours
 * the handler contract through the same `validateHandlerModule` the server uses), and
 * model-config.yaml parses with the server's own parser.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { parseModelConfig } from '../archive/index.js';
import { DEFAULT_HANDLER_NAMES } from '../handlers/index.js';
import { HandlerContractError, validateHandlerModule } from '../handlers/module-contract.js';
import { ArchiverError, noSuchFile } from './errors.js';
import { BUILTIN_HANDLER_NAMES } from '../handlers/builtin/names.js';

/** TorchServe's built-in handler names (torch-model-archiver does not copy these). */
export const TORCHSERVE_BUILTIN_NAMES: readonly string[] = [
  'base_handler',
  'text_classifier',
  'image_classifier',
  'object_detector',
  'image_segmenter',
  'dali_image_classifier',
  'vllm_handler',
  'trt_llm_handler',
];

/** Handler names the server runs: the default ONNX handler's aliases plus the built-in names. */
export async function knownHandlerNames(): Promise<string[]> {
  const names = DEFAULT_HANDLER_NAMES.filter((n) => n !== '');
  for (const n of BUILTIN_HANDLER_NAMES) if (!names.includes(n)) names.push(n);
  return names;
}

export type HandlerChoice =
  | { kind: 'name'; name: string }
  | { kind: 'module'; file: string; given: string; functionName?: string };

const JS_MODULE = /\.(m?js)$/i;
const PY_MODULE = /\.pyc?$/i;

function supported(names: readonly string[]): string {
  return (
    `onnxserve needs a JavaScript handler or a built-in handler name: pass one of ${names.map((n) => `"${n}"`).join(', ')}, ` +
    'or a .js/.mjs handler module (handler.mjs, or handler.mjs:functionName)'
  );
}

/**
 * Classifies `--handler` the way torch-model-archiver does (a built-in name is used as given,
 * anything else is `path/module[:function]`), refusing what onnxserve cannot run.
 */
export function resolveHandler(handler: string, names: readonly string[], cwd: string): HandlerChoice {
  const value = handler.trim();
  if (value === '' || names.includes(value)) return { kind: 'name', name: value };
  const colon = value.indexOf(':');
  const filePart = colon === -1 ? value : value.slice(0, colon);
  const functionName = colon === -1 ? undefined : value.slice(colon + 1);
  if (PY_MODULE.test(filePart) || (!JS_MODULE.test(filePart) && fs.existsSync(path.resolve(cwd, `${filePart}.py`)))) {
    throw new ArchiverError(`Handler "${handler}" is a Python handler, which onnxserve cannot run. ${supported(names)}.`);
  }
  if (JS_MODULE.test(filePart)) {
    if (functionName !== undefined && !/^[A-Za-z_$][\w$]*$/.test(functionName)) {
      throw new ArchiverError(`Handler "${handler}": "${functionName}" is not a valid function name`);
    }
    return { kind: 'module', file: path.resolve(cwd, filePart), given: filePart, functionName };
  }
  if (TORCHSERVE_BUILTIN_NAMES.includes(value)) {
    throw new ArchiverError(`Handler "${handler}" is a TorchServe built-in handler that onnxserve does not provide. ${supported(names)}.`);
  }
  throw new ArchiverError(`Handler "${handler}" is neither a built-in handler name nor a JavaScript module. ${supported(names)}.`);
}

/** Imports the handler module and applies the server's contract check; returns its entry points. */
export async function checkHandlerModule(choice: Extract<HandlerChoice, { kind: 'module' }>): Promise<string[]> {
  const st = fs.statSync(choice.file, { throwIfNoEntry: false });
  if (!st) throw noSuchFile(choice.given);
  if (!st.isFile()) throw new ArchiverError(`--handler ${choice.given} is not a file`);
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(choice.file).href);
  } catch (e) {
    throw new ArchiverError(`Handler module ${choice.given} could not be imported: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return Object.keys(validateHandlerModule(mod, choice.functionName));
  } catch (e) {
    if (e instanceof HandlerContractError) {
      throw new ArchiverError(`Handler module ${choice.given} is not a valid onnxserve handler: ${e.message}`);
    }
    throw e;
  }
}

export interface OnnxSummary {
  inputs: string[];
  outputs: string[];
}

function describeValue(m: ort.InferenceSession.ValueMetadata): string {
  if (!m.isTensor) return `${m.name} (non-tensor)`;
  return `${m.name} ${m.type} [${m.shape.map((d) => String(d)).join(', ')}]`;
}

/** Loads the model in onnxruntime-node (the server's runtime) and describes its inputs and outputs. */
export async function checkOnnx(file: string, given: string): Promise<OnnxSummary> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { logSeverityLevel: 4, graphOptimizationLevel: 'disabled' });
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).trim();
    throw new ArchiverError(`${given} is not a valid ONNX model: onnxruntime could not load it: ${reason}`);
  }
  try {
    return { inputs: session.inputMetadata.map(describeValue), outputs: session.outputMetadata.map(describeValue) };
  } finally {
    await session.release();
  }
}

/** Parses model-config.yaml with the server's parser: unparseable is an error, bad keys are warnings. */
export function checkModelConfig(file: string, given: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw noSuchFile(given);
  }
  const { config, warnings } = parseModelConfig(text);
  if (config === undefined) {
    throw new ArchiverError(`Config file ${given} cannot be used: ${warnings.join('; ')}`);
  }
  return warnings;
}
