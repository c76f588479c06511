/**
 * The one error family of onnxserve. Anything that should reach a client is thrown as a
 * ServeError; `http/errors.ts` renders it into TorchServe's {"code","type","message"} envelope.
 * `type` is the simple Java class name TorchServe would report, so clients that switch on it keep working.
 */
export class ServeError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServeError';
  }

  /** A structured-clone-safe form, for crossing the worker-thread boundary. */
  toPlain(): PlainServeError {
    return { status: this.status, type: this.type, message: this.message };
  }

  static fromPlain(p: PlainServeError): ServeError {
    return new ServeError(p.status, p.type, p.message);
  }
}

export interface PlainServeError {
  status: number;
  type: string;
  message: string;
}

export const RESOURCE_NOT_FOUND = 'Requested resource is not found, please refer to API document.';
export const METHOD_NOT_ALLOWED = 'Requested method is not allowed, please refer to API document.';

export const badRequest = (message: string) => new ServeError(400, 'BadRequestException', message);
export const invalidModel = (message: string) => new ServeError(400, 'InvalidModelException', message);
export const downloadFailed = (message: string) => new ServeError(400, 'DownloadArchiveException', message);
export const resourceNotFound = () => new ServeError(404, 'ResourceNotFoundException', RESOURCE_NOT_FOUND);
export const modelNotFound = (message: string) => new ServeError(404, 'ModelNotFoundException', message);
export const modelVersionNotFound = (message: string) =>
  new ServeError(404, 'ModelVersionNotFoundException', message);
export const methodNotAllowed = () => new ServeError(405, 'MethodNotAllowedException', METHOD_NOT_ALLOWED);
export const requestTimeout = (message: string) => new ServeError(408, 'RequestTimeoutException', message);
export const conflict = (message: string) => new ServeError(409, 'ConflictStatusException', message);
export const internalError = (message: string, status = 500) =>
  new ServeError(status, 'InternalServerException', message);
export const serviceUnavailable = (message: string) => new ServeError(503, 'ServiceUnavailableException', message);
/** TorchServe maps IllegalArgumentException subclasses (e.g. InvalidModelVersionException) to 403. */
export const invalidModelVersion = (message: string) => new ServeError(403, 'InvalidModelVersionException', message);

/** The texts TorchServe uses when a model cannot take a job (no worker, queue full). */
export function noWorkerMessage(model: string, version?: string): string {
  const who = version === undefined ? `Model "${model}"` : `Model "${model}" Version ${version}"`;
  return (
    `${who} has no worker to serve inference request. Please use scale workers API to add workers. ` +
    'If this is a sequence inference, please check if it is closed, or expired; or exceeds maxSequenceJobQueueSize'
  );
}

/** Start-up problems (bad config, missing model store): printed by the CLI, exit non-zero. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** What a request that arrives while the server drains is told (503 on HTTP, UNAVAILABLE on gRPC). */
export const SHUTTING_DOWN = 'The server is shutting down';
