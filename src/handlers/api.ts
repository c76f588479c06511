/**
 * The public handler API: what a handler module in a model archive (`handler.mjs`,
 * `handler.js`, or `file.mjs:functionName`) exports, and the context it receives. It mirrors
 * TorchServe's BaseHandler: either one `handle(batch, context)` entry point, or any of
 * `initialize`, `preprocess`, `inference`, `postprocess` (and optionally `explain`), the missing
 * steps falling back to the default ONNX handler's. Built-in handlers implement the same shape.
 *
 * Handlers run inside a worker thread that owns the ONNX Runtime session. Types only: this file
 * is published as `onnxserve/handler` (dist/handlers/api.d.ts) for handler authors.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Manifest } from '../archive/types.js';
import type { ModelSignature } from '../runtime/types.js';

/** One request of a batch, as TorchServe hands it to a handler (one dict per request). */
export interface HandlerRequest {
  /**
   * Input parameters by name: multipart/form field names, or `body` for a raw body. Decoded as
   * TorchServe's worker does: JSON when the part is `application/json`, a string for `text/*`,
   * raw bytes (Uint8Array) otherwise.
   */
  readonly data: Readonly<Record<string, unknown>>;
  /** The same parameters, undecoded, in arrival order. */
  readonly parts: ReadonlyArray<{ readonly name: string; readonly contentType?: string; readonly data: Uint8Array }>;
  /** Request headers (lower-case names), plus TorchServe's `url_path` and `explain` ("True"/"False"). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What a handler returns per request: bytes are sent as they are, a string as UTF-8 text, any
 * other value as JSON (pretty-printed, as TorchServe's `json.dumps(indent=2)`). Default content
 * types: `application/octet-stream`, `text/plain; charset=utf-8`, `application/json` (unless set
 * with `setResponseContentType`). An `Error` carrying a numeric `status` (and optionally `type`)
 * returned *as one request's result* fails that request alone with that status (an onnxserve
 * addition; the default handler uses it for a bad request inside a batch).
 */
export type HandlerOutput = Uint8Array | string | unknown;

export interface HandlerLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface HandlerContext {
  readonly modelName: string;
  readonly modelVersion: string;
  /** The extracted archive folder (TorchServe: `context.system_properties["model_dir"]`). */
  readonly modelDir: string;
  /** Absolute path of the archive's serialized `.onnx` file. */
  readonly modelFile: string;
  readonly manifest: Manifest;
  /** Every key of model-config.yaml, handler sections included; `{}` without one (TorchServe: `model_yaml_config`). */
  readonly modelYamlConfig: Readonly<Record<string, unknown>>;
  /** The ONNX Runtime session of the serialized file. */
  readonly session: InferenceSession;
  /**
   * The server's onnxruntime-node module (for `new context.ort.Tensor(...)`): a module inside an
   * archive cannot resolve the server's node_modules itself.
   */
  readonly ort: typeof import('onnxruntime-node');
  /** Input and output names, types and shapes of `session`. */
  readonly signature: ModelSignature;
  /** `session.run` (counted by the server's statistics); prefer it to calling the session directly. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /**
   * Streams a partial result for request `index` (default 0) of the current batch: the reply
   * becomes `Transfer-Encoding: chunked`, this is one chunk, and the handler's return value is
   * the last. Resolves `false` once that client has disconnected: stop generating then.
   */
  sendIntermediate(result: HandlerOutput, index?: number): Promise<boolean>;
  /** Whether the client of request `index` (default 0) has gone away. */
  isCancelled(index?: number): boolean;
  /** TorchServe's `context.set_response_status(code, phrase)` for request `index` (default 0). */
  setResponseStatus(code: number, phrase?: string, index?: number): void;
  setResponseContentType(contentType: string, index?: number): void;
  setResponseHeader(name: string, value: string, index?: number): void;
  readonly log: HandlerLogger;
}

type Awaitable<T> = T | Promise<T>;

/**
 * A handler module's exports. Provide `handle`, or any of the steps. Throwing fails the whole
 * batch with 503 `Prediction failed`, unless the error carries a numeric `status` (and
 * optionally a `type`): then that status and the error's message are replied, as TorchServe's
 * `PredictionException(message, code)`.
 *
 * Missing steps are the default ONNX handler's, which pass these values between them:
 * - `preprocess` → one `{input name: Tensor}` per request (request parts read as JSON), or an
 *   error (400) in the slot of a request the model cannot take;
 * - `inference` takes that list (items may also be a Tensor for a single-input model, or a plain
 *   JSON value mapped onto the inputs like a request body) and returns one `{output name: Tensor}`
 *   per request, running compatible requests as one `session.run`; given a single feeds object
 *   instead of a list it runs once for the whole batch;
 * - `postprocess` turns each outputs object into the JSON reply (`{label: score}` rows with an
 *   `index_to_name.json`); a single whole-batch outputs object is split into one reply per row.
 * Error items pass through every step. `initialize` has no default for a module that exports steps
 * (the default steps load what they need on first use).
 */
export interface HandlerModule {
  initialize?(context: HandlerContext): Awaitable<void>;
  handle?(batch: HandlerRequest[], context: HandlerContext): Awaitable<HandlerOutput[]>;
  preprocess?(batch: HandlerRequest[], context: HandlerContext): Awaitable<unknown>;
  inference?(input: unknown, context: HandlerContext): Awaitable<unknown>;
  postprocess?(output: unknown, context: HandlerContext): Awaitable<HandlerOutput[]>;
  /** Called for `/explanations/...` with the preprocessed input; one result per request. */
  explain?(input: unknown, context: HandlerContext, batch: HandlerRequest[]): Awaitable<HandlerOutput[]>;
}

/** The step names a module may export (checked by the loader and the archiver). */
export const HANDLER_STEPS = ['initialize', 'handle', 'preprocess', 'inference', 'postprocess', 'explain'] as const;
