/**
 * HTTPS listeners (spec §0.6). Key material is read as TorchServe's `ConfigManager.getSslContext`
 * reads it. The server answers plain HTTP sent to the TLS port with TorchServe's 403, as its
 * `ExtendedSSLHandler` does, instead of a TLS handshake error.
 *
 * Deviations: TLS 1.3 is accepted as well as 1.2, with Node's default ciphers (TorchServe offers
 * TLS 1.2 with two ECDHE-RSA ciphers only). When no key material is configured, start-up fails:
 * TorchServe would generate a self-signed certificate.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http';
import { Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { FastifyServerFactory, FastifyServerFactoryHandler } from 'fastify';
import { StartupError } from '../errors.js';
import { JSON_TYPE, torchServeJson, type CorsSettings } from './reply.js';

/** What `https.createServer` needs: a PEM pair, or a PKCS#12 bundle with its password. */
export interface TlsMaterial {
  key?: string | Buffer;
  cert?: string | Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

/** The TLS keys of config.properties: `certificate_file`, `private_key_file`, `keystore`, `keystore_pass`, `keystore_type`. */
export interface TlsFileOptions {
  certificateFile?: string;
  privateKeyFile?: string;
  keystore?: string;
  keystorePass?: string;
  keystoreType?: string;
}

const DEFAULT_KEYSTORE_PASS = 'changeit';

function invalid(message: string): StartupError {
  return new StartupError(`Invalid configuration: ${message}`);
}

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

/** Reads a key file. The error names the key and the path, never the content. */
function readKeyFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw invalid(`${key}=${path}: cannot read the file (${READ_ERRORS[code] ?? code})`);
  }
}

/** Why OpenSSL refused the material, in words. OpenSSL's own messages never quote the key. */
function opensslReason(err: unknown, pfx: boolean): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  if (e.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return 'the private key does not match the certificate';
  if (pfx && /mac verify failure/i.test(message)) return 'wrong keystore_pass, or not a PKCS12 file';
  if (pfx && /unsupported/i.test(message)) {
    // Old keytool and `openssl pkcs12 -legacy` bundles use RC2-40, which OpenSSL 3 only reads with its legacy provider.
    return `the bundle uses an algorithm Node's OpenSSL does not load (e.g. RC2-40); re-export it without -legacy (${message})`;
  }
  return message;
}

/** Runs OpenSSL on `material` now, so bad material fails at start-up rather than at the first handshake. */
function check(material: SecureContextOptions, what: string, pfx = false): void {
  try {
    createSecureContext(material);
  } catch (err) {
    throw invalid(`${what}: ${opensslReason(err, pfx)}`);
  }
}

/**
 * Reads the key material for an https:// listener, with TorchServe's precedence: `keystore`
 * (PKCS12 only), then `private_key_file` + `certificate_file` (PEM). Relative paths resolve
 * against `cwd`. Throws a StartupError for a missing, unreadable or unusable file.
 */
export function loadTlsMaterial(opts: TlsFileOptions, cwd: string): TlsMaterial {
  if (opts.keystore) {
    const type = opts.keystoreType || 'PKCS12';
    if (type.toUpperCase() !== 'PKCS12') throw invalid(`keystore_type=${type}: only PKCS12 keystores are supported`);
    const path = resolve(cwd, opts.keystore);
    const material: TlsMaterial = { pfx: readKeyFile('keystore', path), passphrase: opts.keystorePass ?? DEFAULT_KEYSTORE_PASS };
    check(material, `keystore=${path}`, true);
    return material;
  }
  const { certificateFile, privateKeyFile } = opts;
  if (certificateFile && privateKeyFile) {
    const keyPath = resolve(cwd, privateKeyFile);
    const certPath = resolve(cwd, certificateFile);
    const key = readKeyFile('private_key_file', keyPath);
    const cert = readKeyFile('certificate_file', certPath);
    // One at a time first, so the message names the file at fault.
    check({ key }, `private_key_file=${keyPath}`);
    check({ cert }, `certificate_file=${certPath}`);
    check({ key, cert }, `private_key_file=${keyPath}, certificate_file=${certPath}`);
    return { key, cert };
  }
  if (certificateFile || privateKeyFile) {
    const [set, unset] = certificateFile ? ['certificate_file', 'private_key_file'] : ['private_key_file', 'certificate_file'];
    throw invalid(`${set} is set but ${unset} is not: an https:// address needs both`);
  }
  throw invalid(
    'an https:// address needs certificate_file and private_key_file (or keystore); onnxserve does not generate a self-signed certificate',
  );
}

export interface TlsServerOptions {
  /** How long a new connection may stay silent before its first byte; then it is destroyed. Default 10 s. */
  sniffTimeoutMs?: number;
  /** TorchServe adds the CORS headers to every response, the 403 to plain HTTP included. */
  cors?: CorsSettings;
}

/** The first byte of every TLS ClientHello: a handshake record. */
const TLS_HANDSHAKE_RECORD = 0x16;
const SNIFF_TIMEOUT_MS = 10_000;
/** Netty SslHandler's default: a handshake that has not finished by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** TorchServe's answer to plain HTTP on a TLS port (ExtendedSSLHandler through NettyUtils.sendHttpResponse). */
function httpsOnlyResponse(cors: CorsSettings): string {
  const body = torchServeJson({ status: 'This TorchServe instance only accepts HTTPS requests' });
  const headers = [`Content-Type: ${JSON_TYPE}`];
  if (cors.origin) headers.push(`Access-Control-Allow-Origin: ${cors.origin}`);
  if (cors.methods) headers.push(`Access-Control-Allow-Methods: ${cors.methods}`);
  if (cors.headers) headers.push(`Access-Control-Allow-Headers: ${cors.headers}`);
  headers.push(
    'Pragma: no-cache',
    'Cache-Control: no-cache; no-store, must-revalidate, private',
    'Expires: Thu, 01 Jan 1970 00:00:00 UTC',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  );
  return `HTTP/1.1 403 Forbidden\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

const ignore = () => {};

/**
 * An HTTPS server that looks at the first byte of each connection before any TLS: a handshake
 * record goes to the TLS machinery; anything else gets the 403 and is closed (httpolyglot's technique).
 */
class SniffingServer extends HttpsServer {
  /** Connections not handed to TLS: still silent, or being refused. `close()` ends them. */
  private readonly pending = new Set<Socket>();

  constructor(options: HttpsServerOptions, handler: FastifyServerFactoryHandler, sniffMs: number, refusal: string) {
    super(options, handler);
    // tls.Server's listener wraps the socket at once; it now runs only once the first byte says TLS.
    const tlsListeners = this.listeners('connection');
    this.removeAllListeners('connection');
    this.on('connection', (socket: Socket) => this.sniff(socket, tlsListeners, sniffMs, refusal));
    // https.Server forwards handshake failures to 'clientError', where Fastify's handler would write a
    // plain-text HTTP reply into a TLS socket. Netty just closes such a connection, and so do we.
    this.removeAllListeners('tlsClientError');
    this.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
  }

  private sniff(socket: Socket, tlsListeners: Function[], sniffMs: number, refusal: string): void {
    // A reset mid-sniff must not crash the process; after the hand-off, the TLS socket reports its own errors.
    socket.on('error', ignore);
    this.pending.add(socket);
    let timer = setTimeout(() => socket.destroy(), sniffMs).unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.pending.delete(socket);
    });
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.pending.delete(socket);
        // TLSSocket feeds itself what is already buffered on the socket it wraps.
        socket.unshift(chunk);
        for (const listener of tlsListeners) Reflect.apply(listener, this, [socket]);
        return;
      }
      socket.end(refusal);
      // Keep reading (and dropping) what the client still sends: closing with unread data would send
      // a TCP reset, which can make the client lose the 403. A client that never closes is dropped.
      socket.resume();
      timer = setTimeout(() => socket.destroy(), sniffMs).unref();
    });
  }

  override close(callback?: (err?: Error) => void): this {
    // net.Server.close waits for every connection; these are no HTTP connection Node could close.
    for (const socket of this.pending) socket.destroy();
    return super.close(callback);
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * A Fastify `serverFactory` for an HTTPS listener: `Fastify({ ...options, serverFactory: createTlsServerFactory(m) })`.
 * Fastify does not apply its server options to a server a factory builds, so this factory applies
 * them as Fastify's own `getServerInstance` does (`http`, `keepAliveTimeout`, `requestTimeout`,
 * `connectionTimeout`, `maxRequestsPerSocket`). The server is typed as http.Server (https.Server
 * extends it at runtime), so the instance stays a plain `FastifyInstance`.
 */
export function createTlsServerFactory(material: TlsMaterial, options: TlsServerOptions = {}): FastifyServerFactory<HttpServer> {
  const sniffMs = options.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS;
  const refusal = httpsOnlyResponse(options.cors ?? {});
  return (handler, fastifyOptions) => {
    const http = typeof fastifyOptions.http === 'object' && fastifyOptions.http !== null ? (fastifyOptions.http as HttpServerOptions) : {};
    const server = new SniffingServer(
      { ...http, ...material, minVersion: 'TLSv1.2', handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
      handler,
      sniffMs,
      refusal,
    );
    const { keepAliveTimeout, requestTimeout, connectionTimeout, maxRequestsPerSocket } = fastifyOptions;
    if (isNumber(keepAliveTimeout)) server.keepAliveTimeout = keepAliveTimeout;
    if (isNumber(requestTimeout)) server.requestTimeout = requestTimeout;
    if (isNumber(connectionTimeout)) server.setTimeout(connectionTimeout);
    // Fastify treats 0 as "Node's default".
    if (isNumber(maxRequestsPerSocket) && maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
    return server;
  };
}
