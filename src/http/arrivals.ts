/**
 * Which connections of the inference API are about to bring a request — what the batcher asks
 * before holding a partial batch (runtime/pool.ts, "Batching rule"). Each connection is:
 *   fresh      opened, no request yet: clients open a connection to send one
 *   receiving  a request's headers arrived, its body is not handled yet
 *   waiting    its request is with a route (queued or running): HTTP/1.1 sends nothing more
 *              on it until the reply, so it cannot add to a batch
 *   idle       answered, keep-alive: may send again, or not for minutes (a pooled connection)
 * A request is on its way when a connection is receiving, or fresh and opened less than the
 * batch delay ago. Idle connections do not count: a client's pool of keep-alive connections
 * would otherwise make every lone request wait the whole delay (measured: docs/architecture.md).
 *
 * Cost per request: three state changes (a counter each, or an O(1) unlink).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ArrivalHint } from '../runtime/types.js';

type State = 'fresh' | 'receiving' | 'waiting' | 'idle' | 'closed';

interface Conn {
  state: State;
  /** performance.now() when it was opened. */
  opened: number;
  /** The list of fresh connections, oldest first (only while fresh). */
  prev?: Conn;
  next?: Conn;
}

const CONN = Symbol('onnxserve.arrivals');
type Tracked = Socket & { [CONN]?: Conn };

export class ArrivalTracker implements ArrivalHint {
  private receivingCount = 0;
  private waitingCount = 0;
  /** Fresh connections in the order they were opened: the newest is `newest`. */
  private oldest?: Conn;
  private newest?: Conn;
  private readonly listeners = new Set<() => void>();

  /** Follows the connections and requests of `server` (the inference listener's); `secure`: an HTTPS server, whose requests arrive on the TLS socket. */
  attach(server: Server, secure = false): void {
    server.on(secure ? 'secureConnection' : 'connection', (socket: Tracked) => {
      const conn: Conn = { state: 'fresh', opened: performance.now() };
      socket[CONN] = conn;
      this.link(conn);
      socket.once('close', () => this.set(conn, 'closed'));
    });
    // Before Fastify's own listener, so the state is `receiving` before any route can run.
    server.prependListener('request', (req: { socket: Tracked }) => {
      const conn = req.socket[CONN];
      if (conn) this.set(conn, 'receiving');
    });
  }

  /** The request on `socket` was read and handed to a route. */
  handled(socket: Socket | null | undefined): void {
    const conn = (socket as Tracked | null | undefined)?.[CONN];
    if (conn?.state === 'receiving') this.set(conn, 'waiting');
  }

  /** The response on `socket` finished. */
  answered(socket: Socket | null | undefined): void {
    const conn = (socket as Tracked | null | undefined)?.[CONN];
    if (conn && conn.state !== 'closed') this.set(conn, 'idle');
  }

  couldArrive(windowMs: number): boolean {
    if (this.receivingCount > 0) return true;
    return this.newest !== undefined && performance.now() - this.newest.opened < windowMs;
  }

  /**
   * A request of another protocol (gRPC) is with a route until the returned function is called:
   * it counts as `waiting`, so busy polling engages for a lone gRPC request and never while one
   * runs beside others. (gRPC messages are parsed before a handler sees them: no `receiving`.)
   */
  begin(): () => void {
    this.waitingCount++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.waitingCount--;
    };
  }

  alone(): boolean {
    return this.waitingCount === 1 && this.receivingCount === 0;
  }

  onQuiet(listener: () => void): () => void {
    const own = () => listener(); // a function of its own, so two subscriptions of one listener stay two
    this.listeners.add(own);
    return () => void this.listeners.delete(own);
  }

  private set(conn: Conn, state: State): void {
    const was = conn.state;
    if (was === state) return;
    if (was === 'fresh') this.unlink(conn);
    else if (was === 'receiving') this.receivingCount--;
    else if (was === 'waiting') this.waitingCount--;
    conn.state = state;
    if (state === 'receiving') this.receivingCount++;
    else if (state === 'waiting') this.waitingCount++;
    // Fewer requests on their way: a held batch may not need to wait any more.
    if ((was === 'fresh' || was === 'receiving') && state !== 'receiving' && this.listeners.size > 0) {
      for (const l of [...this.listeners]) l();
    }
  }

  private link(conn: Conn): void {
    conn.prev = this.newest;
    if (this.newest) this.newest.next = conn;
    else this.oldest = conn;
    this.newest = conn;
  }

  private unlink(conn: Conn): void {
    if (conn.prev) conn.prev.next = conn.next;
    else this.oldest = conn.next;
    if (conn.next) conn.next.prev = conn.prev;
    else this.newest = conn.prev;
    conn.prev = conn.next = undefined;
  }
}
