/**
 * The message lane between a pool and one worker thread: a MessageChannel plus a doorbell (three
 * Int32 counters on a SharedArrayBuffer) that lets either side busy-poll for the other's next
 * message for a bounded number of microseconds instead of going to sleep.
 *
 * Why: a message to a sleeping thread costs a thread wake-up (libuv async → epoll → scheduler),
 * measured at 60-90 µs per hop on the 2-core VM; a tiny model's request crosses two hops, more than
 * the whole HTTP round trip of a bare node:http server. Busy-polling is used only when one request
 * is in flight on the whole server (the pool decides, see pool.ts `awaitBriefly`), so no other
 * work is delayed by it and the CPU it burns is otherwise idle.
 *
 * Protocol: a sender posts its message on the port and then increments its own counter; a
 * receiver counts the messages it consumed, so "something is waiting" is `counter > consumed`.
 * A message may be seen (event or receiveMessageOnPort) before its counter moves; consumed then
 * runs ahead for a moment, which only means nothing is waiting — never a lost message.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/** Messages posted by the pool. */
export const TO_WORKER = 0;
/** Messages posted by the worker. */
export const TO_POOL = 1;
/** How long the worker may busy-poll for its next batch after a result, µs (0: sleep at once). */
export const WORKER_POLL_US = 2;

export interface LaneEnd {
  port: MessagePort;
  bell: Int32Array;
}

export function createLane(): { pool: LaneEnd; worker: { port: MessagePort; bell: SharedArrayBuffer } } {
  const { port1, port2 } = new MessageChannel();
  const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  return { pool: { port: port1, bell: new Int32Array(shared) }, worker: { port: port2, bell: shared } };
}

/** Posts `msg` and rings the sender's counter (`TO_WORKER` from the pool, `TO_POOL` from the worker). */
export function post(end: LaneEnd, counter: typeof TO_WORKER | typeof TO_POOL, msg: unknown, transfer: ArrayBuffer[] = []): void {
  end.port.postMessage(msg, transfer);
  Atomics.add(end.bell, counter, 1);
}

/** Spins until `counter` moves past `consumed` or `us` microseconds pass; true when a message is waiting. */
export function pollFor(bell: Int32Array, counter: number, consumed: number, us: number): boolean {
  if (Atomics.load(bell, counter) > consumed) return true;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  for (;;) {
    // Check the clock only every few loads: hrtime is the costlier of the two.
    for (let i = 0; i < 64; i++) if (Atomics.load(bell, counter) > consumed) return true;
    if (process.hrtime.bigint() >= deadline) return Atomics.load(bell, counter) > consumed;
  }
}

/** Hands every message already queued on `port` to `onMessage`, synchronously; returns how many. */
export function drain(port: MessagePort, onMessage: (msg: unknown) => void): number {
  let n = 0;
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    n++;
    onMessage(m.message);
  }
  return n;
}
