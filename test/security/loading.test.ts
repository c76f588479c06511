/**
 * "Security by default", safe model loading and no information leaks, end to end through the real
 * CLI (dist/). One test per attack class; each checks the refusal (status and exact text,
 * TorchServe's where it has one) and that it had no effect: the sandbox (model store, temp root,
 * everything but the logs, hidden files included) is unchanged, the forbidden listener received
 * nothing, the allowed one only what the case allows, no marker file was written by hostile code,
 * and the server still answers /ping and a prediction afterwards.
 */
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_HANDLER_NAMES } from '../../src/handlers/builtin/names.js';
import { supportedHandlersText } from '../../src/handlers/spec.js';
import { listTree, rawTarGz, rawZip, type RawTarEntry, type RawZipEntry } from '../archive/helpers.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type JsonResponse, type Sandbox } from '../e2e/harness.js';
import { writeMar, type ArchiveSpec } from '../fixtures/mar.js';
import { mlp, type MlpModel } from '../fixtures/models.js';

let sb: Sandbox;
let server: ForegroundServer;
let mgmt: string;
let inference: string;
let model: MlpModel;
let onnx: Buffer;
let healthyMar: Buffer;
/** A folder next to the model store with things an attacker would like to reach. */
let outside: string;
/** Written by evil.mjs when imported; must never exist. */
let marker: string;

let allowedServer: Server;
let forbiddenServer: Server;
/** http://127.0.0.1:<port>: allowed_urls allows `<allowed>/models/.*` only. */
let allowed: string;
let forbidden: string;
const allowedHits: string[] = [];
const forbiddenHits: string[] = [];

const enc = encodeURIComponent;
const NOT_FOUND = 'ModelNotFoundException';
const zeroWorkers = (name: string) =>
  `Model "${name}" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model.`;
const handlerNotFound = (name: string) =>
  `Handler "${name}" was not found in the model archive. Supported: ${supportedHandlersText(BUILTIN_HANDLER_NAMES)}.`;

function listen(s: Server): Promise<string> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

beforeAll(async () => {
  sb = makeSandbox();
  model = await mlp(sb.dir);
  onnx = fs.readFileSync(model.path);
  fs.rmSync(model.path);
  healthyMar = fs.readFileSync(await writeMar(path.join(sb.store, 'healthy.mar'), { modelName: 'healthy', serializedFile: 'mlp.onnx', files: { 'mlp.onnx': onnx } }));
  outside = path.join(sb.dir, 'outside');
  marker = path.join(sb.dir, 'pwned');
  const evil = `import fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(marker)}, 'pwned');\nexport function handle() { return []; }\n`;
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'evil.mar'), healthyMar);
  fs.writeFileSync(path.join(outside, 'evil.mjs'), evil);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
  // `../../evil.mjs` seen from an extraction folder (<tmp>/models/<hex>/) is <tmp>/evil.mjs.
  fs.writeFileSync(path.join(sb.tmp, 'evil.mjs'), evil);

  forbiddenServer = createServer((req, res) => {
    forbiddenHits.push(req.url ?? '');
    res.end(healthyMar);
  });
  forbidden = await listen(forbiddenServer);
  allowedServer = createServer((req, res) => {
    const url = req.url ?? '';
    allowedHits.push(url);
    if (url === '/models/redirect-out.mar') res.writeHead(302, { location: `${forbidden}/models/evil.mar` }).end();
    else if (url === '/models/redirect-file.mar') res.writeHead(302, { location: `file://${outside}/evil.mar` }).end();
    else if (url === '/models/redirect-dots.mar') res.writeHead(302, { location: '/models/%2e%2e/secret.mar' }).end();
    else if (url === '/models/cut.mar') {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(healthyMar);
      setTimeout(() => res.destroy(), 300);
    } else if (/^\/models\/remote\.mar$/i.test(url) || url === '/secret.mar') res.end(healthyMar);
    else res.writeHead(404).end();
  });
  allowed = await listen(allowedServer);

  const cfg = sb.writeConfig({
    model_store: sb.store,
    enable_model_api: true,
    disable_token_authorization: true,
    allowed_urls: `${allowed}/models/.*`,
  });
  server = await startForeground(sb, ['--ts-config', cfg, '--ncs']);
  mgmt = server.endpoints.management;
  inference = server.endpoints.inference;
  const res = await http(`${mgmt}/models?url=healthy.mar&initial_workers=1`, { method: 'POST' });
  expect(res.json).toEqual({ status: 'Model "healthy" Version: 1.0 registered with 1 initial workers' });
});

afterAll(async () => {
  await server?.stop();
  for (const s of [allowedServer, forbiddenServer]) {
    s?.closeAllConnections();
    s?.close();
  }
  sb?.remove();
});

afterEach(async () => {
  // Every attack leaves a healthy server that still serves predictions.
  const ping = await http(`${inference}/ping`);
  expect(ping.json).toEqual({ status: 'Healthy' });
  const pred = await http(`${inference}/predictions/healthy`, { method: 'POST', body: '[1, 2, 3, 4]' });
  expect(pred.status).toBe(200);
  const got = pred.json as number[];
  (model.expected([[1, 2, 3, 4]])[0] ?? []).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
  expect(fs.existsSync(marker)).toBe(false);
});

interface Snapshot {
  tree: string[];
  allowed: number;
  forbidden: number;
}

/** Everything in the sandbox but the logs: model store (hidden and partial files too), temp root, outside/. */
function sandboxTree(): string[] {
  return listTree(sb.dir).filter((p) => p !== 'logs/' && !p.startsWith('logs/'));
}

function snapshot(): Snapshot {
  return { tree: sandboxTree(), allowed: allowedHits.length, forbidden: forbiddenHits.length };
}

/** Nothing changed since `before`; the allowed listener saw exactly `allowedPaths`, the forbidden one nothing. */
function expectNoEffect(before: Snapshot, allowedPaths: string[] = []): void {
  expect(sandboxTree()).toEqual(before.tree);
  expect(forbiddenHits.slice(before.forbidden)).toEqual([]);
  expect(allowedHits.slice(before.allowed)).toEqual(allowedPaths);
  expect(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  expect(fs.statSync(path.join(outside, 'secret.txt')).nlink).toBe(1);
}

/** No stack trace, private extraction folder or temp root in what a client gets (`echo`: the client's own input, removed first). */
function expectNoLeak(res: JsonResponse, echo = ''): void {
  const text = echo ? res.text.split(JSON.stringify(echo).slice(1, -1)).join('') : res.text;
  expect(text).not.toContain(sb.tmp);
  expect(text).not.toMatch(/[0-9a-f]{32}/);
  expect(text).not.toMatch(/\n\s+at |\.(?:js|ts):\d+/);
  expect(text).not.toMatch(/E[A-Z]{3,}:/); // ENAMETOOLONG:, EACCES:, ... (Node's errno texts)
}

function register(query: string): Promise<JsonResponse> {
  return http(`${mgmt}/models?${query}`, { method: 'POST' });
}

function registerJson(body: Record<string, unknown>): Promise<JsonResponse> {
  return http(`${mgmt}/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

interface RefusalOptions {
  /** Paths the allowed listener may see (default none). */
  allowedPaths?: string[];
  /** Client input the reply may echo (removed before the leak check). */
  echo?: string;
}

/** Sends one request, expects exactly `status` and `body`, no leak and no effect. */
async function expectReply(send: () => Promise<JsonResponse>, status: number, body: unknown, opts: RefusalOptions = {}): Promise<void> {
  const before = snapshot();
  const res = await send();
  expect({ status: res.status, body: res.json }).toEqual({ status, body });
  expectNoLeak(res, opts.echo);
  expectNoEffect(before, opts.allowedPaths);
}

/** A refused registration: TorchServe's error envelope with the exact text. */
function expectRefused(send: () => Promise<JsonResponse>, code: number, type: string, message: string, opts: RefusalOptions = {}): Promise<void> {
  return expectReply(send, code, { code, type, message }, opts);
}

/** The server's log, once it holds `text` (log lines may arrive after the reply). */
function logWith(text: string): Promise<string> {
  return eventually(async () => {
    const out = server.output();
    if (!out.includes(text)) throw new Error(`not logged yet: ${text}`);
    return out;
  }, 5_000, 20);
}

async function unregister(name: string): Promise<void> {
  const res = await http(`${mgmt}/models/${enc(name)}`, { method: 'DELETE' });
  expect(res.json).toEqual({ status: `Model "${name}" unregistered` });
}

function storeFile(name: string, bytes: Buffer): string {
  fs.writeFileSync(path.join(sb.store, name), bytes);
  return name;
}

function manifest(model: Record<string, unknown>): string {
  return JSON.stringify({ createdOn: '24/11/2026 10:00:00', runtime: 'python', model: { modelVersion: '1.0', ...model }, archiverVersion: '0.12.0' });
}

/** A hostile .mar in the store: a valid manifest plus `entries`. */
function hostileMar(name: string, entries: RawZipEntry[]): string {
  return storeFile(name, rawZip([{ name: 'MAR-INF/MANIFEST.json', data: manifest({ modelName: name.replace(/\W/g, '_') }) }, ...entries]));
}

function hostileTarGz(name: string, entries: RawTarEntry[]): string {
  return storeFile(name, rawTarGz([{ path: 'm/MAR-INF/MANIFEST.json', data: manifest({ modelName: 'm' }) }, ...entries]));
}

async function goodMar(name: string, spec: Partial<ArchiveSpec> = {}): Promise<string> {
  await writeMar(path.join(sb.store, `${name}.mar`), { modelName: name, serializedFile: 'mlp.onnx', files: { 'mlp.onnx': onnx }, ...spec });
  return `${name}.mar`;
}

describe('safe model loading', () => {
  it('refuses ".." in the url in every spelling, before any file or network access', async () => {
    const relative = (url: string) => `Relative path is not allowed in url: ${url}`;
    const cases: Array<[query: string, url: string]> = [
      [`url=${enc('../outside/evil.mar')}`, '../outside/evil.mar'],
      ['url=%2e%2e%2foutside%2fevil.mar', '../outside/evil.mar'],
      ['url=%2E%2E%2Foutside%2Fevil.mar', '../outside/evil.mar'],
      ['url=..%5Coutside%5Cevil.mar', '..\\outside\\evil.mar'],
      ['url=%2e%2e%5c%2e%2e%5c%2e%2e%5cetc%5cpasswd', '..\\..\\..\\etc\\passwd'],
      [`url=${enc('healthy.mar/../../outside/evil.mar')}`, 'healthy.mar/../../outside/evil.mar'],
      [`url=${enc(`${sb.store}/../outside/evil.mar`)}`, `${sb.store}/../outside/evil.mar`],
      [`url=${enc(`${allowed}/models/../secret.mar`)}`, `${allowed}/models/../secret.mar`],
      [`url=${enc(`${allowed}/models/..\\secret.mar`)}`, `${allowed}/models/..\\secret.mar`],
      [`url=${enc(`file://${sb.store}/../outside/evil.mar`)}`, `file://${sb.store}/../outside/evil.mar`],
    ];
    for (const [query, url] of cases) await expectRefused(() => register(query), 404, NOT_FOUND, relative(url), { echo: url });
    await expectRefused(() => registerJson({ url: '../outside/evil.mar' }), 404, NOT_FOUND, relative('../outside/evil.mar'));

    // Double-encoded: the server decodes once; what is left is a plain (missing) file name, never a path.
    await expectRefused(() => register('url=%252e%252e%252foutside%252fevil.mar'), 404, NOT_FOUND, 'Model not found at: %2e%2e%2foutside%2fevil.mar');

    // Encoded dots inside an allowed http URL: fetched as <allowed>/secret.mar, outside the allowed prefix.
    for (const url of [
      `${allowed}/models/%2e%2e/secret.mar`,
      `${allowed}/models/.%2E/secret.mar`,
      `${allowed}/models/%2E%2E/%2e%2e/secret.mar`,
      `${allowed}/models/%2e%2e\\secret.mar`,
      // Tabs and newlines are dropped from URLs before they are fetched.
      `${allowed}/models/.\t./secret.mar`,
    ]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Given URL ${url} does not match any allowed URL(s)`);
    }
  });

  it('refuses absolute paths outside the model store and file: URLs that allowed_urls does not allow', async () => {
    const abs = path.join(outside, 'evil.mar');
    // TorchServe looks a file path up by its base name inside the model store.
    for (const url of ['/etc/passwd', abs]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Model not found at: ${url}`, { echo: url });
    }
    await expectRefused(() => registerJson({ url: '/etc/passwd' }), 404, NOT_FOUND, 'Model not found at: /etc/passwd');
    for (const url of ['file:///etc/passwd', 'FILE:///etc/passwd', 'file://localhost/etc/passwd', `file://${abs}`]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Given URL ${url} does not match any allowed URL(s)`, { echo: url });
    }
  });

  it('refuses NUL bytes in the url, and a NUL in model_name writes nothing', async () => {
    for (const url of ['healthy.mar\0', 'healthy.mar\0.txt', '\0/etc/passwd', `${outside}/evil.mar\0`]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Model not found at: ${url}`, { echo: url });
    }
    await expectRefused(() => register(`url=${enc('file:///etc/passwd\0')}`), 404, NOT_FOUND, 'Given URL file:///etc/passwd\0 does not match any allowed URL(s)');
    // Allowed: fetched (percent-encoded) from the allowed host only, which has no such file; the partial target is removed.
    const url = `${allowed}/models/remote\0.mar`;
    await expectRefused(() => register(`url=${enc(url)}`), 400, 'DownloadArchiveException', `Failed to download archive from: ${url}`, {
      allowedPaths: ['/models/remote%00.mar'],
    });

    // TorchServe takes any model_name; it is never used as a file name.
    const before = snapshot();
    const res = await register(`url=healthy.mar&model_name=${enc('a\0b')}`);
    expect(res.json).toEqual({ status: zeroWorkers('a\0b') });
    await unregister('a\0b');
    expectNoEffect(before);
  });

  it('never uses model_name as a path: traversal names register (as in TorchServe) and write nothing; the repository API refuses them', async () => {
    for (const name of ['../../evil', '../../../outside/evil', 'a/b', 'a\\..\\..\\b', '/etc/passwd', '%2e%2e%2fevil']) {
      const before = snapshot();
      const res = await register(`url=healthy.mar&model_name=${enc(name)}`);
      expect(res.json).toEqual({ status: zeroWorkers(name) });
      // The only new thing is the private extraction folder, named by a random id.
      const added = sandboxTree().filter((p) => !before.tree.includes(p));
      expect(added.filter((p) => !/^tmp\/models\/[0-9a-f]{32}\//.test(p))).toEqual([]);
      await unregister(name);
      expectNoEffect(before);
    }
    // Triton's load API (CVE-2023-31036): names must be one safe path segment; no file: overrides.
    for (const name of ['../../outside/evil', '.hidden', 'a\0b', '/etc/passwd', 'a/b']) {
      // Triton's error body, {"error": ...}.
      await expectReply(
        () => http(`${mgmt}/v2/repository/models/${enc(name)}/load`, { method: 'POST' }),
        400,
        { error: `Invalid model name "${name}": expected letters, digits, "_", "-" or "." (not starting with those)` },
        { echo: name },
      );
    }
    await expectReply(
      () =>
        http(`${mgmt}/v2/repository/models/healthy/load`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ parameters: { 'file:../../outside/evil.onnx': Buffer.from('x').toString('base64') } }),
        }),
      400,
      { error: 'Load parameter "file:../../outside/evil.onnx" is not supported: models load from the model store as they are' },
    );
  });

  it('refuses SSRF to hosts allowed_urls does not allow, without a request', async () => {
    for (const url of [
      `${forbidden}/models/evil.mar`,
      `http://localhost:${new URL(allowed).port}/models/remote.mar`,
      `https://127.0.0.1:${new URL(allowed).port}/models/remote.mar`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      `http://[::1]:${new URL(forbidden).port}/models/evil.mar`,
    ]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Given URL ${url} does not match any allowed URL(s)`);
    }
  });

  it('refuses a redirect from an allowed URL to a place allowed_urls does not allow, without following it', async () => {
    const cases: Array<[string, string]> = [
      ['redirect-out.mar', `${forbidden}/models/evil.mar`],
      ['redirect-file.mar', `file://${outside}/evil.mar`],
      ['redirect-dots.mar', `${allowed}/secret.mar`],
    ];
    for (const [file, hop] of cases) {
      await expectRefused(() => register(`url=${enc(`${allowed}/models/${file}`)}`), 404, NOT_FOUND, `Given URL ${hop} does not match any allowed URL(s)`, {
        allowedPaths: [`/models/${file}`],
      });
    }
  });

  it('matches allowed_urls in full and case-insensitively: prefixes, suffixes and look-alikes do not pass', async () => {
    const port = new URL(allowed).port;
    for (const url of [
      `${forbidden}/evil.mar?${allowed}/models/remote.mar`,
      `${forbidden}/#${allowed}/models/remote.mar`,
      `http://127.0.0.1:${port}.evil/models/remote.mar`,
      `http://127.0.0.1:${port}0/models/remote.mar`,
      `http://127.0.0.1:${port}@127.0.0.1:${new URL(forbidden).port}/models/evil.mar`,
      `${allowed}/model/remote.mar`,
    ]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Given URL ${url} does not match any allowed URL(s)`);
    }
    await expectRefused(
      () => register(`url=${enc(`${allowed}/models/../x`)}`),
      404,
      NOT_FOUND,
      `Relative path is not allowed in url: ${allowed}/models/../x`,
    );
    for (const url of [`x${allowed}/models/remote.mar`, ` ${allowed}/models/remote.mar`]) {
      await expectRefused(() => register(`url=${enc(url)}`), 404, NOT_FOUND, `Model not found at: ${url}`);
    }

    // The same pattern in another case matches (Java's CASE_INSENSITIVE), and the download lands in the store.
    const before = snapshot();
    const url = `${allowed.toUpperCase()}/MODELS/remote.mar`;
    const res = await register(`url=${enc(url)}&model_name=upper`);
    expect(res.json).toEqual({ status: zeroWorkers('upper') });
    expect(fs.readFileSync(path.join(sb.store, 'remote.mar'))).toEqual(healthyMar);
    await unregister('upper');
    // Unregistering deletes the downloaded file again (TorchServe's rule for URL registrations).
    expectNoEffect(before, ['/MODELS/remote.mar']);
  });

  it('removes a partially downloaded file when the download fails', async () => {
    const url = `${allowed}/models/cut.mar`;
    let sawPartial = false;
    const poll = setInterval(() => {
      if (fs.existsSync(path.join(sb.store, 'cut.mar'))) sawPartial = true;
    }, 10);
    try {
      await expectRefused(() => register(`url=${enc(url)}`), 400, 'DownloadArchiveException', `Failed to download archive from: ${url}`, {
        allowedPaths: ['/models/cut.mar'],
      });
    } finally {
      clearInterval(poll);
    }
    expect(sawPartial).toBe(true);
    await logWith(`Failed to download archive from ${url}: `);
  });

  it('refuses zip slip (../, absolute and Windows ..\\ entries) in .mar and .tar.gz, writing nothing outside', async () => {
    const urls = [
      hostileMar('slip_rel.mar', [{ name: '../../../zipslip-rel.txt', data: 'x' }]),
      hostileMar('slip_deep.mar', [{ name: 'MAR-INF/../../../../zipslip-deep.txt', data: 'x' }]),
      hostileMar('slip_abs.mar', [{ name: path.join(sb.dir, 'zipslip-abs.txt'), data: 'x' }]),
      hostileMar('slip_win.mar', [{ name: '..\\..\\..\\zipslip-win.txt', data: 'x' }]),
      hostileMar('slip_drive.mar', [{ name: 'C:/zipslip-drive.txt', data: 'x' }]),
      hostileTarGz('slip_rel.tar.gz', [{ path: 'm/../../../../zipslip-tar.txt', data: 'x' }]),
      hostileTarGz('slip_abs.tar.gz', [{ path: path.join(sb.dir, 'zipslip-tar-abs.txt'), data: 'x' }]),
    ];
    for (const url of urls) await expectRefused(() => register(`url=${url}`), 500, 'InternalServerException', `Failed to save model: ${url}`);
    await logWith('Detected Zip Slip vulnerability: ../../../zipslip-rel.txt');
  });

  it('refuses symlink and hardlink entries in .mar and .tar.gz', async () => {
    const urls = [
      hostileMar('link_zip.mar', [
        { name: 'link', unixMode: 0o120777, data: outside },
        { name: 'link/secret.txt', data: 'overwritten' },
      ]),
      hostileMar('link_zip_file.mar', [{ name: 'model.onnx', unixMode: 0o120777, data: path.join(outside, 'secret.txt') }]),
      hostileTarGz('link_sym.tar.gz', [
        { path: 'm/link', type: 'SymbolicLink', linkpath: outside },
        { path: 'm/link/secret.txt', data: 'overwritten' },
      ]),
      hostileTarGz('link_rel.tar.gz', [{ path: 'm/up', type: 'SymbolicLink', linkpath: '../../../outside' }]),
      hostileTarGz('link_hard.tar.gz', [{ path: 'm/hard', type: 'Link', linkpath: path.join(outside, 'secret.txt') }]),
      hostileTarGz('link_hard_rel.tar.gz', [{ path: 'm/hard', type: 'Link', linkpath: '../../../outside/secret.txt' }]),
    ];
    for (const url of urls) await expectRefused(() => register(`url=${url}`), 500, 'InternalServerException', `Failed to save model: ${url}`);
  });

  it('refuses zip and gzip bombs: total unpacked size, entry count, lying sizes', async () => {
    const GiB = 1024 ** 3;
    const hugeTar = (() => {
      const header = Buffer.alloc(512);
      new tar.Header({ path: 'm/huge.bin', type: 'File', size: 5 * GiB, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
      return gzipSync(Buffer.concat([header, Buffer.alloc(64 * 1024)]));
    })();
    const urls = [
      // Declared sizes add up to 7.5 GiB (limit 4 GiB): refused from the central directory, nothing inflated.
      hostileMar('bomb_size.mar', [
        { name: 'a.bin', data: 'x', deflate: true, declaredSize: 0xf0000000 },
        { name: 'b.bin', data: 'x', deflate: true, declaredSize: 0xf0000000 },
      ]),
      hostileMar('bomb_count.mar', Array.from({ length: 10_001 }, (_, i) => ({ name: `f/${i}` }))),
      // 16 MiB of zeros declared as 16 bytes: stopped while streaming.
      hostileMar('bomb_lie.mar', [{ name: 'zeros.bin', data: Buffer.alloc(16 * 1024 * 1024), deflate: true, declaredSize: 16 }]),
      storeFile('bomb_size.tar.gz', hugeTar),
      hostileTarGz('bomb_count.tar.gz', Array.from({ length: 10_001 }, (_, i) => ({ path: `m/f${i}` }))),
    ];
    for (const url of urls) await expectRefused(() => register(`url=${url}`), 500, 'InternalServerException', `Failed to save model: ${url}`);
    await logWith('Archive unpacks to more than 4294967296 bytes; refusing to extract it');
    await logWith('Archive has more than 10000 entries; refusing to extract it');
  });

  /** Registers `<name>.mar` whose model-config.yaml asks for 1 worker: the yaml is refused (ignored, logged), so 0 start. */
  async function expectYamlIgnored(name: string, yaml: string, logged: string): Promise<void> {
    const url = await goodMar(name, { configFile: 'model-config.yaml', files: { 'mlp.onnx': onnx, 'model-config.yaml': yaml } });
    const before = snapshot();
    const started = Date.now();
    const res = await register(`url=${url}`);
    expect(res.json).toEqual({ status: zeroWorkers(name) });
    expect(Date.now() - started).toBeLessThan(5_000);
    const line = (await logWith(`${name}: Failed to parse model config yaml file: `))
      .split('\n')
      .find((l) => l.includes(`${name}: Failed to parse model config yaml file: `));
    expect(line?.slice(line.indexOf(`${name}: `) + name.length + 2)).toBe(`Failed to parse model config yaml file: ${logged}`);
    await unregister(name);
    expectNoEffect(before);
  }

  it('refuses model-config.yaml custom tags (!!js/function, !!python/object): the config is ignored, nothing runs', async () => {
    // Control: the same yaml without tags is applied (1 worker).
    const control = await goodMar('yaml_control', { configFile: 'model-config.yaml', files: { 'mlp.onnx': onnx, 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' } });
    expect((await register(`url=${control}`)).json).toEqual({ status: 'Model "yaml_control" Version: 1.0 registered with 1 initial workers' });
    await unregister('yaml_control');

    const workers = 'minWorkers: 1\nmaxWorkers: 1\n';
    const js = `require('fs').writeFileSync('${marker}', 'x')`;
    const py = 'Unresolved tag: tag:yaml.org,2002:python/object/apply:os.system';
    await expectYamlIgnored('yaml_py', `${workers}handler: !!python/object/apply:os.system ["touch ${marker}"]\n`, py);
    await expectYamlIgnored('yaml_js', `${workers}handler: !!js/function "function () { ${js} }"\n`, 'Unresolved tag: tag:yaml.org,2002:js/function');
    await expectYamlIgnored('yaml_verbatim', `${workers}handler: !<tag:yaml.org,2002:js/function> "function () { ${js} }"\n`, 'Unresolved tag: tag:yaml.org,2002:js/function');
    await expectYamlIgnored('yaml_local', `${workers}handler: !custom {cmd: "touch ${marker}"}\n`, 'Unresolved tag: !custom');
  });

  it('refuses a YAML alias bomb (billion laughs) in model-config.yaml', async () => {
    const lol = ['minWorkers: 1', 'maxWorkers: 1', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lol.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    await expectYamlIgnored('yaml_laughs', `${lol.join('\n')}\n`, 'Excessive alias count indicates a resource exhaustion attack');
  });

  it('refuses an oversized or too deeply nested model-config.yaml without parsing it', async () => {
    await expectYamlIgnored('yaml_big', `minWorkers: 1\nmaxWorkers: 1\n#${'x'.repeat(256 * 1024)}\n`, 'The incoming YAML document exceeds the limit: 262144 code points.');
    const deep = 100_000; // deeper than 50 by far, still under the code-point cap
    await expectYamlIgnored('yaml_deep', `minWorkers: 1\nmaxWorkers: 1\na: ${'['.repeat(deep)}${']'.repeat(deep)}\n`, 'Nesting Depth exceeded max 50');
    await expectYamlIgnored('yaml_deep_block', `minWorkers: 1\nmaxWorkers: 1\na:\n${'- '.repeat(deep)}x\n`, 'Nesting Depth exceeded max 50');
  });

  it('refuses a huge or deeply nested MAR-INF/MANIFEST.json', async () => {
    const huge = storeFile(
      'manifest_huge.mar',
      rawZip([{ name: 'MAR-INF/MANIFEST.json', data: manifest({ modelName: 'manifest_huge', description: 'x'.repeat(2 * 1024 * 1024) }), deflate: true }]),
    );
    await expectRefused(() => register(`url=${huge}`), 400, 'InvalidModelException', 'MAR-INF/MANIFEST.json is larger than 1048576 bytes');
    const nested = storeFile(
      'manifest_deep.mar',
      rawZip([{ name: 'MAR-INF/MANIFEST.json', data: `{"runtime":"python","model":{"modelName":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`, deflate: true }]),
    );
    await expectRefused(() => register(`url=${nested}`), 400, 'InvalidModelException', 'Failed to parse signature.json.');
  });

  it('loads handler code only from inside the accepted archive', async () => {
    const cases: Array<[url: string, handler: string]> = [
      [await goodMar('handler_rel', { handler: '../../evil.mjs' }), '../../evil.mjs'],
      [await goodMar('handler_abs', { handler: path.join(outside, 'evil.mjs') }), path.join(outside, 'evil.mjs')],
      [await goodMar('handler_fn', { handler: '../../evil.mjs:handle' }), '../../evil.mjs:handle'],
      [await goodMar('handler_sub', { handler: 'MAR-INF/../../../evil.mjs', files: { 'mlp.onnx': onnx, 'MAR-INF/x.txt': 'x' } }), 'MAR-INF/../../../evil.mjs'],
    ];
    for (const [url, handler] of cases) await expectRefused(() => register(`url=${url}`), 400, 'InvalidModelException', handlerNotFound(handler), { echo: handler });
    // The register API's handler parameter is confined the same way.
    for (const handler of ['../../evil.mjs', path.join(outside, 'evil.mjs'), path.join(sb.tmp, 'evil.mjs')]) {
      await expectRefused(() => register(`url=healthy.mar&model_name=h&handler=${enc(handler)}`), 400, 'InvalidModelException', handlerNotFound(handler), {
        echo: handler,
      });
      await expectRefused(() => registerJson({ url: 'healthy.mar', model_name: 'h', handler }), 400, 'InvalidModelException', handlerNotFound(handler), {
        echo: handler,
      });
    }
  });
});

describe('no information leaks', () => {
  it('answers without temp paths, stack traces or file contents (corrupt .onnx, file-system errors); logs keep the details', async () => {
    const corrupt = await goodMar('corrupt', { files: { 'mlp.onnx': 'this is not an onnx model' } });
    await expectRefused(() => register(`url=${corrupt}&initial_workers=1`), 500, 'InternalServerException', 'Failed to start workers for model corrupt version: 1.0');
    expect(await logWith('Protobuf parsing failed')).toMatch(/Load model from .*mlp\.onnx failed/);

    const long = `${'z'.repeat(300)}.mjs`;
    const longHandler = await goodMar('long_handler', { handler: long });
    await expectRefused(() => register(`url=${longHandler}`), 400, 'InvalidModelException', handlerNotFound(long));

    const longModel = `${'z'.repeat(300)}.onnx`;
    const longSerialized = await goodMar('long_serialized', { serializedFile: longModel });
    await expectRefused(
      () => register(`url=${longSerialized}`),
      400,
      'InvalidModelException',
      `serializedFile "${longModel}" named in MAR-INF/MANIFEST.json was not found in the model archive`,
    );

    // configFile naming a folder, and one with a name too long: TorchServe's fixed 500, the reason in the log.
    for (const [name, configFile] of [['config_dir', 'MAR-INF'], ['config_long', `${'z'.repeat(300)}.yaml`]] as const) {
      const url = await goodMar(name, { configFile });
      await expectRefused(() => register(`url=${url}`), 500, 'InternalServerException', `Failed to save model: ${url}`);
    }
    await logWith('Failed to open model archive config_long.mar: ');

    // The manifest names the secret as its config file: its contents are never echoed.
    const linked = await goodMar('config_secret', { configFile: '../../../outside/secret.txt' });
    await expectRefused(
      () => register(`url=${linked}`),
      400,
      'InvalidModelException',
      'Invalid configFile "../../../outside/secret.txt" in MAR-INF/MANIFEST.json: the path must stay inside the model archive',
    );
  });
});
