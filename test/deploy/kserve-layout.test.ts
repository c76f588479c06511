/**
 * The KServe entry: `kserveLaunchArgs` (pure) on every storage layout and KServe's arguments and env
 * vars; then end to end, `dist/cli/kserve-main.js` (run `npm run build` first) started on KServe
 * layouts rendered into a temp folder — TorchServe's config/ + model-store/, a bare model.onnx, a
 * single .mar — answering /v2/health/ready, a v2 infer and a v1 :predict under the expected name,
 * and draining on SIGTERM (the CLI runs in the entry's own process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { applyLaunchPlan, KServeLayoutError, kserveLaunchArgs, nodeLayoutFs, type LayoutFs } from '../../src/cli/kserve-layout.js';
import { parseManifest } from '../../src/archive/index.js';
import { parseProperties, resolveConfig, type ConfigSources } from '../../src/config/index.js';
import { readZipEntries } from '../fixtures/mar.js';
import { eventually, http, makeSandbox, parseEndpoints, REPO_ROOT, type Endpoints, type Sandbox } from '../e2e/harness.js';

/** An in-memory tree: a path ending in '/' is a folder; other paths are files with their text. */
function fakeFs(tree: Record<string, string>): LayoutFs {
  const files = new Map<string, string>();
  const dirs = new Set<string>();
  for (const [p, text] of Object.entries(tree)) {
    const clean = p.replace(/\/$/, '');
    if (p.endsWith('/')) dirs.add(clean);
    else files.set(clean, text);
    for (let d = path.dirname(clean); d !== '/'; d = path.dirname(d)) dirs.add(d);
  }
  return {
    exists: (p) => files.has(p) || dirs.has(p),
    isDirectory: (p) => dirs.has(p),
    listDir: (p) => [...new Set([...files.keys(), ...dirs].filter((x) => path.dirname(x) === p).map((x) => path.basename(x)))],
    readFile: (p) => files.get(p),
  };
}

const WORK = '/home/model-server/tmp/onnxserve-kserve';
const plan = (tree: Record<string, string>, argv: string[] = ['--model_name=iris'], env: Record<string, string> = {}) =>
  kserveLaunchArgs({ argv, env, fs: fakeFs(tree), workDir: WORK, now: new Date(2026, 10, 24, 10, 0, 0) });

/** What the CLI would run with: the plan's args parsed by the real parser, the generated config resolved. */
function resolved(p: ReturnType<typeof plan>, tree: Record<string, string>) {
  const parsed = parseArgs(p.args, 'onnxserve', () => undefined);
  if (parsed === 'help') throw new Error('help');
  const files = new Map([...Object.entries(tree), ...p.files.map((f): [string, string] => [f.path, f.content])]);
  const src: ConfigSources = {
    cli: parsed.options,
    env: {},
    cwd: '/home/model-server',
    cpuCount: 2,
    readFile: (f) => files.get(f),
    fileExists: (f) => files.has(f),
    isDirectory: () => true,
  };
  return { options: parsed.options, config: resolveConfig(src) };
}

const TS_CONFIG = [
  '# TorchServe KServe sample',
  'inference_address=http://0.0.0.0:8085',
  'management_address=http://0.0.0.0:8085',
  'metrics_address=http://0.0.0.0:8082',
  'enable_envvars_config=true',
  'model_store=/mnt/models/model-store',
  'model_snapshot={"name":"startup.cfg","modelCount":1,"models":{"iris":{"1.0":{"defaultVersion":true,"marName":"iris.mar","minWorkers":1,"maxWorkers":1,"batchSize":1,"maxBatchDelay":100,"responseTimeout":120}}}}',
  '',
].join('\n');

describe('kserveLaunchArgs: arguments and environment', () => {
  const onnx = { '/mnt/models/model.onnx': 'x' };

  it('takes --k=v and --k v, passes everything else to the CLI, always starts in the foreground without snapshots', () => {
    const p = plan(onnx, ['--model_name', 'iris', '--model_dir=/mnt/models', '--http_port', '9000', '--disable-token-auth']);
    expect(p).toMatchObject({ modelName: 'iris', modelDir: '/mnt/models', httpPort: 9000, layout: 'onnx' });
    expect(p.args.slice(0, 3)).toEqual(['--start', '--foreground', '--ncs']);
    expect(p.args.at(-1)).toBe('--disable-token-auth');
    expect(() => plan(onnx, ['--model_name'])).toThrow(KServeLayoutError);
  });

  it('HTTP port: --http_port, else PORT (Knative), else 8080; bad values refused', () => {
    expect(plan(onnx).httpPort).toBe(8080);
    expect(plan(onnx, ['--model_name=iris'], { PORT: '8012' }).httpPort).toBe(8012);
    const both = plan(onnx, ['--model_name=iris', '--http_port=8080'], { PORT: '9999' });
    expect(both.httpPort).toBe(8080);
    expect(both.notes.join('\n')).toMatch(/--http_port 8080 wins over PORT=9999/);
    expect(() => plan(onnx, ['--http_port=http'])).toThrow(/port number/);
    expect(() => plan(onnx, ['--http_port=70000'])).toThrow(/port number/);
  });

  it('model name: --model_name, else INFERENCE_SERVICE_NAME, else K_SERVICE minus -predictor, else "model"; invalid names refused', () => {
    expect(plan(onnx, [], { INFERENCE_SERVICE_NAME: 'flowers' }).modelName).toBe('flowers');
    expect(plan(onnx, [], { K_SERVICE: 'flowers-predictor' }).modelName).toBe('flowers');
    expect(plan(onnx, [], { K_SERVICE: 'flowers-predictor-default-00001' }).modelName).toBe('flowers');
    expect(plan(onnx, []).modelName).toBe('model');
    expect(() => plan(onnx, ['--model_name=../etc'])).toThrow(/Invalid model name/);
  });

  it('notes what it cannot change: PROTOCOL, STORAGE_URI, TS_SERVICE_ENVELOPE; --grpc_port opens gRPC inference on all interfaces', () => {
    const p = plan(onnx, ['--model_name=iris', '--grpc_port=9000'], {
      PROTOCOL: 'v2',
      PROTOCOL_VERSION: 'v2',
      STORAGE_URI: 'gs://b/iris/model.onnx',
      TS_SERVICE_ENVELOPE: 'kservev2',
    });
    const notes = p.notes.join('\n');
    expect(notes).toMatch(/gRPC inference .* on 0\.0\.0\.0:9000/);
    expect(notes).toMatch(/PROTOCOL=v2: onnxserve serves both v1/);
    expect(notes).toMatch(/STORAGE_URI=gs:\/\/b\/iris\/model.onnx/);
    expect(notes).toMatch(/TS_SERVICE_ENVELOPE=kservev2 only shapes \/predictions/);
    expect(p.args).not.toContain('--grpc_port=9000');
    const config = p.files.find((f) => f.path.endsWith('config.properties'))!.content;
    expect(config).toMatch(/^grpc_inference_address=0\.0\.0\.0$/m);
    expect(config).toMatch(/^grpc_inference_port=9000$/m);
    expect(plan(onnx, ['--model_name=iris']).files.find((f) => f.path.endsWith('config.properties'))!.content).not.toMatch(/grpc_/);
  });

  it('explicit --ts-config/--model-store/--models: the layout is not applied', () => {
    const p = plan({}, ['--model_name=iris', '--ts-config', '/etc/my.properties']);
    expect(p.layout).toBe('explicit');
    expect(p.args).toEqual(['--start', '--foreground', '--ncs', '--ts-config', '/etc/my.properties']);
    expect(p.files).toEqual([]);
  });

  it('a missing or empty model dir is an error that says what was expected', () => {
    expect(() => plan({})).toThrow(/Model dir \/mnt\/models not found/);
    expect(() => plan({ '/mnt/models/': '' })).toThrow(/Nothing to serve in \/mnt\/models \(it is empty\).*model\.onnx/);
    expect(() => plan({ '/mnt/models/readme.txt': '' })).toThrow(/found: readme\.txt/);
  });
});

describe('kserveLaunchArgs: layouts', () => {
  it('TorchServe layout: the config text kept, the listener moved to KServe\'s port, colliding management moved', () => {
    const tree = { '/mnt/models/config/config.properties': TS_CONFIG, '/mnt/models/model-store/iris.mar': 'zip' };
    const p = plan(tree, ['--model_name=my-isvc']);
    expect(p.layout).toBe('torchserve');
    expect(p.args).toEqual(['--start', '--foreground', '--ncs', '--ts-config', `${WORK}/config.properties`, '--model-store', '/mnt/models/model-store']);
    const text = p.files[0]?.content ?? '';
    expect(text.startsWith(TS_CONFIG.trimEnd())).toBe(true);
    const props = parseProperties(text);
    expect(props.inference_address).toBe('http://0.0.0.0:8080');
    expect(props.management_address).toBe('http://0.0.0.0:8085'); // 8085 no longer collides: kept
    expect(props.model_snapshot).toContain('"marName":"iris.mar"');
    const { config } = resolved(p, tree);
    expect(config.inferenceAddress.port).toBe(8080);
    expect(config.modelStore).toBe('/mnt/models/model-store');
    expect(config.modelSnapshot?.models.iris).toBeDefined();
  });

  it('TorchServe layout: management on the HTTP port and a missing metrics address are moved; no models named ⇒ all', () => {
    const cfg = 'inference_address=http://0.0.0.0:8080\nmanagement_address=http://0.0.0.0:8080\nmodel_store=/models\n';
    const tree = { '/mnt/models/config/config.properties': cfg };
    const p = plan(tree);
    const props = parseProperties(p.files[0]?.content ?? '');
    expect(props.management_address).toBe('http://127.0.0.1:8081');
    expect(props.metrics_address).toBe('http://0.0.0.0:8082');
    expect(p.args).toEqual(['--start', '--foreground', '--ncs', '--ts-config', `${WORK}/config.properties`, '--models', 'all']);
    expect(p.notes.join('\n')).toMatch(/No \/mnt\/models\/model-store: the model store is the config's model_store \(\/models\)/);
  });

  it('TorchServe layout: a dangling line continuation at the end of the file does not swallow the overrides', () => {
    const tree = { '/mnt/models/config/config.properties': 'load_models=all\nfoo=bar\\' };
    const props = parseProperties(plan(tree).files[0]?.content ?? '');
    expect(props.inference_address).toBe('http://0.0.0.0:8080');
  });

  it('model-store/ without a config: one archive under the InferenceService name, several under their own', () => {
    const one = plan({ '/mnt/models/model-store/resnet.mar': 'zip' });
    expect(one.layout).toBe('model-store');
    expect(one.args.slice(3)).toEqual(['--ts-config', `${WORK}/config.properties`, '--model-store', '/mnt/models/model-store', '--models', 'iris=resnet.mar']);
    const folder = plan({ '/mnt/models/model-store/resnet/MAR-INF/MANIFEST.json': '{}' });
    expect(folder.args).toContain('iris=/mnt/models/model-store/resnet');
    const many = plan({ '/mnt/models/model-store/a.mar': '', '/mnt/models/model-store/b.tar.gz': '', '/mnt/models/model-store/notes.txt': '', '/mnt/models/model-store/lost+found/': '' });
    expect(many.args.at(-1)).toBe('all');
    expect(many.notes.join('\n')).toMatch(/a\.mar, b\.tar\.gz$/m);
    expect(() => plan({ '/mnt/models/model-store/notes.txt': '' })).toThrow(/holds no model archive/);
  });

  it('the generated config: KServe port on all interfaces, management on loopback, Prometheus on 8082, env overrides on', () => {
    const tree = { '/mnt/models/model-store/resnet.mar': 'zip' };
    const p = plan(tree, ['--model_name=iris', '--http_port=8080']);
    const { config } = resolved(p, tree);
    expect(config.inferenceAddress).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.managementAddress).toMatchObject({ host: '127.0.0.1', port: 8081 });
    expect(config.metricsAddress).toMatchObject({ host: '0.0.0.0', port: 8082 });
    expect(config.metricsMode).toBe('prometheus');
    expect(config.enableEnvvarsConfig).toBe(true);
    expect(config.loadModels).toEqual(['iris=resnet.mar']);
    expect(config.allowedUrls.some((re) => re.test('file:///mnt/models/model-store/x.mar'))).toBe(true);
    expect(config.allowedUrls.some((re) => re.test('file:///etc/passwd'))).toBe(false);
  });

  it('a no-archive model at the top (MAR-INF/MANIFEST.json) is served in place', () => {
    const p = plan({ '/mnt/models/MAR-INF/MANIFEST.json': '{}', '/mnt/models/m.onnx': '' });
    expect(p.layout).toBe('folder-archive');
    expect(p.args).toContain('iris=/mnt/models');
    expect(p.links).toEqual([]);
  });

  it('archives at the top (a single-file storageUri): one under the InferenceService name, several as all', () => {
    const one = plan({ '/mnt/models/iris_v3.mar': 'zip' });
    expect(one.layout).toBe('archives');
    expect(one.args.slice(-4)).toEqual(['--model-store', '/mnt/models', '--models', 'iris=iris_v3.mar']);
    expect(plan({ '/mnt/models/a.mar': '', '/mnt/models/b.tgz': '' }).args.at(-1)).toBe('all');
  });

  it('bare model.onnx: a generated folder archive of links plus a manifest, served under the InferenceService name', () => {
    const tree = {
      '/mnt/models/model.onnx': 'onnx',
      '/mnt/models/model.onnx.data': 'weights',
      '/mnt/models/index_to_name.json': '{}',
      '/mnt/models/model-config.yaml': 'minWorkers: 1\n',
      '/mnt/models/.storage-initializer-done': '',
    };
    const p = plan(tree);
    const folder = `${WORK}/model-store/iris`;
    expect(p.layout).toBe('onnx');
    expect(p.args.slice(3)).toEqual(['--ts-config', `${WORK}/config.properties`, '--model-store', `${WORK}/model-store`, '--models', `iris=${folder}`]);
    expect(p.clean).toEqual([`${WORK}/model-store`]);
    expect(p.links).toEqual(
      ['index_to_name.json', 'model-config.yaml', 'model.onnx', 'model.onnx.data'].map((n) => ({ path: `${folder}/${n}`, target: `/mnt/models/${n}` })),
    );
    const manifest = p.files.find((f) => f.path === `${folder}/MAR-INF/MANIFEST.json`);
    const m = parseManifest(manifest?.content);
    expect(m.model).toMatchObject({ modelName: 'iris', serializedFile: 'model.onnx', modelVersion: '1.0', configFile: 'model-config.yaml', handler: 'base_handler' });
    expect(m.createdOn).toBe('24/11/2026 10:00:00');
    expect(m.archiverVersion).toBeDefined();
  });

  it('bare ONNX: a single other .onnx is used; several without model.onnx are refused', () => {
    const single = plan({ '/mnt/models/iris.onnx': '' });
    expect(parseManifest(single.files[1]?.content).model.serializedFile).toBe('iris.onnx');
    expect(parseManifest(single.files[1]?.content).model.configFile).toBeUndefined();
    expect(() => plan({ '/mnt/models/a.onnx': '', '/mnt/models/b.onnx': '' })).toThrow(/Several ONNX models.*none is model\.onnx/);
    expect(plan({ '/mnt/models/a.onnx': '', '/mnt/models/model.onnx': '' }).notes.join('\n')).toMatch(/Serving model\.onnx; a\.onnx only linked/);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end through dist/cli/kserve-main.js.

const ENTRY = path.join(REPO_ROOT, 'dist/cli/kserve-main.js');
const IRIS_MAR = path.join(REPO_ROOT, 'model_store/iris.mar');

interface Running {
  child: ChildProcess;
  endpoints: Endpoints;
  output: () => string;
  exited: Promise<number | null>;
}

let sb: Sandbox | undefined;
let running: Running | undefined;
afterEach(() => {
  if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
  // A test makes its model dir read-only, as KServe's volume is: writable again so it can be removed.
  const mnt = sb && path.join(sb.dir, 'mnt/models');
  if (mnt && fs.existsSync(mnt)) fs.chmodSync(mnt, 0o755);
  sb?.remove();
  sb = running = undefined;
});

/** Starts the KServe entry the way the runtime does, on loopback ports picked by the system. */
function startEntry(s: Sandbox, args: string[]): Promise<Running> {
  if (!fs.existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`npm run build\` first`);
  const env = {
    ...s.env,
    // KServe's own port is 8080; here the entry's --http_port=0 lets the system pick one, and the other
    // listeners move to loopback port 0 through env (the generated config enables TS_* overrides).
    TS_MANAGEMENT_ADDRESS: 'http://127.0.0.1:0',
    TS_METRICS_ADDRESS: 'http://127.0.0.1:0',
    TS_DEFAULT_WORKERS_PER_MODEL: '1',
    PROTOCOL: 'v2',
  };
  const child = spawn(process.execPath, [ENTRY, ...args], { cwd: s.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`entry did not start:\n${out}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Model server started.')) {
        clearTimeout(timer);
        resolve({ child, endpoints: parseEndpoints(out), output: () => out, exited });
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`entry exited with ${code} before starting:\n${out}`));
    });
  });
}

/** The loopback URL of a listener that bound 0.0.0.0. */
const local = (url: string) => url.replace('0.0.0.0', '127.0.0.1');

const SETOSA = [5.1, 3.5, 1.4, 0.2];

/** Ready, v2 metadata + infer and v1 :predict for `name` on a running entry. */
async function checkServes(r: Running, name: string): Promise<void> {
  const api = local(r.endpoints.inference);
  await eventually(async () => expect((await http(`${api}/v2/health/ready`)).status).toBe(200), 30_000);
  const meta = await http(`${api}/v2/models/${name}`);
  expect(meta.status).toBe(200);
  const input = (meta.json as { inputs: Array<{ name: string }> }).inputs[0]?.name;
  const infer = await http(`${api}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'k1', inputs: [{ name: input, shape: [1, 4], datatype: 'FP32', data: SETOSA }] }),
  });
  expect(infer.status, infer.text).toBe(200);
  expect(infer.json).toMatchObject({ model_name: name, id: 'k1' });
  const outputs = (infer.json as { outputs: Array<{ data: number[] }> }).outputs;
  expect(outputs.length).toBeGreaterThan(0);
  const v1 = await http(`${api}/v1/models/${name}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [SETOSA] }) });
  expect(v1.status, v1.text).toBe(200);
  expect((v1.json as { predictions: unknown[] }).predictions).toHaveLength(1);
  expect((await http(`${api}/v1/models/${name}`)).json).toMatchObject({ name, ready: true });
}

describe('kserve-main end to end', () => {
  it('TorchServe layout (config/config.properties + model-store/): the config\'s models, on the entry\'s port', async () => {
    sb = makeSandbox();
    const mnt = path.join(sb.dir, 'mnt/models');
    fs.mkdirSync(path.join(mnt, 'config'), { recursive: true });
    fs.mkdirSync(path.join(mnt, 'model-store'));
    fs.copyFileSync(IRIS_MAR, path.join(mnt, 'model-store/iris.mar'));
    fs.writeFileSync(path.join(mnt, 'config/config.properties'), TS_CONFIG.replace('metrics_address=http://0.0.0.0:8082', 'metrics_address=http://127.0.0.1:0'));
    running = await startEntry(sb, ['--model_name=my-isvc', `--model_dir=${mnt}`, '--http_port=0', '--disable-token-auth']);
    expect(running.output()).toMatch(/\[onnxserve-kserve\] TorchServe KServe layout/);
    expect(running.output()).toMatch(/inference_address http:\/\/0\.0\.0\.0:8085 .* replaced by http:\/\/0\.0\.0\.0:0/);
    await checkServes(running, 'iris');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('bare model.onnx: served under the InferenceService name with its labels and model-config.yaml; SIGTERM drains', async () => {
    sb = makeSandbox();
    const mnt = path.join(sb.dir, 'mnt/models');
    fs.mkdirSync(mnt, { recursive: true });
    const entries = await readZipEntries(IRIS_MAR);
    fs.writeFileSync(path.join(mnt, 'model.onnx'), entries.get('iris.onnx')!);
    fs.writeFileSync(path.join(mnt, 'index_to_name.json'), entries.get('index_to_name.json')!);
    fs.writeFileSync(path.join(mnt, 'model-config.yaml'), 'minWorkers: 1\nmaxWorkers: 1\n');
    // What KServe's storage initializer leaves is read-only to the server.
    for (const f of fs.readdirSync(mnt)) fs.chmodSync(path.join(mnt, f), 0o444);
    fs.chmodSync(mnt, 0o555);
    // A generated store from an earlier start (a restarted container) is replaced, not reused.
    fs.mkdirSync(path.join(sb.tmp, 'onnxserve-kserve/model-store/stale'), { recursive: true });
    running = await startEntry(sb, ['--model_name=iris-isvc', `--model_dir=${mnt}`, '--http_port=0', '--disable-token-auth']);
    expect(running.output()).toMatch(/Bare ONNX model .*model\.onnx: serving it as "iris-isvc"/);
    await checkServes(running, 'iris-isvc');
    expect(fs.existsSync(path.join(sb.tmp, 'onnxserve-kserve/model-store/stale'))).toBe(false);
    expect(fs.readlinkSync(path.join(sb.tmp, 'onnxserve-kserve/model-store/iris-isvc/model.onnx'))).toBe(path.join(mnt, 'model.onnx'));
    const api = local(running.endpoints.inference);
    // index_to_name.json beside model.onnx labels /predictions (the default handler's labelled reply).
    const labelled = await http(`${api}/predictions/iris-isvc`, { method: 'POST', body: JSON.stringify(SETOSA) });
    expect(labelled.status, labelled.text).toBe(200);
    expect(Object.keys(labelled.json as object)[0]).toBe('setosa');
    // model-config.yaml was honoured: one worker.
    const desc = await http(`${local(running.endpoints.management)}/models/iris-isvc`);
    expect((desc.json as Array<{ workers: unknown[]; minWorkers: number }>)[0]?.minWorkers).toBe(1);
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect(running.output()).toMatch(/Model server stopped\./);
  });

  it('a single .mar at the top of the model dir is served under the InferenceService name', async () => {
    sb = makeSandbox();
    const mnt = path.join(sb.dir, 'mnt/models');
    fs.mkdirSync(mnt, { recursive: true });
    fs.copyFileSync(IRIS_MAR, path.join(mnt, 'flowers.mar'));
    running = await startEntry(sb, ['--model_name=flowers-isvc', `--model_dir=${mnt}`, '--http_port=0', '--disable-token-auth']);
    await checkServes(running, 'flowers-isvc');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('an unservable model dir stops the entry with exit 1 and says why', async () => {
    sb = makeSandbox();
    const mnt = path.join(sb.dir, 'mnt/models');
    fs.mkdirSync(mnt, { recursive: true });
    fs.writeFileSync(path.join(mnt, 'README'), 'nothing here');
    const child = spawn(process.execPath, [ENTRY, `--model_dir=${mnt}`], { cwd: sb.dir, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(out).toMatch(/Nothing to serve in .*mnt\/models \(found: README\)/);
  });

  it('applyLaunchPlan writes, links and cleans what a plan says', () => {
    sb = makeSandbox();
    const mnt = path.join(sb.dir, 'mnt');
    fs.mkdirSync(mnt);
    fs.writeFileSync(path.join(mnt, 'model.onnx'), 'x');
    const work = path.join(sb.tmp, 'w');
    const p = kserveLaunchArgs({ argv: ['--model_name=m'], modelDir: mnt, env: {}, fs: nodeLayoutFs, workDir: work });
    applyLaunchPlan(p);
    applyLaunchPlan(p); // a second start over the first one's output
    expect(fs.readFileSync(path.join(work, 'model-store/m/model.onnx'), 'utf8')).toBe('x');
    expect(JSON.parse(fs.readFileSync(path.join(work, 'model-store/m/MAR-INF/MANIFEST.json'), 'utf8')).model.modelName).toBe('m');
    expect(parseProperties(fs.readFileSync(path.join(work, 'config.properties'), 'utf8')).model_store).toBe(path.join(work, 'model-store'));
  });
});
