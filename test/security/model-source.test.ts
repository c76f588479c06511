/**
 * Downloads through locateModel (src/registry/model-source.ts) with small limits: the size cap, the
 * time limit, removal of partial files, the exclusive target file, file: URLs that are not regular
 * files, redirect hops, and the allowed_urls rule for the URL that is actually fetched.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServeError } from '../../src/errors.js';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS, DEFAULT_MAX_DOWNLOAD_BYTES, locateModel, matchesAllowedUrls, type SourceContext } from '../../src/registry/model-source.js';
import { listTree, tempDir } from '../archive/helpers.js';
import { writeMar } from '../fixtures/mar.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
const routes = new Map<string, Handler>();
const hits: string[] = [];
let marBytes: Buffer;

beforeAll(async () => {
  const dir = tempDir('onnxserve-src-fixture-');
  marBytes = fs.readFileSync(await writeMar(path.join(dir, 'm.mar'), { modelName: 'm', files: { 'm.onnx': 'not really onnx' } }));
  fs.rmSync(dir, { recursive: true, force: true });
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const route = routes.get(req.url ?? '');
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let root: string;
let store: string;
let failures: unknown[];

beforeEach(() => {
  root = tempDir('onnxserve-src-');
  store = path.join(root, 'store');
  fs.mkdirSync(store);
  failures = [];
  hits.length = 0;
  routes.clear();
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function ctx(extra: Partial<SourceContext> = {}): SourceContext {
  return {
    modelStore: store,
    allowedUrls: [new RegExp(`^(?:${base.replace(/\./g, '\\.')}/ok/.*|file://.*)$`, 'i')],
    tempRoot: path.join(root, 'tmp'),
    cwd: root,
    onDownloadFailure: (_url, err) => failures.push(err),
    ...extra,
  };
}

async function refusal(run: Promise<unknown>): Promise<ServeError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServeError);
  return err as ServeError;
}

/** The client's view of a failed download, TorchServe's: 400 with a fixed text. */
async function expectDownloadFailed(url: string, extra: Partial<SourceContext> = {}): Promise<void> {
  const before = listTree(root);
  const err = await refusal(locateModel(url, ctx(extra)));
  expect(err.toPlain()).toEqual({ status: 400, type: 'DownloadArchiveException', message: `Failed to download archive from: ${url}` });
  expect(listTree(root)).toEqual(before);
}

/** Sends `body` in `parts` chunks, `gapMs` apart. */
function trickle(body: Buffer, parts: number, gapMs: number, headers: Record<string, string | number> = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, headers);
    const size = Math.ceil(body.length / parts);
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      const chunk = body.subarray(i * size, (i + 1) * size);
      i++;
      if (i >= parts) return void res.end(chunk);
      res.write(chunk);
      setTimeout(next, gapMs);
    };
    next();
  };
}

describe('download limits', () => {
  it('has sane defaults: 4 GiB and ten minutes', () => {
    expect(DEFAULT_MAX_DOWNLOAD_BYTES).toBe(4 * 1024 ** 3);
    expect(DEFAULT_DOWNLOAD_TIMEOUT_MS).toBe(600_000);
  });

  it('downloads within the limits and keeps the file in the store', async () => {
    routes.set('/ok/m.mar', (_req, res) => res.end(marBytes));
    const located = await locateModel(`${base}/ok/m.mar`, ctx({ maxDownloadBytes: marBytes.length, downloadTimeoutMs: 5_000 }));
    expect(located.downloadedTo).toBe(path.join(store, 'm.mar'));
    expect(fs.readFileSync(path.join(store, 'm.mar'))).toEqual(marBytes);
    await located.archive.cleanup();
  });

  it('refuses a download whose Content-Length is over the cap, before reading the body', async () => {
    routes.set('/ok/big.mar', (_req, res) => res.writeHead(200, { 'content-length': 65_536 }).end(Buffer.alloc(65_536)));
    await expectDownloadFailed(`${base}/ok/big.mar`, { maxDownloadBytes: 1024 });
    expect(String(failures[0])).toContain('Content-Length 65536 is larger than 1024 bytes');
  });

  it('cuts off a chunked download (no Content-Length) once it passes the cap, and removes the partial file', async () => {
    routes.set('/ok/chunked.mar', trickle(Buffer.alloc(64 * 1024, 1), 16, 5));
    await expectDownloadFailed(`${base}/ok/chunked.mar`, { maxDownloadBytes: 10_000 });
    expect(String(failures[0])).toContain('larger than 10000 bytes');
  });

  it('stops a download that trickles past the time limit, and removes the partial file', async () => {
    routes.set('/ok/slow.mar', trickle(marBytes, 40, 100));
    const url = `${base}/ok/slow.mar`;
    const started = Date.now();
    let sawPartial = false;
    const poll = setInterval(() => {
      if (fs.existsSync(path.join(store, 'slow.mar'))) sawPartial = true;
    }, 20);
    try {
      await expectDownloadFailed(url, { downloadTimeoutMs: 400 });
    } finally {
      clearInterval(poll);
    }
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(sawPartial).toBe(true);
    expect(fs.readdirSync(store)).toEqual([]);
  });

  it('removes the partial file when the connection drops mid-body', async () => {
    routes.set('/ok/cut.mar', (_req, res) => {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(Buffer.alloc(50_000));
      setTimeout(() => res.destroy(), 50);
    });
    await expectDownloadFailed(`${base}/ok/cut.mar`);
  });

  it('never touches a file another registration is downloading (exclusive create), and that download completes', async () => {
    routes.set('/ok/race.mar', trickle(marBytes, 2, 400));
    const url = `${base}/ok/race.mar`;
    const first = locateModel(url, ctx());
    await new Promise((r) => setTimeout(r, 150));
    const err = await refusal(locateModel(url, ctx()));
    expect(err.toPlain()).toEqual({ status: 500, type: 'InternalServerException', message: 'Model file already exists race.mar' });
    const located = await first;
    expect(fs.readFileSync(path.join(store, 'race.mar'))).toEqual(marBytes);
    await located.archive.cleanup();
  });

  it('applies the cap to file: URLs and refuses anything but a regular file (a FIFO must not hang)', async () => {
    const big = path.join(root, 'big.mar');
    fs.writeFileSync(big, Buffer.alloc(4096));
    await expectDownloadFailed(`file://${big}`, { maxDownloadBytes: 1024 });
    const fifo = path.join(root, 'fifo.mar');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    await expectDownloadFailed(`file://${fifo}`, { downloadTimeoutMs: 30_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    fs.mkdirSync(path.join(root, 'folder.mar'));
    await expectDownloadFailed(`file://${path.join(root, 'folder.mar')}`);
  });
});

describe('redirects', () => {
  it('refuses a hop that allowed_urls does not allow, without requesting it', async () => {
    routes.set('/ok/r.mar', (_req, res) => res.writeHead(302, { location: '/elsewhere/m.mar' }).end());
    routes.set('/elsewhere/m.mar', (_req, res) => res.end(marBytes));
    const err = await refusal(locateModel(`${base}/ok/r.mar`, ctx()));
    expect(err.toPlain()).toEqual({
      status: 404,
      type: 'ModelNotFoundException',
      message: `Given URL ${base}/elsewhere/m.mar does not match any allowed URL(s)`,
    });
    expect(hits).toEqual(['/ok/r.mar']);
    expect(fs.readdirSync(store)).toEqual([]);
  });

  it('refuses a redirect to a file: URL even when allowed_urls allows file:, and redirect loops', async () => {
    routes.set('/ok/f.mar', (_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
    await expectDownloadFailed(`${base}/ok/f.mar`);
    routes.set('/ok/loop.mar', (_req, res) => res.writeHead(302, { location: '/ok/loop.mar' }).end());
    await expectDownloadFailed(`${base}/ok/loop.mar`);
    expect(hits.filter((h) => h === '/ok/loop.mar')).toHaveLength(6);
  });
});

describe('matchesAllowedUrls', () => {
  const allowed = [/^(?:http:\/\/127\.0\.0\.1:8000\/models\/.*)$/i, /^(?:https:\/\/models\.example\.com:443\/.*)$/i];

  it.each([
    'http://127.0.0.1:8000/models/a.mar',
    'HTTP://127.0.0.1:8000/MODELS/A.MAR',
    'https://models.example.com:443/a.mar',
  ])('allows %s', (url) => {
    expect(matchesAllowedUrls(url, allowed)).toBe(true);
  });

  it.each([
    // Prefix or substring matches are not enough: the pattern must match the whole text.
    'http://127.0.0.1:8000.evil.com/models/a.mar',
    'http://127.0.0.1:80001/models/a.mar',
    'http://evil.com/?http://127.0.0.1:8000/models/a.mar',
    // Fetched as http://127.0.0.1:8000/secret.mar after URL normalisation.
    'http://127.0.0.1:8000/models/%2e%2e/secret.mar',
    'http://127.0.0.1:8000/models/.%2E/secret.mar',
    'http://127.0.0.1:8000/models/%2E./secret.mar',
    'http://127.0.0.1:8000/models\\%2e%2e\\secret.mar',
    // Tabs and newlines are removed by the URL parser: this is fetched as /models/../secret.mar.
    'http://127.0.0.1:8000/models/.\t./secret.mar',
    // Userinfo that makes another host the real one.
    'http://127.0.0.1:8000@evil.com/models/a.mar',
  ])('refuses %s', (url) => {
    expect(matchesAllowedUrls(url, allowed)).toBe(false);
  });
});
