/**
 * What a version's Wallaroo model configuration does at inference (issue 8, part 5). Pure
 * functions; the inference routes call them before a request reaches the worker pool.
 *
 * `tensor_fields` — Wallaroo: "if the model accepts the input fields ['variable1', 'variable2'],
 * tensor_fields allows those inputs to be overridden to ['square_feet', 'house_age']". So it is
 * positional: `tensor_fields[i]` is the name clients use for the model's i-th ONNX input. A request
 * field named `tensor_fields[i]` is renamed to that input's name; fields already carrying an ONNX
 * input name pass unchanged (renames are simultaneous, so swapped names work); two fields landing
 * on one input are a 400. Which fields are "request fields", per request shape:
 *
 * - `predictions` (`/predictions` body, one JSON value): the keys of a JSON object. A bare value
 *   (array, number) feeds a single-input model by position and has no names to rename.
 * - multipart `/predictions` (`applyTensorFieldsToParts`): each part's name; a lone part holding a
 *   JSON object also has its keys renamed (the default handler reads that object by key).
 * - `kserve-v1` (`:predict`, the `kserve`/`json` envelopes): the keys of each `instances[i]` that is
 *   an object (not a lone `{"b64": …}` value), and the keys of a columnar `inputs` object.
 * - `oip-v2` (`/v2/.../infer`, the `kservev2` envelope): each `inputs[i].name`. For binary bodies,
 *   rename the decoded tensors instead (`renameTensors`), which covers every OIP body form.
 *
 * `batch_config: "single"` — "accept an inference request with only one row of data": a row is
 * one element along the first (batch) dimension; `checkBatchConfig` answers a 400 for more.
 */
import { ServeError, badRequest } from '../errors.js';
import type { ModelConfigFields } from './catalog.js';

/** What these functions read of a configuration (a `ModelConfig` from the catalog fits). */
export type TensorFieldsConfig = Pick<ModelConfigFields, 'tensorFields'>;
export type BatchConfigConfig = Pick<ModelConfigFields, 'batchConfig'>;

/** Request field name → ONNX input name (identity pairs left out). */
export type TensorFieldMap = ReadonlyMap<string, string>;

export type RequestShape = 'predictions' | 'kserve-v1' | 'oip-v2';

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Configurations are frozen and replaced on change, so the object itself keys the cache. */
const mapCache = new WeakMap<TensorFieldsConfig, { inputs: string; map: TensorFieldMap | undefined }>();

/**
 * The renaming a configuration asks for, or undefined when it asks none (the fast path). A
 * `tensor_fields` whose length is not the model's input count (the archive changed since it was
 * set) is a server-side inconsistency: 500, naming how to fix it, rather than guessing.
 */
export function tensorFieldMap(config: TensorFieldsConfig | undefined, modelInputs: readonly string[], what = 'the model'): TensorFieldMap | undefined {
  const fields = config?.tensorFields;
  if (!config || !fields || fields.length === 0) return undefined;
  const key = modelInputs.join('\u0000');
  const cached = mapCache.get(config);
  if (cached && cached.inputs === key) return cached.map;
  if (fields.length !== modelInputs.length) {
    throw new ServeError(
      500,
      'InternalServerException',
      `tensor_fields of ${what} names ${fields.length} field(s) but the model has ${modelInputs.length} input(s) (${modelInputs.join(', ')}); set them again with /v1/api/models/insert_model_config`,
    );
  }
  const pairs = fields.map((f, i): [string, string] => [f, modelInputs[i]!]).filter(([from, to]) => from !== to);
  const map = pairs.length === 0 ? undefined : new Map(pairs);
  mapCache.set(config, { inputs: key, map });
  return map;
}

/** One field name after renaming. */
export function renameField(map: TensorFieldMap, name: string): string {
  return map.get(name) ?? name;
}

function clash(where: string, a: string, b: string, target: string): ServeError {
  return badRequest(`${where}: fields "${a}" and "${b}" both name model input "${target}" (after tensor_fields renaming); send one of them`);
}

/** An object with its keys renamed; the same object when nothing changes. */
export function renameKeys(obj: JsonObject, map: TensorFieldMap, where: string): JsonObject {
  const keys = Object.keys(obj);
  if (!keys.some((k) => map.has(k))) return obj;
  const from = new Map<string, string>();
  const entries = keys.map((k): [string, unknown] => {
    const target = renameField(map, k);
    const other = from.get(target);
    if (other !== undefined) throw clash(where, other, k, target);
    from.set(target, k);
    return [target, obj[k]];
  });
  // fromEntries defines own properties: a "__proto__" key stays data, as JSON.parse made it.
  return Object.fromEntries(entries);
}

/** A lone `{"b64": "..."}` is one value (KServe v1), not a row of named inputs. */
const isB64Value = (v: JsonObject) => Object.keys(v).length === 1 && typeof v.b64 === 'string';

/**
 * A parsed request body with `tensor_fields` applied (see the module comment for what is renamed
 * per shape). Returns `body` itself when nothing is renamed; never mutates it.
 */
export function applyTensorFields<T>(config: TensorFieldsConfig | undefined, modelInputs: readonly string[], shape: RequestShape, body: T): T {
  // Renaming keeps the body's kind (an object stays an object with the same non-input members).
  return renamedBody(config, modelInputs, shape, body) as T;
}

function renamedBody(config: TensorFieldsConfig | undefined, modelInputs: readonly string[], shape: RequestShape, body: unknown): unknown {
  const map = tensorFieldMap(config, modelInputs);
  if (!map || !isObject(body)) return body;
  switch (shape) {
    case 'predictions':
      return renameKeys(body, map, 'Request body');
    case 'kserve-v1': {
      const out: JsonObject = { ...body };
      let changed = false;
      if (Array.isArray(body.instances)) {
        const instances = body.instances.map((inst: unknown, i) => (isObject(inst) && !isB64Value(inst) ? renameKeys(inst, map, `instances[${i}]`) : inst));
        if (instances.some((x, i) => x !== (body.instances as unknown[])[i])) {
          out.instances = instances;
          changed = true;
        }
      }
      if (isObject(body.inputs)) {
        const inputs = renameKeys(body.inputs, map, '"inputs"');
        if (inputs !== body.inputs) {
          out.inputs = inputs;
          changed = true;
        }
      }
      return changed ? out : body;
    }
    case 'oip-v2': {
      if (!Array.isArray(body.inputs)) return body;
      const inputs: unknown[] = body.inputs;
      const renamed = inputs.map((t) => (isObject(t) && typeof t.name === 'string' && map.has(t.name) ? { ...t, name: renameField(map, t.name) } : t));
      if (renamed.every((t, i) => t === inputs[i])) return body;
      checkDistinct(renamed.map((t, i) => ({ before: nameOf(inputs[i]), after: nameOf(t) })), 'inputs');
      return { ...body, inputs: renamed };
    }
  }
}

const nameOf = (t: unknown): string | undefined => (isObject(t) && typeof t.name === 'string' ? t.name : undefined);

function checkDistinct(names: ReadonlyArray<{ before: string | undefined; after: string | undefined }>, where: string): void {
  const from = new Map<string, string>();
  for (const { before, after } of names) {
    if (after === undefined || before === undefined) continue;
    const other = from.get(after);
    if (other !== undefined) throw clash(where, other, before, after);
    from.set(after, before);
  }
}

/** Decoded tensors (any OIP body form, or KServe v1 after decoding) with their names mapped. */
export function renameTensors<T extends { name: string }>(config: TensorFieldsConfig | undefined, modelInputs: readonly string[], tensors: readonly T[]): readonly T[] {
  const map = tensorFieldMap(config, modelInputs);
  if (!map || !tensors.some((t) => map.has(t.name))) return tensors;
  const renamed = tensors.map((t) => (map.has(t.name) ? { ...t, name: renameField(map, t.name) } : t));
  checkDistinct(renamed.map((t, i) => ({ before: tensors[i]!.name, after: t.name })), 'inputs');
  return renamed;
}

// ---- rows (batch_config)

const rowsOfValue = (v: unknown): number => (Array.isArray(v) ? v.length : 1);
const rowsOfColumns = (o: JsonObject): number => Object.values(o).reduce<number>((n, v) => Math.max(n, rowsOfValue(v)), 0);

/**
 * Rows a parsed body carries: `predictions` — the longest first dimension among an object's
 * values, or a bare array's length; `kserve-v1` — `instances.length`, or the columnar `inputs`'
 * first dimension; `oip-v2` — the largest `inputs[i].shape[0]`. (A model input without a batch
 * dimension makes the first dimension something else; such models have no use for "single".)
 */
export function rowsInRequest(shape: RequestShape, body: unknown): number {
  switch (shape) {
    case 'predictions':
      return isObject(body) ? rowsOfColumns(body) : rowsOfValue(body);
    case 'kserve-v1':
      if (!isObject(body)) return 1;
      if (Array.isArray(body.instances)) return body.instances.length;
      if (body.inputs === undefined) return 0;
      return isObject(body.inputs) ? rowsOfColumns(body.inputs) : rowsOfValue(body.inputs);
    case 'oip-v2': {
      if (!isObject(body) || !Array.isArray(body.inputs)) return 0;
      const inputs: unknown[] = body.inputs;
      return inputs.reduce<number>((n, t) => {
        const dims = isObject(t) ? t.shape : undefined;
        const first = Array.isArray(dims) ? (dims.length === 0 ? 1 : dims[0]) : 1;
        return Math.max(n, typeof first === 'number' ? first : 1);
      }, 0);
    }
  }
}

/** Rows of decoded tensors: the largest first dimension (a scalar is one row). */
export function rowsOfTensors(tensors: ReadonlyArray<{ shape: readonly number[] }>): number {
  return tensors.reduce((n, t) => Math.max(n, t.shape.length === 0 ? 1 : (t.shape[0] ?? 1)), 0);
}

/** The 400 for a request with more rows than `batch_config` allows, else undefined. */
export function checkBatchConfig(config: BatchConfigConfig | undefined, rows: number, what = 'The model'): ServeError | undefined {
  if (config?.batchConfig !== 'single' || rows <= 1) return undefined;
  return badRequest(`${what} has batch_config "single": it accepts one row of data per request, this request has ${rows}`);
}

// ---- /predictions parts

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

function parseJson(data: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(data)) as unknown };
  } catch {
    // Not JSON: the handler answers its own 400 for that; nothing to rename or count here.
    return { ok: false };
  }
}

/**
 * `/predictions` request parts (the default ONNX handler's input) with `tensor_fields` applied and
 * `batch_config` checked, in one parse. Part names are renamed; a lone part holding a JSON object
 * is re-encoded with its keys renamed. Parts are returned untouched when the configuration asks
 * for nothing. Throws the 400s (clashing fields, too many rows).
 */
export function preparePredictionParts<P extends { name: string; data: Uint8Array }>(
  config: (TensorFieldsConfig & BatchConfigConfig) | undefined,
  modelInputs: readonly string[],
  parts: readonly P[],
  what = 'The model',
): readonly P[] {
  const map = tensorFieldMap(config, modelInputs, what);
  const single = config?.batchConfig === 'single';
  if (!map && !single) return parts;
  // Multipart parts are only parsed to count rows; a lone part also to rename its object's keys.
  const parsed = single || parts.length === 1 ? parts.map((p) => parseJson(p.data)) : [];
  if (single) {
    const rows =
      parts.length === 1
        ? parsed[0]?.ok
          ? rowsInRequest('predictions', parsed[0].value)
          : 1
        : parsed.reduce((n, p) => Math.max(n, p.ok ? rowsOfValue(p.value) : 1), 0);
    const refused = checkBatchConfig(config, rows, what);
    if (refused) throw refused;
  }
  if (!map) return parts;
  const renamed = parts.map((p, i) => {
    const name = renameField(map, p.name);
    const json = parsed[i];
    if (parts.length === 1 && json?.ok && isObject(json.value)) {
      const value = renameKeys(json.value, map, 'Request body');
      if (value !== json.value) return { ...p, name, data: encoder.encode(JSON.stringify(value)) };
    }
    return name === p.name ? p : { ...p, name };
  });
  checkDistinct(renamed.map((p, i) => ({ before: parts[i]!.name, after: p.name })), 'Request parts');
  return renamed;
}
