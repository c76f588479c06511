/**
 * Raw TCP exchanges for the security tests: bytes the way a hostile client sends them (malformed
 * request lines, slow headers, stalled or oddly chunked bodies), and a minimal parser for whatever
 * comes back, so a test can tell "a well-formed HTTP response" from "a clean close" from "a hang".
 */
import net from 'node:net';

export interface RawOutcome {
  /** Every byte the server sent before it closed the connection (or the wait ended). */
  response: Buffer;
  /** The server closed (or reset) the connection before `timeoutMs`. */
  closed: boolean;
  /** `timeoutMs` passed with the connection open and (with `untilResponse`) no complete response. */
  timedOut: boolean;
  /** A reset (ECONNRESET / EPIPE) instead of an orderly close. */
  reset: boolean;
  elapsedMs: number;
}

export interface RawOptions {
  /** Pause between pieces (a slow client). */
  delayMs?: number;
  /** Give up (and call it a hang) after this long. */
  timeoutMs: number;
  /**
   * Half-close after the last piece. Node's HTTP server does not allow half-open connections: it
   * drops a request still in progress when the client's FIN arrives, so only for requests whose
   * end is the point (a truncated body). Default false.
   */
  end?: boolean;
  /** Resolve as soon as one complete response has arrived (a keep-alive connection stays open). */
  untilResponse?: boolean;
}

/** Sends `pieces` over one connection and waits for the server to close it. */
export function rawExchange(port: number, pieces: ReadonlyArray<string | Buffer>, opts: RawOptions): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let reset = false;
    let settled = false;
    const finish = (closed: boolean, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks), closed, timedOut, reset, elapsedMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false, true), opts.timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.untilResponse && parseResponse(Buffer.concat(chunks))?.complete) finish(false);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
    });
    socket.on('close', () => finish(true));
    void (async () => {
      for (const piece of pieces) {
        if (socket.destroyed || settled) return;
        socket.write(piece);
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      }
      if (opts.end === true && !socket.destroyed) socket.end();
    })();
  });
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The body arrived whole (by Content-Length, chunked framing, or up to the close). */
  complete: boolean;
}

function dechunk(raw: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(raw.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) return { body: Buffer.concat(parts), complete: false };
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    if (eol + 2 + size > raw.length) return { body: Buffer.concat(parts), complete: false };
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The first HTTP response in `raw`; undefined when it does not start with a status line. */
export function parseResponse(raw: Buffer): ParsedResponse | undefined {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const lines = raw.toString('latin1', 0, headEnd).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(headEnd + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') return { status: Number(m[1]), headers, ...dechunk(rest) };
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    return { status: Number(m[1]), headers, body: rest.subarray(0, n), complete: rest.length >= n };
  }
  return { status: Number(m[1]), headers, body: rest, complete: true };
}

/** The port of an endpoint such as `http://127.0.0.1:8080`. */
export const portOf = (endpoint: string): number => Number(new URL(endpoint).port);
