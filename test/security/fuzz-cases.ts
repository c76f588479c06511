/**
 * Request generators for the fuzz test: every case comes from one seeded PRNG, so a seed names a
 * run exactly. Cases are either well-formed HTTP (sent with node:http: odd methods, paths, headers,
 * mutated bodies, many tiny chunks) or raw bytes (malformed request lines, headers, framing,
 * truncated bodies) sent over a socket.
 */
export type Port = 'inference' | 'management' | 'metrics';

export interface HttpCase {
  kind: 'http';
  port: Port;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sent as Transfer-Encoding: chunked, one write per piece. */
  chunks?: Buffer[];
  what: string;
}

export interface RawCase {
  kind: 'raw';
  port: Port;
  pieces: Buffer[];
  /** The request is incomplete on purpose: half-close after sending (or stall, when `stall`). */
  truncated: boolean;
  /** Send nothing more and wait for the server's request timeout. */
  stall: boolean;
  what: string;
}

export type FuzzCase = HttpCase | RawCase;

export type Rng = () => number;

/** mulberry32. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;

// ---- bodies ------------------------------------------------------------------------------------

const ROW = [5.1, 3.5, 1.4, 0.2];

/** Valid bodies to mutate, by target. */
const BASES: ReadonlyArray<{ path: string; body: unknown }> = [
  { path: '/predictions/mlp', body: [ROW] },
  { path: '/predictions/mlp', body: { x: [ROW, ROW] } },
  { path: '/predictions/echo', body: [[1, 2, 3]] },
  { path: '/explanations/mlp', body: [ROW] },
  { path: '/invocations?model_name=mlp', body: [ROW] },
  { path: '/models/mlp/invoke', body: [ROW] },
  { path: '/mlp/predict', body: [ROW] },
  { path: '/v2/models/mlp/infer', body: { id: 'r1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: ROW }] } },
  { path: '/v2/models/mlp/versions/1.0/infer', body: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [ROW] }], outputs: [{ name: 'y' }] } },
  { path: '/v2/models/echo/infer', body: { inputs: [{ name: 'in_fp32', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] }], parameters: { binary_data_output: true } } },
  { path: '/v2/models/text/infer', body: { inputs: [{ name: 'in_bytes', datatype: 'BYTES', shape: [1, 2], data: ['a', 'b'] }] } },
  { path: '/v2/models/ints/infer', body: { inputs: [{ name: 'in_int64', datatype: 'INT64', shape: [1, 2], data: ['9007199254740993', -1] }] } },
  { path: '/v1/models/mlp:predict', body: { instances: [ROW, ROW] } },
  { path: '/v1/models/mlp:predict', body: { inputs: [ROW] } },
  { path: '/v1/models/mlp:explain', body: { instances: [{ x: ROW }] } },
];

/** JSON text standing for hostile values (some are not expressible as JS values: deep nesting, 1e400). */
function evilJson(rng: Rng): string {
  switch (int(rng, 0, 17)) {
    case 0:
      return 'null';
    case 1:
      return pick(rng, ['true', 'false', '{}', '[]', '""']);
    case 2:
      return pick(rng, ['-1', '0', '-0', '1.5', '1e308', '-1e308', '1e400', '2147483647', '4294967296', '9007199254740993', '-9223372036854775809']);
    case 3: {
      const depth = pick(rng, [2, 65, 1000, 100_000]);
      return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    }
    case 4:
      return JSON.stringify(pick(rng, ['NaN', 'Infinity', '\u0000', '../../etc/passwd', '%00', '😀', 'FP32', 'BF16', 'x'.repeat(int(rng, 100, 100_000))]));
    case 5:
      return `[${new Array(int(rng, 1, 20_000)).fill(pick(rng, ['0', '1.5', '"a"', 'null'])).join(',')}]`;
    case 6:
      return pick(rng, ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']);
    case 7:
      return JSON.stringify([pick(rng, [2147483647, -1, 0, 1.5, 2 ** 53, 65536]), pick(rng, [2147483647, 4, 16, -4])]);
    case 8:
      return JSON.stringify(new Array(int(rng, 60, 70)).fill(1));
    case 9:
      return JSON.stringify({ binary_data_size: pick(rng, [-1, 1.5, 2 ** 40, 1e300, '8', 0]) });
    case 10:
      return JSON.stringify(Array.from({ length: int(rng, 2, 1100) }, (_, i) => ({ name: `t${i}` })));
    case 11:
      return JSON.stringify({ binary_data_output: pick(rng, [true, 'yes', 1]), classification: 3 });
    default:
      // A leaf of the right kind, most of the time: mutations elsewhere then decide the outcome.
      return JSON.stringify(pick(rng, [1, 4, 'x', 'y', 'FP32', 'INT64', [1, 4], [ROW]]));
  }
}

/** Every path to a node of `value` (object keys and array indices). */
function paths(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

/** `value` as JSON text with the node at `target` replaced by `replacement` text (or removed). */
function render(value: unknown, target: Array<string | number>, replacement: string | undefined, at: Array<string | number> = []): string | undefined {
  if (at.length === target.length && at.every((p, i) => p === target[i])) return replacement;
  if (Array.isArray(value)) {
    const items = value.map((v, i) => render(v, target, replacement, [...at, i])).filter((t): t is string => t !== undefined);
    return `[${items.join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const items = Object.entries(value).flatMap(([k, v]) => {
      const t = render(v, target, replacement, [...at, k]);
      return t === undefined ? [] : [`${JSON.stringify(k)}:${t}`];
    });
    return `{${items.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A structural mutation (replace or drop a node), then maybe a textual one (truncate, flip a byte). */
export function mutateJson(rng: Rng, value: unknown): string {
  let text = JSON.stringify(value);
  const rounds = int(rng, 1, 3);
  for (let r = 0; r < rounds; r++) {
    const all = paths(value);
    const target = pick(rng, all);
    const replaced = render(value, target, chance(rng, 0.15) && target.length > 0 ? undefined : evilJson(rng)) ?? 'null';
    text = replaced;
    try {
      value = JSON.parse(replaced) as unknown;
    } catch {
      break;
    }
    // Deep or huge values make further structural rounds slow (and `paths` recursive): stop there.
    if (text.length > 20_000) break;
  }
  if (chance(rng, 0.1)) text = text.slice(0, int(rng, 0, text.length));
  if (chance(rng, 0.1) && text.length > 0) {
    const i = int(rng, 0, text.length - 1);
    text = text.slice(0, i) + pick(rng, ['\u0000', '"', '}', ']', ',', '\\', '\uFFFF', '\uD800']) + text.slice(i + 1);
  }
  return text;
}

function multipart(rng: Rng): { body: Buffer; type: string } {
  const boundary = `fz${int(rng, 0, 1e9)}`;
  const parts: string[] = [];
  const count = pick(rng, [1, 2, 5, 999, 1001, 1500]);
  for (let i = 0; i < count; i++) {
    const name = pick(rng, ['x', 'data', 'body', '__proto__', 'constructor', '', 'a"b', `f${i}`, '😀']);
    const file = chance(rng, 0.5) ? `; filename="${pick(rng, ['a.json', '../../x', '', 'x\u0000y'])}"` : '';
    const type = chance(rng, 0.5) ? `\r\nContent-Type: ${pick(rng, ['application/json', 'text/plain', 'application/octet-stream', 'image/png'])}` : '';
    // Mutated values only in the first parts: a thousand of them would only cost time.
    const value = i >= 20 || chance(rng, 0.7) ? JSON.stringify([ROW]) : mutateJson(rng, [ROW]);
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file}${type}\r\n\r\n${value}\r\n`);
  }
  let text = `${parts.join('')}--${boundary}--\r\n`;
  if (chance(rng, 0.15)) text = text.slice(0, int(rng, 0, text.length));
  const type = chance(rng, 0.9) ? `multipart/form-data; boundary=${boundary}` : pick(rng, ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/mixed; boundary=x']);
  return { body: Buffer.from(text), type };
}

/** An OIP request with a binary part, its sizes and header length mutated. */
function binaryInfer(rng: Rng): { path: string; body: Buffer; headers: Record<string, string> } {
  const bytes = chance(rng, 0.5);
  const n = pick(rng, [0, 1, 2, 4, 16]);
  let bin: Buffer;
  if (bytes) {
    const pieces: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const s = Buffer.from('x'.repeat(int(rng, 0, 8)));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(chance(rng, 0.8) ? s.length : pick(rng, [0xffffffff, s.length + 1, 2 ** 31]));
      pieces.push(len, s);
    }
    bin = Buffer.concat(pieces);
  } else bin = Buffer.from(new Float32Array(n).fill(0.5).buffer);
  if (chance(rng, 0.2)) bin = bin.subarray(0, int(rng, 0, bin.length));
  const size = chance(rng, 0.7) ? bin.length : pick(rng, [-1, 0, bin.length + 1, 2 ** 40, 1.5]);
  const input = { name: bytes ? 'in_bytes' : 'in_fp32', datatype: bytes ? 'BYTES' : 'FP32', shape: [1, n], parameters: { binary_data_size: size } };
  const header = Buffer.from(chance(rng, 0.7) ? JSON.stringify({ inputs: [input] }) : mutateJson(rng, { inputs: [input] }));
  const length = chance(rng, 0.7) ? String(header.length) : pick(rng, ['0', '-1', 'abc', '1e3', '99999999999999999999', String(header.length + bin.length + 1), ` ${header.length} `, '']);
  return { path: `/v2/models/${bytes ? 'text' : 'echo'}/infer`, body: Buffer.concat([header, bin]), headers: { 'inference-header-content-length': length } };
}

// ---- paths, methods, headers --------------------------------------------------------------------

const NAMES = ['mlp', 'echo', 'nope', '..', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%00', 'a%00b', '%F0%9F%98%80', '%ZZ', '%', 'x'.repeat(5000), 'mlp%2Fx', 'CON', '.', '-', '__proto__'];

const ROUTES: Record<Port, ReadonlyArray<(m: string, v: string, rng: Rng) => string>> = {
  inference: [
    () => '/',
    () => '/ping',
    () => '/api-description',
    (m) => `/predictions/${m}`,
    (m, v) => `/predictions/${m}/${v}`,
    (m) => `/explanations/${m}`,
    (m) => `/invocations?model_name=${m}`,
    (m) => `/models/${m}/invoke`,
    (m) => `/${m}/predict`,
    () => '/v2',
    () => '/v2/health/ready',
    (m) => `/v2/models/${m}`,
    (m) => `/v2/models/${m}/ready`,
    (m) => `/v2/models/${m}/infer`,
    (m, v) => `/v2/models/${m}/versions/${v}/infer`,
    (m) => `/v2/models/${m}/stats`,
    () => '/v1/models',
    (m) => `/v1/models/${m}`,
    (m) => `/v1/models/${m}:predict`,
    (m, _v, rng) => `/v1/models/${m}:${pick(rng, ['explain', 'x', ''])}`,
  ],
  management: [
    () => '/models',
    (_m, _v, rng) => `/models?limit=${pick(rng, ['-1', '0', 'abc', '99999999999', '%00'])}&next_page_token=${pick(rng, ['-5', 'x', '1e9'])}`,
    (m) => `/models/${m}`,
    (m, v) => `/models/${m}/${v}`,
    (m) => `/models/${m}/all`,
    (m, v) => `/models/${m}/${v}/set-default`,
    (_m, _v, rng) => `/models?url=${pick(rng, ['file:///etc/passwd', 'http://169.254.169.254/', '../x.mar', '%2e%2e/x.mar'])}`,
    () => '/workflows',
    () => '/v2/repository/index',
    (m) => `/v2/repository/models/${m}/load`,
    (m) => `/v1/models/${m}`,
    () => '/api-description',
  ],
  metrics: [() => '/metrics', () => '/metrics?name[]=ts_inference_requests_total&name[]=%00', () => '/', () => '/api-description', (m) => `/${m}`],
};

const METHODS = ['GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'MKCOL', 'SEARCH', 'PURGE', 'FOO'];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  '*/*',
  'a/b/c;;;=',
  `application/${'x'.repeat(4000)}`,
];

function randomPath(rng: Rng, port: Port): string {
  let path = pick(rng, ROUTES[port])(pick(rng, NAMES), pick(rng, ['1.0', '2.0', '..', '%00', 'x'.repeat(300)]), rng);
  if (chance(rng, 0.1)) path += '/';
  if (chance(rng, 0.1)) path = path.replace('/', '//');
  if (chance(rng, 0.1)) path += `${path.includes('?') ? '&' : '?'}${pick(rng, ['a=%00', 'model_name=', '%ZZ=1', 'x'.repeat(3000), 'synchronous=maybe', 'min_worker=-1', 'min_worker=abc'])}`;
  if (chance(rng, 0.05)) path += `/${'a/'.repeat(int(rng, 10, 500))}`;
  return path;
}

function randomHeaders(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  if (chance(rng, 0.7)) h['content-type'] = pick(rng, CONTENT_TYPES);
  if (chance(rng, 0.15)) h['inference-header-content-length'] = pick(rng, ['0', '-1', 'abc', '5', '1e3', '99999999999999999999', '']);
  if (chance(rng, 0.1)) h.authorization = pick(rng, ['Bearer x', 'Basic %00', 'Bearer ' + 'k'.repeat(2000)]);
  if (chance(rng, 0.05)) h.expect = '100-continue';
  if (chance(rng, 0.05)) h['content-encoding'] = pick(rng, ['gzip', 'br', 'identity, gzip']);
  if (chance(rng, 0.05)) h['x-request-id'] = '../../etc';
  return h;
}

// ---- cases -------------------------------------------------------------------------------------

function httpCase(rng: Rng): HttpCase {
  const port: Port = pick(rng, ['inference', 'inference', 'inference', 'inference', 'management', 'metrics']);
  const method = pick(rng, METHODS);
  // Never a scale request a mutation could make valid (workers are the fuzzed server's, not ours).
  const path = randomPath(rng, port).replace(/min_worker=[0-9]+/, 'min_worker=abc');
  const headers = randomHeaders(rng);
  const c: HttpCase = { kind: 'http', port, method, path, headers, what: `${method} ${port}${path.slice(0, 120)}` };
  if (method !== 'GET' && method !== 'HEAD' && chance(rng, 0.6)) c.body = Buffer.from(chance(rng, 0.5) ? mutateJson(rng, pick(rng, BASES).body) : 'x'.repeat(int(rng, 0, 300)));
  return c;
}

function bodyCase(rng: Rng): HttpCase {
  const roll = rng();
  if (roll < 0.55) {
    const base = pick(rng, BASES);
    const body = Buffer.from(mutateJson(rng, base.body));
    const headers = chance(rng, 0.5) ? { 'content-type': 'application/json' } : randomHeaders(rng);
    return { kind: 'http', port: 'inference', method: 'POST', path: base.path, headers, body, what: `POST ${base.path} (mutated JSON, ${body.length} B)` };
  }
  if (roll < 0.75) {
    const { path, body, headers } = binaryInfer(rng);
    return { kind: 'http', port: 'inference', method: 'POST', path, headers, body, what: `POST ${path} (binary, IHCL ${headers['inference-header-content-length']})` };
  }
  if (roll < 0.88) {
    const { body, type } = multipart(rng);
    const path = pick(rng, ['/predictions/mlp', '/predictions/echo', '/v2/models/mlp/infer', '/explanations/mlp']);
    return { kind: 'http', port: 'inference', method: 'POST', path, headers: { 'content-type': type }, body, what: `POST ${path} (multipart ${body.length} B)` };
  }
  // Chunked with many tiny chunks (a valid body, or a mutated one).
  const text = Buffer.from(chance(rng, 0.5) ? JSON.stringify([ROW]).padEnd(int(rng, 30, 3000), ' ') : mutateJson(rng, [ROW]));
  const size = int(rng, 1, 3);
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
  return { kind: 'http', port: 'inference', method: 'POST', path: '/predictions/mlp', headers: {}, chunks, what: `POST /predictions/mlp (${chunks.length} chunks)` };
}

const CRLF = '\r\n';

function rawCase(rng: Rng, stallsLeft: () => boolean): RawCase {
  const port: Port = pick(rng, ['inference', 'inference', 'management', 'metrics']);
  const method = pick(rng, ['GET', 'POST', 'PUT', 'G ET', 'get', 'CONNECT', 'PRI', 'FOO', '', 'POST\u0000', 'DELETE']);
  const target = pick(rng, ['/ping', '/predictions/mlp', '/v2/models/mlp/infer', '/models', '/metrics', '*', 'http://evil/ping', '/../../etc/passwd', '/%00', '/ünïcödé', `/${'a'.repeat(int(rng, 100, 12_000))}`, '']);
  const version = pick(rng, ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 extra', '', 'HTTX/1.1']);
  const eol = chance(rng, 0.9) ? CRLF : pick(rng, ['\n', '\r', '\r\r\n']);
  let head = `${method} ${target} ${version}`.trimEnd() + eol;
  const body = Buffer.from(chance(rng, 0.5) ? mutateJson(rng, [ROW]) : JSON.stringify([ROW]));
  const headers: string[] = ['Host: fuzz', 'Connection: close'];
  let truncated = false;
  let framed = body;
  switch (int(rng, 0, 9)) {
    case 0:
      headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 5}`);
      break;
    case 1:
      headers.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked');
      break;
    case 2: {
      // Chunked with bad sizes, extensions or no last chunk.
      headers.push('Transfer-Encoding: chunked');
      const size = pick(rng, [body.length.toString(16), 'zz', '-1', 'ffffffffffffffff', `${body.length.toString(16)};ext=1`, '0x10']);
      framed = Buffer.from(`${size}${CRLF}${body.toString('latin1')}${CRLF}${chance(rng, 0.5) ? `0${CRLF}${CRLF}` : ''}`, 'latin1');
      truncated = true;
      break;
    }
    case 3:
      // Fewer bytes than declared.
      headers.push(`Content-Length: ${body.length + int(rng, 1, 1000)}`);
      truncated = true;
      break;
    case 4:
      headers.push('Bad Header: x', 'NoColon', ' folded: continuation', 'X-\u0001: y');
      break;
    case 5:
      headers.push(`X-Big: ${'h'.repeat(int(rng, 4000, 70_000))}`, `Content-Length: ${body.length}`);
      break;
    case 6:
      headers.push(`Content-Length: ${pick(rng, ['-1', 'abc', '1e3', '99999999999999999999', ' 5', '0x10'])}`);
      break;
    case 7:
      headers.push('Transfer-Encoding: gzip, chunked', `Content-Length: ${body.length}`);
      break;
    case 8:
      headers.push(...Array.from({ length: int(rng, 100, 3000) }, (_, i) => `X-H${i}: ${i}`), `Content-Length: ${body.length}`);
      break;
    default:
      headers.push(`Content-Length: ${body.length}`, `Inference-Header-Content-Length: ${pick(rng, ['0', '-3', String(body.length * 2)])}`);
  }
  head += headers.join(eol) + eol + eol;
  const stall = truncated && stallsLeft() && chance(rng, 0.5);
  const pieces = [Buffer.from(head, 'utf8'), framed];
  return { kind: 'raw', port, pieces, truncated, stall, what: `raw ${port} ${JSON.stringify(head.slice(0, 100))}${truncated ? ' (truncated)' : ''}${stall ? ' (stalled)' : ''}` };
}

/** `count` cases from `seed`, at most `maxStalls` of them stalled (each costs a request timeout). */
export function generateCases(seed: number, count: number, maxStalls: number): FuzzCase[] {
  const rng = prng(seed);
  let stalls = 0;
  const stallsLeft = () => stalls < maxStalls;
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const roll = rng();
    const c = roll < 0.35 ? httpCase(rng) : roll < 0.75 ? bodyCase(rng) : rawCase(rng, stallsLeft);
    if (c.kind === 'raw' && c.stall) stalls++;
    cases.push(c);
  }
  return cases;
}
