/**
 * The binary tensor data extension: a JSON header of `Inference-Header-Content-Length` bytes,
 * then each binary input's raw bytes (little-endian, row-major; BOOL one byte; BYTES a 4-byte
 * length then the bytes, per element) in the order of `inputs`, sized by `binary_data_size`.
 * Tensor payloads never go through JSON: a numeric tensor becomes a typed-array view over the
 * request body when its offset is aligned for the element size, else exactly one copy.
 * Also the "raw binary request" (header length 0, the body is the single input's bytes) and
 * binary responses.
 */
import { badRequest } from '../../errors.js';
import type { OipDatatype, TensorMeta, WireTensor } from '../../runtime/types.js';
import { checkShape, decodeJsonData, parseInferHeader, parseJsonObject, responseJson, type CodecLimits, type DecodedInferRequest, type InferResponseHead } from './codec.js';
import { ELEMENT_SIZE, LITTLE_ENDIAN, oipFromOrt, viewOf, type WireData } from './datatypes.js';

export const HEADER_LENGTH = 'inference-header-content-length';

/** The header's value: undefined when absent; 400 when it is not an integer within the body. */
export function headerLengthOf(value: string | string[] | undefined, bodyLength: number): number | undefined {
  if (value === undefined) return undefined;
  const s = (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw badRequest(`Inference-Header-Content-Length must be a non-negative integer, got ${JSON.stringify(s)}`);
  if (n > bodyLength) throw badRequest(`Inference-Header-Content-Length is ${n}, but the body has only ${bodyLength} bytes`);
  return n;
}

/** Reverses each `size`-byte group (a big-endian host reading little-endian data). */
function swapped(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) for (let k = 0; k < size; k++) out[i + k] = bytes[i + size - 1 - k]!;
  return out;
}

const utf8 = new TextDecoder('utf-8');

/** BYTES elements: 4-byte little-endian length, then that many bytes (decoded as UTF-8 strings). */
function bytesElements(where: string, bytes: Uint8Array, expected: number | undefined): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw badRequest(`${where}: BYTES data ends inside the length of element [${out.length}]`);
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > bytes.length) throw badRequest(`${where}: BYTES element [${out.length}] declares ${len} bytes, only ${bytes.length - at} left`);
    out.push(utf8.decode(bytes.subarray(at, at + len)));
    at += len;
    if (expected !== undefined && out.length > expected) break;
  }
  if (expected !== undefined && out.length !== expected) {
    throw badRequest(`${where}: the shape needs ${expected} BYTES elements, the binary data holds ${out.length === expected + 1 ? 'more' : out.length}`);
  }
  return out;
}

/**
 * `size` bytes of `body` at `offset` → the tensor's typed array: a view when aligned (and the
 * host is little-endian), else one copy. BOOL bytes must be 0 or 1.
 */
export function tensorFromBytes(where: string, datatype: OipDatatype, elements: number, body: Uint8Array, offset: number, size: number): WireData {
  const bytes = body.subarray(offset, offset + size);
  if (datatype === 'BYTES') return bytesElements(where, bytes, elements);
  const elemSize = ELEMENT_SIZE[datatype];
  if (size !== elements * elemSize) {
    throw badRequest(`${where}: binary_data_size is ${size} bytes, but ${elements} ${datatype} elements take ${elements * elemSize}`);
  }
  if (datatype === 'BOOL') {
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 1) throw badRequest(`${where}: BOOL element [${i}] is byte ${bytes[i]}, expected 0 or 1`);
    }
  }
  let source: Uint8Array = bytes;
  if (!LITTLE_ENDIAN && elemSize > 1) source = swapped(bytes, elemSize);
  else if (source.byteOffset % elemSize !== 0) {
    // Not `slice()`: on a Buffer that is a view, not a copy.
    source = new Uint8Array(bytes.length);
    source.set(bytes);
  }
  return viewOf(datatype, source.buffer as ArrayBuffer, source.byteOffset, elements);
}

/** A request with a binary part: JSON header, then the binary inputs' bytes in `inputs` order. */
export function decodeBinaryRequest(body: Buffer, headerLength: number, limits: CodecLimits): DecodedInferRequest {
  const header = parseInferHeader(parseJsonObject(body.toString('utf8', 0, headerLength), 'inference request header'), limits);
  let offset = headerLength;
  const inputs = header.inputs.map((h): WireTensor => {
    if (h.binarySize === undefined) return { name: h.name, datatype: h.datatype, shape: h.shape, data: decodeJsonData(h, h.data) };
    const where = `Input "${h.name}"`;
    if (offset + h.binarySize > body.length) {
      throw badRequest(`${where}: binary_data_size ${h.binarySize} runs past the end of the body (${body.length - offset} bytes left)`);
    }
    const data = tensorFromBytes(where, h.datatype, h.elements, body, offset, h.binarySize);
    offset += h.binarySize;
    return { name: h.name, datatype: h.datatype, shape: h.shape, data };
  });
  if (offset !== body.length) {
    throw badRequest(`The body has ${body.length - headerLength} bytes after the JSON header, but the inputs' binary_data_size add up to ${offset - headerLength}`);
  }
  return { ...header, inputs };
}

/**
 * The raw binary request: the whole body is the one input's tensor. Its datatype and shape come
 * from the model (a dynamic first dimension is 1; one other dynamic dimension is inferred from the size).
 */
export function decodeRawBinaryRequest(body: Buffer, inputs: readonly TensorMeta[], limits: CodecLimits): DecodedInferRequest {
  if (inputs.length !== 1) {
    throw badRequest(`A raw binary request (Inference-Header-Content-Length: 0) needs a single-input model; this one has ${inputs.length} inputs`);
  }
  const meta = inputs[0]!;
  const where = `Input "${meta.name}"`;
  const datatype = oipFromOrt(meta.type);
  if (!datatype) throw badRequest(`${where}: its type ${meta.type} cannot be sent in a raw binary request`);
  const dims = meta.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? 1 : -1));
  let strings: string[] | undefined;
  let count: number;
  if (datatype === 'BYTES') {
    strings = bytesElements(where, body, undefined);
    count = strings.length;
  } else {
    const size = ELEMENT_SIZE[datatype];
    if (body.length % size !== 0) throw badRequest(`${where}: a raw binary body of ${body.length} bytes is not a whole number of ${datatype} elements`);
    count = body.length / size;
  }
  const unknown = dims.filter((d) => d < 0).length;
  const known = dims.reduce((a, d) => (d < 0 ? a : a * d), 1);
  if (unknown > 1) throw badRequest(`${where}: shape ${JSON.stringify(meta.shape)} has more than one dynamic dimension besides the batch; send a JSON header with the shape`);
  if (unknown === 1) {
    if (known === 0 || count % known !== 0) throw badRequest(`${where}: ${count} elements do not fill shape ${JSON.stringify(meta.shape)}`);
    dims[dims.indexOf(-1)] = count / known;
  }
  const { shape, elements } = checkShape(dims, where, limits);
  if (elements !== count) {
    throw badRequest(`${where}: the raw binary body holds ${count} ${datatype} elements, shape ${JSON.stringify(shape)} needs ${elements}`);
  }
  const data = strings ?? tensorFromBytes(where, datatype, elements, body, 0, body.length);
  return { inputs: [{ name: meta.name, datatype, shape, data }], binaryOutput: true };
}

// ---- responses ---------------------------------------------------------------------------------

const encoder = new TextEncoder();

/** A tensor's bytes as the extension lays them out. */
export function tensorBytes(t: WireTensor): Uint8Array {
  const d = t.data;
  if (Array.isArray(d)) {
    const encoded = d.map((s) => encoder.encode(s));
    const out = new Uint8Array(encoded.reduce((a, e) => a + 4 + e.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const e of encoded) {
      view.setUint32(at, e.length, true);
      out.set(e, at + 4);
      at += 4 + e.length;
    }
    return out;
  }
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return !LITTLE_ENDIAN && d.BYTES_PER_ELEMENT > 1 ? swapped(bytes, d.BYTES_PER_ELEMENT) : bytes;
}

export interface EncodedResponse {
  body: Buffer;
  /** Set when the body has a binary part (send it as Inference-Header-Content-Length). */
  headerLength?: number;
}

/** The inference response: plain JSON, or JSON header + the binary outputs' bytes in output order. */
export function encodeResponse(head: InferResponseHead, tensors: readonly WireTensor[], binary: (t: WireTensor) => boolean): EncodedResponse {
  const chunks: Uint8Array[] = [];
  const outputs = tensors.map((tensor) => {
    if (!binary(tensor)) return { tensor };
    const bytes = tensorBytes(tensor);
    chunks.push(bytes);
    return { tensor, binarySize: bytes.byteLength };
  });
  const json = Buffer.from(responseJson(head, outputs), 'utf8');
  if (chunks.length === 0) return { body: json };
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}
