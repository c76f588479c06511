/**
 * Open Inference Protocol datatypes ⇄ ONNX Runtime element types, and the typed array that carries
 * each in a WireTensor (types.ts), for protocol adapters: model metadata (`oipDatatypeOf` of each
 * signature entry's `type`) and decoding binary tensor data (`WIRE_ARRAY_OF`, `elementBytes`).
 * The tables live with the default ONNX handler, which checks requests against them.
 */
export {
  OIP_DATATYPES,
  ORT_TYPE_OF,
  WIRE_ARRAY_OF,
  elementBytes,
  isOipDatatype,
  isWireData,
  oipDatatypeOf,
  type TypedArrayClass,
} from '../handlers/wire-tensors.js';
