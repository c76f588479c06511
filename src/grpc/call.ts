/** What every gRPC handler needs of a call: token check, headers for the handler, a cancellation signal. */
import type * as grpc from '@grpc/grpc-js';
import { Cancellation } from '../runtime/cancellation.js';
import type { TokenAuthority } from '../security/tokens.js';

/** The `authorization` metadata as the HTTP header's text (`Bearer <key>`), if sent. */
export function authorizationOf(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : value?.toString('utf8');
}

/** Token check on the `authorization` metadata; always true when tokens are off. */
export function authorized(tokens: TokenAuthority | undefined, kind: 'inference' | 'management', metadata: grpc.Metadata): boolean {
  return !tokens || tokens.allows(kind, authorizationOf(metadata));
}

/** Metadata as handler headers (`context.get_request_header`), without the key. */
export function metadataHeaders(metadata: grpc.Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) {
    if (k === 'authorization') continue;
    headers[k] = typeof v === 'string' ? v : v.toString('utf8');
  }
  return headers;
}

interface CancellableCall {
  on(event: 'cancelled', listener: () => void): unknown;
  getDeadline(): grpc.Deadline;
}

/**
 * A signal that fires when the client cancels or the call's deadline passes, so a queued request
 * is dropped from its model's queue and a running one is told (`context.isCancelled`). `done()`
 * clears the deadline timer once the call has its answer.
 */
export function callSignal(call: CancellableCall): { signal: Cancellation; done(): void } {
  const signal = new Cancellation();
  call.on('cancelled', () => signal.abort());
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(at)) {
    timer = setTimeout(() => signal.abort(), Math.max(0, at - Date.now()));
    timer.unref();
  }
  return { signal, done: () => timer !== undefined && clearTimeout(timer) };
}

/** What the gRPC services tell the batcher's arrival tracker (http/arrivals.ts `begin`). */
export interface GrpcArrivals {
  begin(): () => void;
}

/** Runs `submit` counted as a request in flight (for busy polling's "alone" rule). */
export function counted<T>(arrivals: GrpcArrivals | undefined, submit: () => Promise<T>): Promise<T> {
  if (!arrivals) return submit();
  const end = arrivals.begin();
  let p: Promise<T>;
  try {
    p = submit();
  } catch (err) {
    end();
    throw err;
  }
  return p.finally(end);
}
