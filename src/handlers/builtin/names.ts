/**
 * The built-in handler names, without loading the handlers: registration checks, the archiver
 * and the worker's loader read this, so sharp (libvips) is only loaded by workers that run an
 * image model. `index.ts` must map exactly these names (a test checks).
 */
export const BUILTIN_HANDLER_NAMES: readonly string[] = ['image_classifier', 'object_detector', 'image_segmenter'];
