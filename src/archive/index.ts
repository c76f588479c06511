export type { Manifest, ModelArchive, ModelYamlConfig } from './types.js';
export { manifestToJson, manifestWarnings, parseManifest, VALID_RUNTIMES } from './manifest.js';
export {
  MAX_MODEL_CONFIG_CODE_POINTS,
  MAX_MODEL_CONFIG_DEPTH,
  parseModelConfig,
  type ModelConfigLimits,
  type ParsedModelConfig,
} from './model-config.js';
export {
  ArchiveSecurityError,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_UNPACKED_BYTES,
  extractArchive,
  extractTarGz,
  extractZip,
  type ExtractLimits,
} from './extract.js';
export { DEFAULT_CONFIG_FILE, DEFAULT_MAX_MANIFEST_BYTES, MANIFEST_PATH, openArchive, resolveModelFile, type OpenArchiveOptions } from './open.js';
export { isValidModelName, MODEL_NAME_PATTERN, modelNameFromFile } from './naming.js';
