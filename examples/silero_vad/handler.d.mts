/** Types of handler.mjs (for TypeScript tests and scripts; not shipped in the archive). */
export declare function initialize(context: unknown): Promise<void>;
/** One NDJSON line per request: the summary, or (batches of several) a 400 error object. */
export declare function handle(batch: unknown[], context: unknown): Promise<string[]>;
