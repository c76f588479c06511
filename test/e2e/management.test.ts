/**
 * Management API end to end, through the real CLI: the model-API-control seed scenarios,
 * register (all archive formats, JSON body), list paging, describe, scale, versions,
 * set-default, unregister, and TorchServe's error texts.
 */
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFolder, writeMar, writeTarGz } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type ForegroundServer, type Sandbox } from './harness.js';

const METHOD_NOT_ALLOWED = {
  code: 405,
  type: 'MethodNotAllowedException',
  message: 'Requested method is not allowed, please refer to API document.',
};

async function storeWithMlp(sb: Sandbox): Promise<Buffer> {
  const model = await mlp(sb.dir);
  const bytes = fs.readFileSync(model.path);
  await writeMar(path.join(sb.store, 'mlp.mar'), { modelName: 'mlp', serializedFile: 'mlp.onnx', files: { 'mlp.onnx': bytes } });
  return bytes;
}

describe('model API control (seed: model-api-control)', () => {
  let sb: Sandbox;
  let server: ForegroundServer;
  beforeAll(async () => {
    sb = makeSandbox();
    await storeWithMlp(sb);
    const cfg = sb.writeConfig({ model_store: sb.store });
    server = await startForeground(sb, ['--ts-config', cfg, '--ncs']);
  });
  afterAll(async () => {
    await server?.stop();
    sb?.remove();
  });

  it('refuses register with 405 and the exact envelope when the model API is disabled', async () => {
    const res = await http(`${server.endpoints.management}/models?url=mlp.mar`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.text).toBe(`${JSON.stringify(METHOD_NOT_ALLOWED, null, 2)}\n`);
  });

  it('refuses unregister with 405 even for unknown models (gate checked first)', async () => {
    const res = await http(`${server.endpoints.management}/models/nothing/1.0`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.json).toEqual(METHOD_NOT_ALLOWED);
  });

  it('still allows list, describe-404 and scale-404 while disabled', async () => {
    const list = await http(`${server.endpoints.management}/models`);
    expect(list.json).toEqual({ models: [] });
    const describe404 = await http(`${server.endpoints.management}/models/nothing`);
    expect(describe404.status).toBe(404);
    expect(describe404.json).toEqual({ code: 404, type: 'ModelNotFoundException', message: 'Model not found: nothing' });
    const scale = await http(`${server.endpoints.management}/models/nothing?min_worker=1`, { method: 'PUT' });
    expect(scale.status).toBe(404);
  });

  it('writes ACCESS_LOG lines for the refused calls', async () => {
    const log = await eventually(async () => {
      const text = fs.readFileSync(path.join(sb.dir, 'logs', 'access_log.log'), 'utf8');
      if (!text.includes('"POST /models?url=mlp.mar HTTP/1.1" 405')) throw new Error('not yet');
      return text;
    });
    expect(log).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d{3} - \/127\.0\.0\.1:\d+ "POST \/models\?url=mlp\.mar HTTP\/1\.1" 405 \d+$/m);
  });
});

describe('management API with the model API enabled', () => {
  let sb: Sandbox;
  let server: ForegroundServer;
  let mgmt: string;
  let inference: string;
  beforeAll(async () => {
    sb = makeSandbox();
    const bytes = await storeWithMlp(sb);
    await writeTarGz(path.join(sb.store, 'mlp_tgz.tar.gz'), { modelName: 'mlp_tgz', serializedFile: 'mlp.onnx', files: { 'mlp.onnx': bytes } });
    writeFolder(path.join(sb.store, 'mlp_dir'), { modelName: 'mlp_dir', files: { 'model.onnx': bytes } });
    await writeMar(path.join(sb.store, 'mlp_v2.mar'), { modelName: 'mlp', modelVersion: '2.0', serializedFile: 'mlp.onnx', files: { 'mlp.onnx': bytes } });
    await writeMar(path.join(sb.store, 'py.mar'), { modelName: 'py', handler: 'handler.py', serializedFile: 'mlp.onnx', files: { 'mlp.onnx': bytes, 'handler.py': 'x = 1\n' } });
    const withOrt = (name: string, section: string) =>
      writeMar(path.join(sb.store, `${name}.mar`), {
        modelName: name,
        serializedFile: 'mlp.onnx',
        configFile: 'model-config.yaml',
        files: { 'mlp.onnx': bytes, 'model-config.yaml': `onnxruntime:\n${section}` },
      });
    await withOrt('ort_ok', '  intraOpThreads: 1\n  graphOptimizationLevel: basic\n  enableCpuMemArena: false\n  allowSpinning: true\n');
    await withOrt('ort_bad', '  graphOptimizationLevel: fastest\n');
    // A hostile archive: an entry that climbs out of the extraction folder.
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from('{"model": {"modelName": "evil"}, "runtime": "python"}'), 'MAR-INF/MANIFEST.json');
    zip.addBuffer(Buffer.from('owned'), 'placeholder-evil.txt');
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    // yazl refuses `..` names, so patch a same-length name into the bytes.
    const evil = Buffer.from(Buffer.concat(chunks).toString('latin1').replaceAll('placeholder-evil.txt', '../../../../evil.txt'), 'latin1');
    fs.writeFileSync(path.join(sb.store, 'evil.mar'), evil);
    const cfg = sb.writeConfig({ model_store: sb.store, enable_model_api: false });
    server = await startForeground(sb, ['--ts-config', cfg, '--ncs', '--enable-model-api']);
    mgmt = server.endpoints.management;
    inference = server.endpoints.inference;
  });
  afterAll(async () => {
    await server?.stop();
    sb?.remove();
  });

  it('registers a .mar synchronously and lists it (seed: enabled ⇒ register → list)', async () => {
    const res = await http(`${mgmt}/models?url=mlp.mar&initial_workers=1`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'Model "mlp" Version: 1.0 registered with 1 initial workers' });
    const list = await http(`${mgmt}/models`);
    expect(list.json).toEqual({ models: [{ modelName: 'mlp', modelUrl: 'mlp.mar' }] });
  });

  it('answers 409 for a duplicate registration', async () => {
    const res = await http(`${mgmt}/models?url=mlp.mar`, { method: 'POST' });
    expect(res.status).toBe(409);
    expect(res.json).toEqual({ code: 409, type: 'ConflictStatusException', message: 'Model version 1.0 is already registered for model mlp' });
  });

  it('registers a .tar.gz with 0 workers and a folder through a JSON body', async () => {
    const tgz = await http(`${mgmt}/models?url=mlp_tgz.tar.gz`, { method: 'POST' });
    expect(tgz.status).toBe(200);
    expect(tgz.json).toEqual({
      status: 'Model "mlp_tgz" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model.',
    });
    const dir = await http(`${mgmt}/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'mlp_dir', model_name: 'folder_model', initial_workers: '1', synchronous: 'true' }),
    });
    expect(dir.status).toBe(200);
    expect(dir.json).toEqual({ status: 'Model "folder_model" Version: 1.0 registered with 1 initial workers' });
    const pred = await http(`${inference}/predictions/folder_model`, { method: 'POST', body: '[1, 2, 3, 4]' });
    expect(pred.status).toBe(200);
  });

  it('pages the list by name with limit and next_page_token', async () => {
    const page1 = await http(`${mgmt}/models?limit=2`);
    expect(page1.json).toEqual({
      nextPageToken: '2',
      models: [
        { modelName: 'folder_model', modelUrl: 'mlp_dir' },
        { modelName: 'mlp', modelUrl: 'mlp.mar' },
      ],
    });
    const page2 = await http(`${mgmt}/models?limit=2&next_page_token=2`);
    expect(page2.json).toEqual({ models: [{ modelName: 'mlp_tgz', modelUrl: 'mlp_tgz.tar.gz' }] });
    const zero = await http(`${mgmt}/models?limit=0`);
    expect(zero.json).toEqual({ nextPageToken: '0', models: [] });
  });

  it('describes a model with workers and queue status, in TorchServe field order', async () => {
    const res = await http(`${mgmt}/models/mlp`);
    expect(res.status).toBe(200);
    const [entry] = res.json as Array<Record<string, unknown>>;
    expect(Object.keys(entry ?? {}).slice(0, 6)).toEqual(['modelName', 'modelVersion', 'modelUrl', 'runtime', 'minWorkers', 'maxWorkers']);
    expect(entry).toMatchObject({ modelName: 'mlp', modelVersion: '1.0', modelUrl: 'mlp.mar', minWorkers: 1, batchSize: 1, maxBatchDelay: 100, loadedAtStartup: false });
    expect(entry?.jobQueueStatus).toEqual({ remainingCapacity: 100, pendingRequests: 0 });
    const workers = entry?.workers as Array<Record<string, unknown>>;
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({ status: 'READY', gpu: false, gpuUsage: 'N/A' });
    expect(String(workers[0]?.startTime)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const customized = await http(`${mgmt}/models/mlp?customized=true`);
    const meta = (customized.json as Array<{ customizedMetadata: { inputs: Array<{ name: string }> } }>)[0]?.customizedMetadata;
    expect(meta?.inputs[0]?.name).toBe('x');
  });

  it('scales synchronously (200) and asynchronously (202), and checks min/max', async () => {
    const bad = await http(`${mgmt}/models/mlp_tgz?min_worker=3&max_worker=1`, { method: 'PUT' });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ code: 400, type: 'BadRequestException', message: 'max_worker cannot be less than min_worker.' });
    const sync = await http(`${mgmt}/models/mlp_tgz?min_worker=1&synchronous=true`, { method: 'PUT' });
    expect(sync.status).toBe(200);
    expect(sync.json).toEqual({ status: 'Workers scaled to 1 for model: mlp_tgz' });
    const versioned = await http(`${mgmt}/models/mlp_tgz/1.0?min_worker=1&synchronous=true`, { method: 'PUT' });
    expect(versioned.json).toEqual({ status: 'Workers scaled to 1 for model: mlp_tgz, version: 1.0' });
    const async_ = await http(`${mgmt}/models/mlp_tgz?min_worker=0`, { method: 'PUT' });
    expect(async_.status).toBe(202);
    expect(async_.json).toEqual({ status: 'Processing worker updates...' });
    const noWorkers = await eventually(async () => {
      const r = await http(`${inference}/predictions/mlp_tgz`, { method: 'POST', body: '[1,2,3,4]' });
      if (r.status !== 503) throw new Error(`status ${r.status}`);
      return r;
    });
    expect(noWorkers.json).toMatchObject({ code: 503, type: 'ServiceUnavailableException' });
    expect((noWorkers.json as { message: string }).message).toMatch(/^Model "mlp_tgz" has no worker to serve inference request/);
  });

  it('routes versions, sets the default, and guards the default version on delete', async () => {
    const v2 = await http(`${mgmt}/models?url=mlp_v2.mar&initial_workers=1`, { method: 'POST' });
    expect(v2.json).toEqual({ status: 'Model "mlp" Version: 2.0 registered with 1 initial workers' });
    const all = await http(`${mgmt}/models/mlp/all`);
    expect((all.json as Array<{ modelVersion: string }>).map((e) => e.modelVersion)).toEqual(['1.0', '2.0']);
    expect((await http(`${mgmt}/models/mlp`)).json).toMatchObject([{ modelVersion: '1.0' }]);
    const pred = await http(`${inference}/predictions/mlp/2.0`, { method: 'POST', body: '[1,2,3,4]' });
    expect(pred.status).toBe(200);
    const missing = await http(`${inference}/predictions/mlp/9.9`, { method: 'POST', body: '[1,2,3,4]' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 404, type: 'ModelVersionNotFoundException', message: 'Model version: 9.9 does not exist for model: mlp' });

    const badDefault = await http(`${mgmt}/models/mlp/9.9/set-default`, { method: 'PUT' });
    expect(badDefault.json).toEqual({ code: 404, type: 'ModelVersionNotFoundException', message: 'Model version 9.9 does not exist for model mlp' });
    const setDefault = await http(`${mgmt}/models/mlp/2.0/set-default`, { method: 'PUT' });
    expect(setDefault.json).toEqual({ status: 'Default version successfully updated for model "mlp" to "2.0"' });
    expect((await http(`${mgmt}/models/mlp`)).json).toMatchObject([{ modelVersion: '2.0' }]);

    const forbidden = await http(`${mgmt}/models/mlp/2.0`, { method: 'DELETE' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toEqual({ code: 403, type: 'InvalidModelVersionException', message: 'Cannot remove default version for model mlp' });
    const removeOld = await http(`${mgmt}/models/mlp/1.0`, { method: 'DELETE' });
    expect(removeOld.json).toEqual({ status: 'Model "mlp" unregistered' });
    const removeLast = await http(`${mgmt}/models/mlp`, { method: 'DELETE' });
    expect(removeLast.status).toBe(200);
    expect((await http(`${mgmt}/models/mlp`)).status).toBe(404);
  });

  it('refuses Python handlers at registration with a clear 400', async () => {
    const res = await http(`${mgmt}/models?url=py.mar`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 400, type: 'InvalidModelException' });
    expect((res.json as { message: string }).message).toContain('Handler "handler.py" is a Python handler');
    expect((await http(`${mgmt}/models/py`)).status).toBe(404);
  });

  it('applies model-config.yaml onnxruntime settings, and refuses a bad one naming the key', async () => {
    const ok = await http(`${mgmt}/models?url=ort_ok.mar&initial_workers=1&synchronous=true`, { method: 'POST' });
    expect(ok.status).toBe(200);
    const pred = await http(`${inference}/predictions/ort_ok`, { method: 'POST', body: '[1, 2, 3, 4]' });
    expect(pred.status).toBe(200);
    expect(pred.json).toHaveLength(3);
    expect((await http(`${mgmt}/models/ort_ok`, { method: 'DELETE' })).status).toBe(200);
    const bad = await http(`${mgmt}/models?url=ort_bad.mar&initial_workers=1&synchronous=true`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 400, type: 'InvalidModelException' });
    expect((bad.json as { message: string }).message).toBe(
      'model-config.yaml onnxruntime.graphOptimizationLevel must be one of disabled, basic, extended, all (got "fastest")',
    );
    expect((await http(`${mgmt}/models/ort_bad`)).status).toBe(404);
  });

  it('refuses a zip-slip archive with 500 "Failed to save model" and writes nothing outside', async () => {
    const res = await http(`${mgmt}/models?url=evil.mar`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ code: 500, type: 'InternalServerException', message: 'Failed to save model: evil.mar' });
    // Where the entry would have landed from <tmp>/models/<id>/.
    expect(fs.existsSync(path.resolve(sb.tmp, 'models', 'id', '../../../../evil.txt'))).toBe(false);
    expect(fs.readdirSync(path.join(sb.tmp, 'models'))).toHaveLength(1); // mlp_tgz's only: folders are used in place, nothing left by evil.mar
  });

  it('gives TorchServe\'s URL errors', async () => {
    const cases: Array<[string, number, string, string]> = [
      ['', 400, 'BadRequestException', 'Parameter url is required.'],
      ['../x.mar', 404, 'ModelNotFoundException', 'Relative path is not allowed in url: ../x.mar'],
      ['nothing.mar', 404, 'ModelNotFoundException', 'Model not found at: nothing.mar'],
    ];
    for (const [url, code, type, message] of cases) {
      const res = await http(`${mgmt}/models${url ? `?url=${encodeURIComponent(url)}` : ''}`, { method: 'POST' });
      expect(res.json).toEqual({ code, type, message });
    }
    const runtime = await http(`${mgmt}/models?url=mlp.mar&runtime=java`, { method: 'POST' });
    expect(runtime.json).toEqual({ code: 400, type: 'BadRequestException', message: 'Invalid RuntimeType value: java' });
  });

  it('downloads a file:// URL that matches allowed_urls into the model store', async () => {
    const outside = path.join(sb.dir, 'outside');
    fs.mkdirSync(outside, { recursive: true });
    fs.copyFileSync(path.join(sb.store, 'mlp.mar'), path.join(outside, 'fetched.mar'));
    const url = `file://${path.join(outside, 'fetched.mar')}`;
    const res = await http(`${mgmt}/models?url=${encodeURIComponent(url)}&model_name=fetched`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(fs.existsSync(path.join(sb.store, 'fetched.mar'))).toBe(true);
    const again = await http(`${mgmt}/models?url=${encodeURIComponent(url)}&model_name=fetched2`, { method: 'POST' });
    expect(again.json).toEqual({ code: 500, type: 'InternalServerException', message: 'Model file already exists fetched.mar' });
    await http(`${mgmt}/models/fetched`, { method: 'DELETE' });
    expect(fs.existsSync(path.join(sb.store, 'fetched.mar'))).toBe(false);
  });

  it('answers KServe v1 readiness and 404/405 on unknown routes', async () => {
    expect((await http(`${mgmt}/v1/models/folder_model`)).json).toEqual({ name: 'folder_model', ready: true });
    expect((await http(`${mgmt}/nothing`)).json).toEqual({
      code: 404,
      type: 'ResourceNotFoundException',
      message: 'Requested resource is not found, please refer to API document.',
    });
    expect((await http(`${mgmt}/models`, { method: 'PATCH' })).status).toBe(405);
    expect((await http(`${mgmt}/workflows`, { method: 'POST' })).json).toEqual({
      code: 400,
      type: 'BadRequestException',
      message: 'Registering new workflows is disabled.',
    });
    const desc = await http(mgmt, { method: 'OPTIONS' });
    expect(desc.json).toMatchObject({ openapi: '3.0.1', info: { title: 'TorchServe APIs' } });
    const perModel = await http(`${mgmt}/models/folder_model`, { method: 'OPTIONS' });
    expect(perModel.json).toMatchObject({ info: { title: 'RESTful Management API for: folder_model' } });
  });
});

describe('allowed_urls', () => {
  let sb: Sandbox;
  let server: ForegroundServer;
  let files: Server;
  let base: string;
  beforeAll(async () => {
    sb = makeSandbox();
    await storeWithMlp(sb);
    const mar = fs.readFileSync(path.join(sb.store, 'mlp.mar'));
    files = createServer((req, res) => {
      if (req.url?.endsWith('/remote.mar')) res.end(mar);
      else if (req.url === '/ok/redirected.mar') res.writeHead(302, { location: '/elsewhere/remote.mar' }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    const cfg = sb.writeConfig({ model_store: sb.store, allowed_urls: 'http://127.0.0.1:[0-9]+/ok/.*', enable_model_api: true });
    server = await startForeground(sb, ['--ts-config', cfg, '--ncs']);
  });
  afterAll(async () => {
    await server?.stop();
    files?.close();
    sb?.remove();
  });

  it('downloads an http URL that full-matches allowed_urls', async () => {
    const url = `${base}/ok/remote.mar`;
    const res = await http(`${server.endpoints.management}/models?url=${encodeURIComponent(url)}&model_name=remote`, { method: 'POST' });
    expect(res.json).toEqual({ status: 'Model "remote" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model.' });
    expect(fs.existsSync(path.join(sb.store, 'remote.mar'))).toBe(true);
  });

  it('refuses a URL that matches no allowed pattern, before any download', async () => {
    const url = `${base}/elsewhere/remote.mar`;
    const res = await http(`${server.endpoints.management}/models?url=${encodeURIComponent(url)}`, { method: 'POST' });
    expect(res.json).toEqual({ code: 404, type: 'ModelNotFoundException', message: `Given URL ${url} does not match any allowed URL(s)` });
  });

  it('checks every redirect hop against allowed_urls', async () => {
    const url = `${base}/ok/redirected.mar`;
    const res = await http(`${server.endpoints.management}/models?url=${encodeURIComponent(url)}`, { method: 'POST' });
    expect(res.json).toEqual({ code: 404, type: 'ModelNotFoundException', message: `Given URL ${base}/elsewhere/remote.mar does not match any allowed URL(s)` });
    expect(fs.existsSync(path.join(sb.store, 'redirected.mar'))).toBe(false);
  });

  it('reports a failed download with 400 and leaves nothing in the model store', async () => {
    const url = `${base}/ok/missing.mar`;
    const res = await http(`${server.endpoints.management}/models?url=${encodeURIComponent(url)}`, { method: 'POST' });
    expect(res.json).toEqual({ code: 400, type: 'DownloadArchiveException', message: `Failed to download archive from: ${url}` });
    expect(fs.existsSync(path.join(sb.store, 'missing.mar'))).toBe(false);
  });
});
