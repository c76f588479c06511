/**
 * One Fastify instance per listener (inference, management, metrics). Fastify gives us the HTTP
 * server, body limits and multipart; routing is TorchServe's segment-based dispatch (route-context.ts),
 * because TorchServe ignores methods on many routes and trailing segments on others.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { BindAddress, ServerConfig } from '../config/types.js';
import { StartupError, badRequest, type ServeError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { ListenerKind } from './api-description.js';
import type { ArrivalTracker } from './arrivals.js';
import { auditedAction, type AuditLog } from '../security/audit.js';
import { invalidKey, invalidTokenRequest, type ExpiringKeyType, type TokenAuthority } from '../security/tokens.js';
import { oipErrorResult } from './oip/errors.js';
import { createTlsServerFactory, type TlsMaterial } from './tls.js';
import { errorResult, send, toServeError, torchServeJson, type CorsSettings, type HttpResult } from './reply.js';
import { splitPath, type Router } from './route-context.js';

export interface ListenerOptions {
  kind: ListenerKind;
  router: Router;
  config: ServerConfig;
  accessLog: Logger;
  /** Connection states for the batcher (the inference listener only). */
  arrivals?: ArrivalTracker;
  /** Refuses a request before its body is read (the `enable_model_api` gate). */
  gate?: (method: string, segments: string[]) => ServeError | undefined;
  /**
   * While the server drains (graceful shutdown) `reply` answers every new request itself (health
   * probes: not ready; anything else: 503) and each reply closes its connection, so clients and
   * load balancers move elsewhere while the requests received before finish.
   */
  draining?: { active(): boolean; reply?(method: string, segments: string[]): HttpResult | undefined };
  /** Serve HTTPS with this key material (an `https://` address); plain HTTP gets TorchServe's 403. */
  tls?: TlsMaterial;
  /** Management actions (register, scale, …) — allowed, refused or failed — go to the audit log. */
  audit?: AuditLog;
  /** Told the status of every response (the Requests2XX/4XX/5XX metrics). */
  onResponse?: (status: number) => void;
  /** Requests received and not yet answered, across listeners (what a drain waits for). */
  inFlight?: { count: number };
  /** Token authorization (spec §5): which key this listener requires; absent when disabled. */
  auth?: { authority: TokenAuthority; key: ExpiringKeyType };
}

/** The human-readable part of an error reply (TorchServe's `message`, OIP's `error`, a status body). */
function messageOf(result: HttpResult): string {
  const j = result.json as { message?: unknown; status?: unknown } | undefined;
  if (j && typeof j.message === 'string') return j.message;
  if (j && typeof j.status === 'string') return j.status;
  if (result.body instanceof Uint8Array || typeof result.body === 'string') {
    const text = Buffer.from(result.body).toString('utf8').slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON: the text itself
    }
    return text;
  }
  return `HTTP ${result.status}`;
}

/** `OPTIONS /` and `/api-description` are answered before TorchServe's token check. */
function isApiDescription(method: string, segments: readonly string[]): boolean {
  return (segments.length === 0 && method === 'OPTIONS') || (segments.length === 1 && segments[0] === 'api-description');
}

/**
 * The management port's token API: `/token?type=management|inference` with the API key rotates that
 * key. TorchServe selects it when the request's string form merely contains `/token` (so
 * `/models/tokenizer` is swallowed too); onnxserve only takes the path `/token`.
 */
function tokenApi(authority: TokenAuthority, authorization: string | undefined, query: URLSearchParams): HttpResult {
  const type = query.get('type');
  if (!authority.allows('API', authorization) || (type !== 'management' && type !== 'inference')) {
    return errorResult(invalidTokenRequest());
  }
  authority.rotate(type);
  return { status: 200, body: '', contentType: 'application/json' };
}

export interface Listener {
  kind: ListenerKind;
  app: FastifyInstance;
  /** Where it listens: `host:port`, or the socket path. */
  url: string;
  port: number;
}

function remoteOf(req: FastifyRequest): string {
  const { remoteAddress, remotePort } = req.socket;
  if (remotePort === undefined) return '127.0.0.1';
  const addr = remoteAddress === undefined ? '127.0.0.1' : remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
  return `/${addr}:${remotePort}`;
}

/**
 * Node's parser rejected the request: TorchServe answers 400 "Invalid HTTP message." (oversized
 * headers included). A request that did not arrive within `request_timeout_s` (a limit TorchServe
 * does not have) gets 408.
 */
function clientErrorReply(err: NodeJS.ErrnoException): string {
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const body = timeout
    ? torchServeJson({ code: 408, type: 'RequestTimeoutException', message: 'The request was not received in time (request_timeout_s).' })
    : torchServeJson({ code: 400, type: 'BadRequestException', message: 'Invalid HTTP message.' });
  return (
    `HTTP/1.1 ${timeout ? '408 Request Timeout' : '400 Bad Request'}\r\nContent-Type: application/json\r\nConnection: close\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Which error body a path gets: Open Inference Protocol routes (`/v2/...`, both ports) answer
 * `{"error": ...}` (oip/errors.ts); every TorchServe route keeps `{"code","type","message"}`.
 */
export function errorBody(err: ServeError, segments: readonly string[]): HttpResult {
  return segments[0] === 'v2' ? oipErrorResult(err) : errorResult(err);
}

/** How often Node enforces the request/header timeouts (its 30 s default is too coarse for them). */
const CONNECTION_CHECK_MS = 1000;

export function createListener(opts: ListenerOptions): FastifyInstance {
  const { config } = opts;
  const cors: CorsSettings = {
    origin: config.corsAllowedOrigin,
    methods: config.corsAllowedMethods,
    headers: config.corsAllowedHeaders,
  };
  const app = Fastify({
    logger: false,
    // A graceful drain answers new requests itself (see `draining`) until the listeners close.
    return503OnClosing: false,
    // A path with bad percent-encoding: TorchServe's envelope (OIP's on /v2), not Fastify's.
    frameworkErrors: (err, req, r) => {
      const v2 = req.url.startsWith('/v2');
      reply(r, errorBody(badRequest(`Invalid request path: ${err.message}`), v2 ? ['v2'] : []));
    },
    ...(opts.tls ? { serverFactory: createTlsServerFactory(opts.tls, { cors }) } : {}),
    bodyLimit: config.maxRequestSize,
    // Slow or stalled clients (slowloris) and idle keep-alive connections: see ServerConfig.
    requestTimeout: config.requestTimeoutS * 1000,
    keepAliveTimeout: config.keepAliveTimeoutS * 1000,
    http: { maxHeaderSize: config.maxHeaderSize, connectionsCheckingInterval: CONNECTION_CHECK_MS },
    genReqId: () => randomUUID(),
    clientErrorHandler: (err, socket) => {
      opts.onResponse?.(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
      if (socket.writable) socket.end(clientErrorReply(err));
      else socket.destroy();
    },
  });

  // Headers must arrive sooner than the whole request.
  app.server.headersTimeout = Math.min(10_000, config.requestTimeoutS * 1000);

  // Every body reaches the routes as raw bytes: handlers decide how to read them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  void app.register(multipart, {
    limits: { fileSize: config.maxRequestSize, fieldSize: config.maxRequestSize, files: 1000, fields: 1000 },
  });

  // Why an audited request failed: the message of the error it was answered with.
  const reasons = opts.audit ? new WeakMap<object, string>() : undefined;
  const reply = (r: FastifyReply, result: HttpResult) => {
    if (reasons && result.status >= 400) reasons.set(r.request.raw, messageOf(result));
    return send(r, result, cors);
  };

  // A callback hook: an async one costs a promise and a microtask turn per request.
  const arrivals = opts.arrivals;
  arrivals?.attach(app.server, opts.tls !== undefined);
  const onResponse = opts.onResponse;
  const audit = opts.audit;
  const auth = opts.auth;
  app.addHook('onResponse', (req, r, done) => {
    arrivals?.answered(req.raw.socket);
    onResponse?.(r.statusCode);
    if (audit) {
      const { segments, query } = splitPath(req.url);
      const action = auditedAction(req.method, segments);
      if (action) {
        const status = r.statusCode;
        const register = action === 'register';
        audit.append({
          remote: (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, ''),
          key: auth ? auth.authority.presentedKey(req.headers.authorization) : 'disabled',
          action,
          model: (register ? (query.get('model_name') ?? query.get('url')) : segments[0] === 'v2' || segments[0] === 'v1' ? segments[3] : segments[1]) ?? null,
          version: (register || segments[0] !== 'models' ? undefined : segments[2]) ?? null,
          outcome: status < 400 ? 'success' : status < 500 ? 'refused' : 'failed',
          status,
          reason: reasons?.get(req.raw) ?? null,
        });
      }
    }
    opts.accessLog.info(`${remoteOf(req)} "${req.method} ${req.url} HTTP/${req.raw.httpVersion}" ${r.statusCode} ${Math.round(r.elapsedTime)}`);
    done();
  });

  if (opts.inFlight) {
    const inFlight = opts.inFlight;
    // Counted down when the response closes (sent, or its connection gone): Fastify calls neither
    // onResponse nor onRequestAbort for a streamed reply destroyed mid-way, which would hold a
    // drain forever. (The request's own 'close' fires once its body is read: too early.)
    app.addHook('onRequest', (_req, r, done) => {
      inFlight.count++;
      r.raw.once('close', () => inFlight.count--);
      done();
    });
  }

  if (opts.draining) {
    const draining = opts.draining;
    app.addHook('onRequest', (req, r, done) => {
      if (!draining.active()) return done();
      r.header('Connection', 'close');
      const own = draining.reply?.(req.method, splitPath(req.url).segments);
      if (own) {
        reply(r, own);
        return;
      }
      done();
    });
  }

  if (opts.auth) {
    const { authority, key } = opts.auth;
    // Before the model-API gate, as TorchServe's chain: an unauthorized register gets 400, not 405.
    // Errors use TorchServe's envelope on every path (/v2 included): the check precedes OIP's handler.
    app.addHook('onRequest', (req, r, done) => {
      const { segments, query } = splitPath(req.url);
      if (isApiDescription(req.method, segments)) return done();
      if (key === 'management' && segments.length === 1 && segments[0] === 'token') {
        reply(r, tokenApi(authority, req.headers.authorization, query));
        return;
      }
      if (!authority.allows(key, req.headers.authorization)) {
        reply(r, errorResult(invalidKey()));
        return;
      }
      done();
    });
  }

  if (opts.gate) {
    const gate = opts.gate;
    app.addHook('onRequest', async (req, r) => {
      const { segments } = splitPath(req.url);
      const refused = gate(req.method, segments);
      if (refused) return reply(r, errorBody(refused, segments));
      return undefined;
    });
  }

  app.setErrorHandler((err, req, r) => reply(r, errorBody(toServeError(err, config.maxRequestSize), splitPath(req.url).segments)));
  app.setNotFoundHandler((req, r) => dispatch(req, r));

  async function dispatch(req: FastifyRequest, r: FastifyReply) {
    arrivals?.handled(req.raw.socket);
    const { segments, query } = splitPath(req.url);
    let result: HttpResult;
    try {
      result = await opts.router({ req, method: req.method, segments, query });
    } catch (err) {
      result = errorBody(toServeError(err, config.maxRequestSize), segments);
    }
    return reply(r, result);
  }

  app.all('/', dispatch);
  app.all('/*', dispatch);
  return app;
}

/** Binds a listener to its configured address; a clear start-up error when it cannot. */
export async function listen(app: FastifyInstance, kind: ListenerKind, key: string, address: BindAddress): Promise<Listener> {
  try {
    if (address.scheme === 'unix') {
      await app.listen({ path: address.path ?? '' });
      return { kind, app, url: `unix:${address.path ?? ''}`, port: 0 };
    }
    await app.listen({ host: address.host, port: address.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new StartupError(`Failed to bind ${key} ${address.raw}: ${why}`);
  }
  const port = (app.server.address() as AddressInfo).port;
  return { kind, app, url: `${address.scheme}://${address.host}:${port}`, port };
}
