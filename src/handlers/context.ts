/**
 * The HandlerContext a worker gives its handler. One base context per worker (what `initialize`
 * gets); each batch (or each half of a mixed predictions/explanations batch) gets a child of it
 * (`Object.create`, so properties a handler sets on the context in `initialize` stay visible) bound
 * to that batch's scope: per-request response settings, cancellation and streaming. A child whose
 * batch is over answers `sendIntermediate` with false.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Manifest } from '../archive/types.js';
import type { InferenceReply, ModelSignature } from '../runtime/types.js';
import type { HandlerContext, HandlerLogger, HandlerOutput } from './api.js';
import { encodeReply, isHttpStatus, newResponseSettings, statusErrorOf, type ResponseSettings } from './outputs.js';

export interface BatchHooks {
  /** Sends one intermediate reply for request `index` of the pool's batch (not of the sub-batch). */
  sendIntermediate(index: number, reply: InferenceReply): void;
  /** Whether the client of request `index` of the pool's batch has gone away. */
  isCancelled(index: number): boolean;
}

/** The requests of one handler call: their positions in the pool's batch and their response settings. */
export class BatchScope {
  readonly responses: ResponseSettings[];
  private open = true;

  constructor(
    /** Position in the pool's batch of each request handed to the handler. */
    readonly positions: readonly number[],
    private readonly hooks: BatchHooks,
  ) {
    this.responses = positions.map(() => newResponseSettings());
  }

  get size(): number {
    return this.positions.length;
  }

  get isOpen(): boolean {
    return this.open;
  }

  close(): void {
    this.open = false;
  }

  /** Validates a handler-given request index. */
  index(i: number | undefined, what: string): number {
    const k = i ?? 0;
    if (!Number.isInteger(k) || k < 0 || k >= this.positions.length) {
      throw new RangeError(`${what}: request index ${String(i)} is outside this batch of ${this.positions.length}`);
    }
    return k;
  }

  cancelled(k: number): boolean {
    return !this.open || this.hooks.isCancelled(this.positions[k] ?? -1);
  }

  send(k: number, reply: InferenceReply): void {
    this.hooks.sendIntermediate(this.positions[k] ?? -1, reply);
  }
}

export interface ContextInit {
  modelName: string;
  modelVersion: string;
  modelDir: string;
  modelFile: string;
  manifest: Manifest;
  modelYamlConfig: Record<string, unknown>;
  session: InferenceSession;
  ort: typeof import('onnxruntime-node');
  signature: ModelSignature;
  log: HandlerLogger;
}

/** Lets the event loop turn (so `cancel` messages from the pool are received) before going on. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Printable ASCII and tabs (and Latin-1 beyond): what Node accepts in a header value or status phrase.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export class WorkerHandlerContext implements HandlerContext {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly modelDir: string;
  readonly modelFile: string;
  readonly manifest: Manifest;
  readonly modelYamlConfig: Readonly<Record<string, unknown>>;
  readonly session: InferenceSession;
  readonly ort: typeof import('onnxruntime-node');
  readonly signature: ModelSignature;
  readonly log: HandlerLogger;
  /** Set on batch children only. */
  private scope: BatchScope | undefined;

  constructor(init: ContextInit) {
    this.modelName = init.modelName;
    this.modelVersion = init.modelVersion;
    this.modelDir = init.modelDir;
    this.modelFile = init.modelFile;
    this.manifest = init.manifest;
    this.modelYamlConfig = init.modelYamlConfig;
    this.session = init.session;
    this.ort = init.ort;
    this.signature = init.signature;
    this.log = init.log;
  }

  /** A child context bound to one handler call. */
  forBatch(scope: BatchScope): WorkerHandlerContext {
    const child = Object.create(this) as WorkerHandlerContext;
    child.scope = scope;
    return child;
  }

  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    // The worker wraps session.run itself (counted, and flagged as a native call).
    return this.session.run(feeds) as Promise<Record<string, Tensor>>;
  }

  async sendIntermediate(result: HandlerOutput, index?: number): Promise<boolean> {
    const scope = this.scope;
    if (!scope?.isOpen) {
      await yieldToEventLoop();
      return false;
    }
    const k = scope.index(index, 'sendIntermediate');
    if (!scope.cancelled(k)) {
      if (result instanceof Error && statusErrorOf(result)) throw new TypeError('sendIntermediate cannot send an error; throw it instead');
      scope.send(k, encodeReply(result, scope.responses[k]));
    }
    await yieldToEventLoop();
    return !scope.cancelled(k);
  }

  isCancelled(index?: number): boolean {
    const scope = this.scope;
    if (!scope) return false;
    return scope.cancelled(scope.index(index, 'isCancelled'));
  }

  setResponseStatus(code: number, phrase?: string, index?: number): void {
    const settings = this.settings(index, 'setResponseStatus');
    if (!isHttpStatus(code)) throw new RangeError(`setResponseStatus: ${String(code)} is not an HTTP status code`);
    if (phrase !== undefined && (typeof phrase !== 'string' || !HEADER_VALUE.test(phrase))) {
      throw new TypeError('setResponseStatus: the reason phrase must be a single line of text');
    }
    settings.status = code;
    settings.phrase = phrase;
  }

  setResponseContentType(contentType: string, index?: number): void {
    const settings = this.settings(index, 'setResponseContentType');
    if (typeof contentType !== 'string' || contentType === '' || !HEADER_VALUE.test(contentType)) {
      throw new TypeError('setResponseContentType: the content type must be a single line of text');
    }
    settings.contentType = contentType;
  }

  setResponseHeader(name: string, value: string, index?: number): void {
    const settings = this.settings(index, 'setResponseHeader');
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) throw new TypeError(`setResponseHeader: invalid header name ${JSON.stringify(name)}`);
    const text = String(value);
    if (!HEADER_VALUE.test(text)) throw new TypeError(`setResponseHeader: invalid value for header ${name}`);
    settings.headers[name] = text;
  }

  private settings(index: number | undefined, what: string): ResponseSettings {
    const scope = this.scope;
    if (!scope) throw new Error(`${what} can only be called while a batch is handled`);
    return scope.responses[scope.index(index, what)]!;
  }
}
