/**
 * The handler room: the public contract (api.ts), resolution of handler specs (spec.ts on both
 * threads, loader.ts in workers), BaseHandler-style composition (compose.ts), the worker's
 * context (context.ts), output encoding (outputs.ts) and the default ONNX handler.
 */
export type {
  HandlerContext,
  HandlerLogger,
  HandlerModule,
  HandlerOutput,
  HandlerRequest,
} from './api.js';
export { HANDLER_STEPS } from './api.js';
export type { NumericArray, TensorData, TensorMap, TensorType } from './types.js';
export { DEFAULT_HANDLER_NAMES, moduleInside, parseHandlerSpec, supportedHandlersText, type HandlerSpec } from './spec.js';
export { HandlerContractError, validateHandlerModule } from './module-contract.js';
export { DEFAULT_ONNX_HANDLER } from './default-onnx.js';
