/**
 * HTTPS listeners (src/http/tls.ts): key material loading and its errors, and a real Fastify
 * server on the sniffing factory: HTTPS served, plain HTTP refused with TorchServe's 403, old TLS
 * refused, garbage and silent clients dropped without harm.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsServerFactory, loadTlsMaterial, type TlsMaterial, type TlsServerOptions } from '../../src/http/tls.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const CA = readFileSync(join(FIXTURES, 'cert.pem'));
const HTTPS_ONLY_BODY = '{\n  "status": "This TorchServe instance only accepts HTTPS requests"\n}\n';

const pemMaterial = () => loadTlsMaterial({ certificateFile: 'cert.pem', privateKeyFile: 'key.pem' }, FIXTURES);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function collect(res: http.IncomingMessage): Promise<Reply> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', fail);
  });
}

function httpsGet(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((done, fail) => {
    https.get({ host: '127.0.0.1', port, path, ca: CA, headers, agent: false }, (res) => collect(res).then(done, fail)).on('error', fail);
  });
}

function httpGet(port: number, path: string): Promise<Reply> {
  return new Promise((done, fail) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => collect(res).then(done, fail)).on('error', fail);
  });
}

/** Sends `bytes` on a raw TCP connection; resolves with all it got back once the server closes it. */
function rawExchange(port: number, bytes?: Buffer): Promise<{ data: string; ms: number }> {
  return new Promise((done) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      if (bytes) socket.write(bytes);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset is a close too
    socket.on('close', () => done({ data: Buffer.concat(chunks).toString('latin1'), ms: performance.now() - started }));
  });
}

/** A Fastify app on the factory, built with the options listener.ts uses. */
async function startApp(
  material: TlsMaterial,
  options?: TlsServerOptions,
): Promise<{ app: FastifyInstance; port: number; clientErrors: string[] }> {
  const clientErrors: string[] = [];
  const app = Fastify({
    logger: false,
    requestTimeout: 3000,
    keepAliveTimeout: 5000,
    http: { maxHeaderSize: 8192, connectionsCheckingInterval: 1000 },
    serverFactory: createTlsServerFactory(material, options),
    clientErrorHandler: (err, socket) => {
      clientErrors.push((err as NodeJS.ErrnoException).code ?? err.message);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    },
  });
  app.get('/ping', async () => ({ pong: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port, clientErrors };
}

describe('HTTPS listener on the sniffing factory', () => {
  let app: FastifyInstance;
  let port: number;
  let clientErrors: string[];

  beforeAll(async () => {
    ({ app, port, clientErrors } = await startApp(pemMaterial(), { sniffTimeoutMs: 200, cors: { origin: '*' } }));
  });
  afterAll(async () => {
    await app.close();
  });

  it('serves HTTPS', async () => {
    const reply = await httpsGet(port, '/ping');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ pong: true });
  });

  it('applies the Fastify server options to the server it builds', () => {
    expect(app.server).toBeInstanceOf(https.Server);
    expect(app.server.keepAliveTimeout).toBe(5000);
    expect(app.server.requestTimeout).toBe(3000);
    expect((app.server as { maxHeaderSize?: number }).maxHeaderSize).toBe(8192); // set by Node, not in its types
  });

  it("keeps Fastify's client error handler for bad HTTP inside TLS", async () => {
    // 10 kB: over this app's 8192-byte limit, under Node's default 16 kB.
    const reply = await httpsGet(port, '/ping', { 'x-big': 'a'.repeat(10_000) });
    expect(reply.status).toBe(400);
  });

  it("applies Node's header timeout to a TLS client that stalls mid-request", async () => {
    app.server.headersTimeout = 300; // as listener.ts sets it, after the server is built
    const started = performance.now();
    const got = await new Promise<string>((done, fail) => {
      const chunks: Buffer[] = [];
      const s = tls.connect({ host: '127.0.0.1', port, ca: CA }, () => s.write('GET /ping HTTP/1.1\r\nHost: x\r\n'));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', fail);
      s.on('close', () => done(Buffer.concat(chunks).toString('utf8')));
    });
    expect(clientErrors).toContain('ERR_HTTP_REQUEST_TIMEOUT');
    expect(got.startsWith('HTTP/1.1 400')).toBe(true); // this test app's handler answers 400 to every client error
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it("answers plain HTTP with TorchServe's 403", async () => {
    const reply = await httpGet(port, '/ping');
    expect(reply.status).toBe(403);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers.connection).toBe('close');
    expect(reply.headers['cache-control']).toBe('no-cache; no-store, must-revalidate, private');
    expect(reply.headers['access-control-allow-origin']).toBe('*');
    expect(reply.body).toBe(HTTPS_ONLY_BODY);
  });

  it('sends the 403 byte for byte as TorchServe does, after any request line', async () => {
    const { data } = await rawExchange(port, Buffer.from('GET /models HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(data).toBe(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\nPragma: no-cache\r\n' +
        'Cache-Control: no-cache; no-store, must-revalidate, private\r\nExpires: Thu, 01 Jan 1970 00:00:00 UTC\r\n' +
        `Content-Length: ${Buffer.byteLength(HTTPS_ONLY_BODY)}\r\nConnection: close\r\n\r\n${HTTPS_ONLY_BODY}`,
    );
  });

  it('answers a plain HTTP upload with the 403 too (its body is drained, not reset)', async () => {
    const reply = await new Promise<Reply>((done, fail) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/predictions/m', agent: false }, (res) =>
        collect(res).then(done, fail),
      );
      req.on('error', () => {}); // the server closes once it has answered; the upload may not finish
      req.end(Buffer.alloc(1 << 20));
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toBe(HTTPS_ONLY_BODY);
  });

  it('refuses TLS 1.1', async () => {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
      // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal is the server's.
      const s = tls.connect({ host: '127.0.0.1', port, ca: CA, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
      s.on('secureConnect', () => {
        s.destroy();
        done(undefined);
      });
      s.on('error', done);
    });
    expect(err?.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    // Handshake failures are closed quietly, as Netty does; Fastify's client error handler never sees them.
    expect(clientErrors.filter((code) => code.startsWith('ERR_SSL'))).toEqual([]);
  });

  it('accepts TLS 1.2', async () => {
    const protocol = await new Promise<string | null>((done, fail) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: CA, maxVersion: 'TLSv1.2' }, () => {
        done(s.getProtocol());
        s.end();
      });
      s.on('error', fail);
    });
    expect(protocol).toBe('TLSv1.2');
  });

  it('refuses garbage with the 403 or a close, and keeps serving HTTPS', async () => {
    const junk = await rawExchange(port, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(junk.data === '' || junk.data.startsWith('HTTP/1.1 403 Forbidden\r\n')).toBe(true);
    // A handshake record byte followed by junk reaches OpenSSL, which drops it.
    const fakeTls = await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]));
    expect(fakeTls.data.startsWith('HTTP/')).toBe(false);
    expect((await httpsGet(port, '/ping')).status).toBe(200);
  });

  it('closes a silent connection after the sniff timeout', async () => {
    const { data, ms } = await rawExchange(port);
    expect(data).toBe('');
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(5000);
    expect((await httpsGet(port, '/ping')).status).toBe(200);
  });
});

describe('closing', () => {
  it('app.close() does not wait for a connection that is still silent', async () => {
    const { app, port } = await startApp(pemMaterial()); // the default 10 s sniff timeout
    const silent = rawExchange(port);
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await app.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect((await silent).ms).toBeLessThan(5000);
  });

  it('works as a plain server factory: listen, serve, close', async () => {
    const server = createTlsServerFactory(pemMaterial())((_req, res) => res.end('plain'), {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    expect((await httpsGet(port, '/')).body).toBe('plain');
    expect((await httpGet(port, '/')).status).toBe(403);
    await new Promise<void>((r, f) => server.close((err) => (err ? f(err) : r())));
  });
});

describe('loadTlsMaterial', () => {
  it('reads a PEM pair, relative to cwd', () => {
    const m = pemMaterial();
    expect(m.key).toBeInstanceOf(Buffer);
    expect(m.cert).toBeInstanceOf(Buffer);
    expect(m.pfx).toBeUndefined();
  });

  it('names private_key_file and the path when the key file is missing', () => {
    const load = () => loadTlsMaterial({ certificateFile: 'cert.pem', privateKeyFile: 'nope.pem' }, FIXTURES);
    expect(load).toThrow(/private_key_file/);
    expect(load).toThrow(join(FIXTURES, 'nope.pem'));
    expect(load).toThrow(/no such file/);
  });

  it('needs both files of the pair', () => {
    expect(() => loadTlsMaterial({ certificateFile: 'cert.pem' }, FIXTURES)).toThrow(
      /certificate_file is set but private_key_file is not/,
    );
    expect(() => loadTlsMaterial({ privateKeyFile: 'key.pem' }, FIXTURES)).toThrow(/private_key_file is set but certificate_file is not/);
  });

  it('needs key material: no self-signed certificate is generated', () => {
    const load = () => loadTlsMaterial({}, FIXTURES);
    expect(load).toThrow(/https:\/\/ address needs certificate_file and private_key_file \(or keystore\)/);
    expect(load).toThrow(/self-signed/);
  });

  it('refuses a key that does not match the certificate', () => {
    expect(() => loadTlsMaterial({ certificateFile: 'cert.pem', privateKeyFile: 'other-key.pem' }, FIXTURES)).toThrow(
      /the private key does not match the certificate/,
    );
  });

  it('names the file at fault, never its content', () => {
    let message = '';
    try {
      loadTlsMaterial({ certificateFile: 'key.pem', privateKeyFile: 'key.pem' }, FIXTURES); // the key given as certificate
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`certificate_file=${join(FIXTURES, 'key.pem')}`);
    expect(message).not.toMatch(/BEGIN|PRIVATE KEY|MII/);
  });

  it('reads a PKCS12 keystore with the default password', () => {
    const m = loadTlsMaterial({ keystore: 'keystore.p12' }, FIXTURES);
    expect(m.pfx).toBeInstanceOf(Buffer);
    expect(m.passphrase).toBe('changeit');
  });

  it('refuses a keystore with the wrong password', () => {
    const load = () => loadTlsMaterial({ keystore: 'keystore.p12', keystorePass: 'wrong' }, FIXTURES);
    expect(load).toThrow(/keystore=.*keystore\.p12/);
    expect(load).toThrow(/wrong keystore_pass/);
  });

  it('refuses keystore types other than PKCS12', () => {
    expect(() => loadTlsMaterial({ keystore: 'keystore.p12', keystoreType: 'JKS' }, FIXTURES)).toThrow(
      /keystore_type=JKS: only PKCS12 keystores are supported/,
    );
    expect(loadTlsMaterial({ keystore: 'keystore.p12', keystoreType: 'pkcs12' }, FIXTURES).pfx).toBeInstanceOf(Buffer);
  });

  it('prefers the keystore over the PEM pair', () => {
    const m = loadTlsMaterial({ keystore: 'keystore.p12', certificateFile: 'cert.pem', privateKeyFile: 'missing.pem' }, FIXTURES);
    expect(m.pfx).toBeInstanceOf(Buffer);
  });

  it('serves HTTPS with a PKCS12 keystore', async () => {
    const { app, port } = await startApp(loadTlsMaterial({ keystore: 'keystore.p12', keystorePass: 'changeit' }, FIXTURES));
    try {
      const reply = await httpsGet(port, '/ping');
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ pong: true });
    } finally {
      await app.close();
    }
  });
});
