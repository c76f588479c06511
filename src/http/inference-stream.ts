/**
 * A job's replies → one HTTP result (spec §4.4). Without intermediate replies: the final reply as
 * usual. With them: the first intermediate reply fixes status and headers and starts a chunked
 * body (`Transfer-Encoding: chunked`, `ts_stream_next: true`); each intermediate reply is one
 * chunk, the final reply the last. The client closing its connection aborts the job, which the
 * pool turns into a `cancel` for the worker (`context.isCancelled`, `sendIntermediate` → false).
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ServeError } from '../errors.js';
import type { Logger } from '../logging.js';
import { Cancellation } from '../runtime/cancellation.js';
import type { InferenceReply, SubmitOptions } from '../runtime/types.js';
import type { HttpResult } from './reply.js';

export function replyResult(reply: InferenceReply): HttpResult {
  const result: HttpResult = { status: reply.status, body: reply.body };
  if (reply.contentType) result.contentType = reply.contentType;
  if (reply.headers) result.headers = reply.headers;
  if (reply.statusText) result.statusMessage = reply.statusText;
  return result;
}

const chunk = (body: Uint8Array) => Buffer.from(body.buffer, body.byteOffset, body.byteLength);

export interface StreamOptions {
  /** The client's connection: its close aborts the job. */
  socket?: Socket | null;
  log?: Logger;
  /** For log lines: `model m version v`. */
  what: string;
}

/** Submits through `submit` and resolves with the result to send, streamed when the handler streams. */
export function inferForHttp(submit: (opts: SubmitOptions) => Promise<InferenceReply>, opts: StreamOptions): Promise<HttpResult> {
  const abort = new Cancellation();
  const onClose = () => abort.abort();
  opts.socket?.once('close', onClose);
  let stream: Readable | undefined;
  return new Promise<HttpResult>((resolve, reject) => {
    const push = (body: Uint8Array) => {
      // Object mode: each reply stays one write, hence one HTTP chunk.
      if (body.byteLength > 0) stream?.push(chunk(body));
    };
    const onIntermediate = (reply: InferenceReply): boolean => {
      if (abort.aborted || stream?.destroyed === true) return false;
      if (!stream) {
        stream = new Readable({ objectMode: true, read() {} });
        const first = replyResult(reply);
        resolve({ ...first, body: stream, headers: { ...first.headers, ts_stream_next: 'true' } });
      }
      push(reply.body);
      return true;
    };
    submit({ signal: abort, onIntermediate })
      .then(
        (reply) => {
          if (!stream) return resolve(replyResult(reply));
          push(reply.body);
          stream.push(null);
        },
        (err: unknown) => {
          if (!stream) return reject(err);
          // The status line is gone already: end the body and say why in the log.
          const why = err instanceof ServeError ? `${err.status} ${err.type}: ${err.message}` : String(err);
          opts.log?.error(`Streamed reply of ${opts.what} failed after it started (its body was ended early): ${why}`);
          stream.push(null);
        },
      )
      .finally(() => opts.socket?.removeListener('close', onClose));
  });
}
