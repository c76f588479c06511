/**
 * Request parts → {input name: JSON value}. Parts are JSON whatever their content type
 * (curl -T sends none); the mapping rules are the default ONNX handler's wire contract.
 */
import { badRequest } from '../errors.js';
import type { RequestPart, TensorMeta } from '../runtime/types.js';
import { describeInput } from './tensor-codec.js';

const decoder = new TextDecoder('utf-8');

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parsePart(part: RequestPart): unknown {
  const text = decoder.decode(part.data);
  const what = part.name === 'body' ? 'Request body' : `Part "${part.name}"`;
  if (text.trim() === '') throw badRequest(`${what} is empty; the default ONNX handler expects JSON`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw badRequest(`${what} is not valid JSON (the default ONNX handler expects JSON): ${why}`);
  }
}

function example(inputs: readonly TensorMeta[]): string {
  return `{${inputs.map((m) => `"${m.name}": <${m.type} array>`).join(', ')}}`;
}

/** Checks the collected values name exactly the model's inputs (400 for unknown or missing ones). */
function checkNames(values: Record<string, unknown>, inputs: readonly TensorMeta[]): Record<string, unknown> {
  const names = new Set(inputs.map((m) => m.name));
  const modelInputs = () => `model inputs: ${inputs.map(describeInput).join(', ')}`;
  const unknown = Object.keys(values).filter((k) => !names.has(k));
  if (unknown.length > 0) {
    // A body may hold a million keys: name a few, not all of them.
    const named = unknown.slice(0, 10).map((k) => `"${k.length > 64 ? `${k.slice(0, 64)}…` : k}"`);
    if (unknown.length > named.length) named.push(`… (${unknown.length - named.length} more)`);
    throw badRequest(`Unknown input ${named.join(', ')}; ${modelInputs()}`);
  }
  const missing = inputs.filter((m) => !(m.name in values));
  if (missing.length > 0) {
    throw badRequest(`Missing input ${missing.map(describeInput).join(', ')}; ${modelInputs()}`);
  }
  return values;
}

/**
 * One JSON value → {input name: value}: an object names the inputs, anything else feeds a
 * single-input model (or the input called `name`, for a multipart field).
 */
export function inputsFromValue(value: unknown, inputs: readonly TensorMeta[], name?: string): Record<string, unknown> {
  const values = Object.create(null) as Record<string, unknown>;
  if (isPlainObject(value)) Object.assign(values, value);
  else if (inputs.length === 1) values[inputs[0]!.name] = value;
  else if (name !== undefined && inputs.some((m) => m.name === name)) values[name] = value;
  else {
    throw badRequest(
      `The model has ${inputs.length} inputs; send a JSON object ${example(inputs)} or one multipart field per input (model inputs: ${inputs.map(describeInput).join(', ')})`,
    );
  }
  return checkNames(values, inputs);
}

/** Maps the request's parts onto model inputs; throws 400 for missing, unknown or unreadable inputs. */
export function collectInputs(parts: ReadonlyArray<RequestPart>, inputs: readonly TensorMeta[]): Record<string, unknown> {
  const modelInputs = () => `model inputs: ${inputs.map(describeInput).join(', ')}`;
  if (parts.length === 0 || parts.every((p) => p.data.byteLength === 0)) {
    throw badRequest(`No input data; send JSON such as ${example(inputs)} (${modelInputs()})`);
  }
  if (parts.length === 1) {
    const part = parts[0]!;
    return inputsFromValue(parsePart(part), inputs, part.name);
  }
  // Duplicate field names: the last wins, as in TorchServe's request dict.
  const values = Object.create(null) as Record<string, unknown>;
  for (const part of parts) values[part.name] = parsePart(part);
  return checkNames(values, inputs);
}
