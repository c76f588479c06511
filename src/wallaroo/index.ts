/** The Wallaroo-style model management API (issue 8, parts 4–6): catalog, routes, naming, inference effects. */
export * from './catalog.js';
export * from './inference.js';
export * from './naming.js';
export * from './routes.js';
export { NO_OWNER } from './shapes.js';
export { wallarooTimestamp } from './timestamps.js';
export { archiveFileName, recordRegistered, type RegisteredVersion } from './hooks.js';
