/** Public API of the configuration module. */
export type { BindAddress, ModelsJsonParams, ServerConfig, ServiceEnvelope } from './types.js';
export { SERVICE_ENVELOPES } from './types.js';
export { parseProperties, stringifyProperties, PropertiesSyntaxError } from './properties.js';
export { parseBindAddress } from './address.js';
export { resolveConfig } from './resolve.js';
export type { CliOptions, ConfigSources } from './resolve.js';
export { nodeConfigSources } from './node-sources.js';
export { ENV_OVERRIDES } from './env.js';
export { DEFAULT_ALLOWED_URLS, javaBoolean } from './values.js';
