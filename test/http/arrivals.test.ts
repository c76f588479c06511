/**
 * ArrivalTracker (http/arrivals.ts) on a real node:http server: which connections count as
 * "a request is on its way" for the batcher, and when it hears that fewer are.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ArrivalTracker } from '../../src/http/arrivals.js';

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that hands each request to the tracker as the listener does: body read → handled, reply finished → answered. */
async function serve(tracker: ArrivalTracker): Promise<{ port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      tracker.handled(req.socket);
      bodies.push(Buffer.concat(chunks).toString());
      res.on('finish', () => tracker.answered(req.socket));
      res.end('ok');
    });
  });
  tracker.attach(server);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, bodies };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    sockets.push(s);
  });
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const head = (length: number) => `POST /predictions/m HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;

describe('ArrivalTracker', () => {
  it('counts nothing without connections', () => {
    expect(new ArrivalTracker().couldArrive(1_000)).toBe(false);
  });

  it('counts a new connection for the batch delay after it opened, until its first request is handled', async () => {
    const tracker = new ArrivalTracker();
    const { port, bodies } = await serve(tracker);
    const s = await connect(port);
    await until(() => tracker.couldArrive(60_000), 'the connection to be seen');
    expect(tracker.couldArrive(0)).toBe(false); // opened longer ago than a 0 ms window
    s.write(head(2) + '[]');
    await until(() => bodies.length === 1, 'the request');
    await until(() => !tracker.couldArrive(60_000), 'the request to be handled');
  });

  it('counts a request whose body is still arriving, whatever the window', async () => {
    const tracker = new ArrivalTracker();
    const { port, bodies } = await serve(tracker);
    const s = await connect(port);
    s.write(head(5) + '[1');
    await until(() => tracker.couldArrive(0), 'the request headers');
    s.write(',2]');
    await until(() => bodies.length === 1, 'the body');
    expect(bodies[0]).toBe('[1,2]');
    await until(() => !tracker.couldArrive(0), 'the request to be handled');
  });

  it('is alone while exactly one request is with the routes and none is arriving', async () => {
    const tracker = new ArrivalTracker();
    const handled: Array<() => void> = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        tracker.handled(req.socket);
        // Held with the "route" until the test answers it.
        handled.push(() => {
          res.on('finish', () => tracker.answered(req.socket));
          res.end('ok');
        });
      });
    });
    tracker.attach(server);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    expect(tracker.alone()).toBe(false);
    const a = await connect(port);
    const b = await connect(port);
    a.write(head(2) + '[]');
    await until(() => handled.length === 1, 'the first request');
    expect(tracker.alone()).toBe(true);
    b.write(head(2)); // headers in, body still coming: no longer alone
    await until(() => !tracker.alone(), 'the second request headers');
    b.write('[]');
    await until(() => handled.length === 2, 'the second request');
    expect(tracker.alone()).toBe(false); // two with the routes
    handled[0]!();
    await until(() => tracker.alone(), 'the first answer');
    handled[1]!();
    await until(() => !tracker.alone(), 'the second answer');
  });

  it('does not count an idle keep-alive connection, and counts its next request again', async () => {
    const tracker = new ArrivalTracker();
    const { port, bodies } = await serve(tracker);
    const s = await connect(port);
    s.write(head(2) + '[]');
    await until(() => bodies.length === 1, 'the first request');
    await new Promise((r) => setTimeout(r, 20)); // answered, connection kept open
    expect(tracker.couldArrive(60_000)).toBe(false);
    s.write(head(2));
    await until(() => tracker.couldArrive(0), 'the second request headers');
    s.write('{}');
    await until(() => bodies.length === 2 && !tracker.couldArrive(60_000), 'the second request');
  });

  it('tells listeners when fewer requests are on their way: handled, or a new connection closed', async () => {
    const tracker = new ArrivalTracker();
    const { port, bodies } = await serve(tracker);
    let quiet = 0;
    const unsubscribe = tracker.onQuiet(() => quiet++);
    const a = await connect(port);
    const b = await connect(port);
    await until(() => tracker.couldArrive(60_000), 'the connections');
    a.write(head(2) + '[]');
    await until(() => bodies.length === 1 && quiet >= 1, 'a quiet signal for the handled request');
    const before = quiet;
    b.destroy();
    await until(() => quiet > before, 'a quiet signal for the closed connection');
    expect(tracker.couldArrive(60_000)).toBe(false);
    unsubscribe();
    const after = quiet;
    const c = await connect(port);
    c.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(quiet).toBe(after);
  });
});

describe('requests of other protocols (gRPC)', () => {
  it('begin() counts one in flight until its end is called (once), so alone() sees it', () => {
    const t = new ArrivalTracker();
    expect(t.alone()).toBe(false);
    const endA = t.begin();
    expect(t.alone()).toBe(true);
    const endB = t.begin();
    expect(t.alone()).toBe(false);
    endB();
    endB();
    expect(t.alone()).toBe(true);
    endA();
    expect(t.alone()).toBe(false);
  });
});
