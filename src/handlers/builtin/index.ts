/** TorchServe's built-in handler names that onnxserve implements for ONNX models. */
import type { HandlerModule } from '../api.js';

export const BUILTIN_HANDLERS: Readonly<Record<string, HandlerModule>> = {};
