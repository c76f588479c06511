/**
 * TorchServe's built-in handler names that onnxserve implements for ONNX models (vision: sharp
 * decodes JPEG/PNG/WebP). Each is a HandlerModule (api.ts): initialize, preprocess, inference,
 * postprocess and handle; image_classifier also explain (occlusion sensitivity).
 */
import type { HandlerModule } from '../api.js';
import { imageClassifier } from './image-classifier.js';
import { imageSegmenter } from './image-segmenter.js';
import { objectDetector } from './object-detector.js';

export const BUILTIN_HANDLERS: Readonly<Record<string, HandlerModule>> = {
  image_classifier: imageClassifier,
  object_detector: objectDetector,
  image_segmenter: imageSegmenter,
};
