/**
 * What the Dockerfile does, without a container engine: the build stage (only package.json,
 * package-lock.json, .npmrc, tsconfig*.json and src/ copied in, `npm pack`, whose `prepare` builds),
 * the deps stage (the tarball unpacked into an app folder, `npm ci --omit=dev --ignore-scripts` with
 * the repository's lock file and ONNXRUNTIME_NODE_INSTALL=skip), the runtime stage (the image's
 * /home/model-server layout in a temp folder: docker/config.properties, a read-only mounted model
 * store, writable logs/ and tmp/), then `docker/entrypoint.sh serve` as uid 1000 when the test runs
 * as root — the server keeps the entrypoint's PID (PID 1 in a container), reads its config from the
 * mounted file and TS_* env vars, answers /ping and predictions with its token, passes
 * docker/healthcheck.mjs on every probed route, exports the HPA's metric, and drains on SIGTERM.
 * Skipped, saying so, when the npm registry cannot be reached.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readZipEntries, writeMar } from '../fixtures/mar.js';
import { slow } from '../fixtures/models.js';
import { parseEndpoints, type Endpoints } from '../e2e/harness.js';
import { makeClient, unary } from '../grpc/helpers.js';
import { probedRoutes, REPO_ROOT } from './helpers.js';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;
/** The image's user; the test's own user when it is not root (it cannot switch then). */
const uid = asRoot ? 1000 : process.getuid?.();
const gid = asRoot ? 1000 : process.getgid?.();

let tmp: string | undefined;
let server: ChildProcess | undefined;
/** The installed app and the entrypoint, once the first test has installed them. */
let installed: { app: string; entrypoint: string } | undefined;
afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (tmp) {
    // The mounted model store is read-only, as a volume mounted :ro would be.
    for (const d of [path.join(tmp, 'home/model-store')]) if (fs.existsSync(d)) fs.chmodSync(d, 0o755);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/** Why the registry cannot be used (undefined when it can), found out within a few seconds. */
async function registryProblem(): Promise<string | undefined> {
  let registry = 'https://registry.npmjs.org/';
  try {
    registry = (await run('npm', ['config', 'get', 'registry'], { timeout: 15_000 })).stdout.trim() || registry;
  } catch {
    // keep the default
  }
  try {
    await fetch(registry, { method: 'HEAD', signal: AbortSignal.timeout(5_000) });
    return undefined;
  } catch (err) {
    return `the npm registry ${registry} cannot be reached (${(err as Error).message})`;
  }
}

function npm(args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return run('npm', args, {
    cwd,
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', NODE_ENV: 'production' },
  }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
}

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/** Waits for "Model server started." on the server's output. */
function started(child: ChildProcess, output: () => string, timeoutMs: number): Promise<Endpoints> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output()}`)), timeoutMs);
    const check = () => {
      if (output().includes('Model server started.')) {
        clearTimeout(timer);
        resolve(parseEndpoints(output()));
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before starting:\n${output()}`));
    });
  });
}

function request(url: string, opts: { method?: string; key?: string; body?: string } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('the Dockerfile\'s steps, run here', () => {
  it('npm pack → npm ci --omit=dev → entrypoint serve as uid 1000: serves, health-checks, drains', async (ctx) => {
    const problem = await registryProblem();
    if (problem) {
      console.warn(`SKIPPED package-install: ${problem}`);
      ctx.skip();
      return;
    }
    const t0 = Date.now();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-pkg-'));
    fs.chmodSync(tmp, 0o755); // the app is read by uid 1000, as /opt/onnxserve in the image

    // --- build stage: COPY package.json package-lock.json .npmrc tsconfig*.json src; npm pack ---
    const build = path.join(tmp, 'build');
    fs.mkdirSync(build);
    for (const f of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(build, f));
    copyTree(path.join(REPO_ROOT, 'src'), path.join(build, 'src'));
    copyTree(path.join(REPO_ROOT, 'proto'), path.join(build, 'proto'));
    // The image runs `npm ci` here for the build tools; the repository's node_modules is that install.
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(build, 'node_modules'), 'dir');
    const pkgDir = path.join(tmp, 'pkg');
    fs.mkdirSync(pkgDir);
    const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', pkgDir], build, 120_000)).stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(pkgDir, packed[0]?.filename ?? '');
    const packedFiles = packed[0]?.files.map((f) => f.path) ?? [];
    expect(packedFiles).toContain('dist/cli/main.js');
    expect(packedFiles).toContain('dist/cli/kserve-main.js');
    expect(packedFiles.some((f) => f.startsWith('node_modules/') || f === '.npmrc' || f === 'package-lock.json')).toBe(false);
    const tPack = Date.now();

    // --- deps stage: tar -xzf; COPY package-lock.json .npmrc; npm ci --omit=dev --ignore-scripts ---
    const app = path.join(tmp, 'opt/onnxserve');
    fs.mkdirSync(app, { recursive: true });
    fs.chmodSync(path.join(tmp, 'opt'), 0o755);
    await run('tar', ['-xzf', tarball, '--strip-components=1', '--no-same-owner', '-C', app]);
    for (const f of ['package-lock.json', '.npmrc']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(app, f));
    await npm(['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], app, 180_000);
    for (const f of ['dist/cli/main.js', 'dist/cli/kserve-main.js', 'dist/archiver/main.js']) fs.chmodSync(path.join(app, f), 0o755);
    const tCi = Date.now();
    // Production dependencies only; onnxruntime-node's CPU binaries ship in its package, nothing was downloaded.
    // (@types/node is not checked: protobufjs, under @grpc/proto-loader, depends on it at run time.)
    for (const dev of ['typescript', 'vitest', 'tsx', 'onnx-proto']) expect(fs.existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    for (const dep of ['fastify', 'onnxruntime-node', 'sharp', 'yaml']) expect(fs.existsSync(path.join(app, 'node_modules', dep)), dep).toBe(true);
    const ortBin = path.join(app, 'node_modules/onnxruntime-node/bin');
    const ortFiles = fs.readdirSync(ortBin, { recursive: true }).map(String);
    expect(ortFiles.some((f) => f.endsWith('onnxruntime_binding.node'))).toBe(true);
    expect(ortFiles.some((f) => /providers_cuda|providers_tensorrt/.test(f)), 'no CUDA libraries downloaded').toBe(false);
    // The image copies the health check beside the app and the entrypoint onto the PATH.
    fs.mkdirSync(path.join(app, 'docker'));
    fs.copyFileSync(path.join(REPO_ROOT, 'docker/healthcheck.mjs'), path.join(app, 'docker/healthcheck.mjs'));
    const entrypoint = path.join(tmp, 'onnxserve-entrypoint.sh');
    fs.copyFileSync(path.join(REPO_ROOT, 'docker/entrypoint.sh'), entrypoint);
    fs.chmodSync(entrypoint, 0o755);
    installed = { app, entrypoint };

    // --- runtime stage: the image's /home/model-server, relocated into the temp folder ---
    const home = path.join(tmp, 'home');
    const store = path.join(home, 'model-store');
    for (const d of [home, store, path.join(home, 'logs'), path.join(home, 'tmp')]) fs.mkdirSync(d, { recursive: true });
    const imageConfig = fs.readFileSync(path.join(REPO_ROOT, 'docker/config.properties'), 'utf8');
    fs.writeFileSync(path.join(home, 'config.properties'), imageConfig.replaceAll('/home/model-server/', `${home}/`));
    // The mounted model store: iris plus a slow model for the drain; read-only, owned by someone else.
    fs.copyFileSync(path.join(REPO_ROOT, 'model_store/iris.mar'), path.join(store, 'iris.mar'));
    const slowOnnx = await slow(tmp);
    await writeMar(path.join(store, 'slow.mar'), {
      modelName: 'slow',
      serializedFile: 'model.onnx',
      configFile: 'model-config.yaml',
      files: { 'model.onnx': fs.readFileSync(slowOnnx), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\nresponseTimeout: 60\n' },
    });
    for (const f of fs.readdirSync(store)) fs.chmodSync(path.join(store, f), 0o444);
    fs.chmodSync(store, 0o555);
    if (asRoot) for (const d of [home, path.join(home, 'logs'), path.join(home, 'tmp')]) fs.chownSync(d, 1000, 1000);
    // State a killed server left in the tmp volume: an extraction folder (removed at start)...
    fs.mkdirSync(path.join(home, 'tmp/models/stale'), { recursive: true });
    if (asRoot) for (const d of ['tmp/models', 'tmp/models/stale']) fs.chownSync(path.join(home, d), 1000, 1000);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      NODE_ENV: 'production',
      ONNXRUNTIME_NODE_INSTALL: 'skip',
      ONNXSERVE_APP: app,
      TS_CONFIG_FILE: path.join(home, 'config.properties'),
      LOG_LOCATION: path.join(home, 'logs'),
      TEMP: path.join(home, 'tmp'),
      TMPDIR: path.join(home, 'tmp'),
      // Configuration from env (the image's config has enable_envvars_config=true): loopback, free ports.
      TS_INFERENCE_ADDRESS: 'http://127.0.0.1:0',
      TS_MANAGEMENT_ADDRESS: 'http://127.0.0.1:0',
      TS_METRICS_ADDRESS: 'http://127.0.0.1:0',
      TS_GRPC_INFERENCE_ADDRESS: '127.0.0.1',
      TS_GRPC_MANAGEMENT_ADDRESS: '127.0.0.1',
      TS_GRPC_INFERENCE_PORT: '0',
      TS_GRPC_MANAGEMENT_PORT: '0',
      TS_METRICS_MODE: 'prometheus',
      TS_DEFAULT_WORKERS_PER_MODEL: '1',
      TS_DRAIN_TIMEOUT_S: '20',
    };
    // ...and a PID file naming the PID the server is about to have (it was PID 1 before the restart,
    // as it is now): `sh` writes its own PID, then execs the entrypoint, which execs node.
    let out = '';
    server = spawn('sh', ['-c', 'echo $$ > "$TMPDIR/.model_server.pid"; exec "$0" serve', entrypoint], {
      cwd: home,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot ? { uid, gid } : {}),
    });
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => server?.on('exit', (code) => r(code)));
    const endpoints = await started(server, () => out, 60_000);
    const tStart = Date.now();
    const pid = server.pid as number;

    // node replaced the shells and kept their PID; it runs as the image's user.
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toEqual(expect.arrayContaining([path.join(app, 'dist/cli/main.js'), '--start', '--foreground', '--ncs']));
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\b`, 'm'));
    expect(fs.existsSync(path.join(home, 'tmp/models/stale'))).toBe(false);
    expect(out).toMatch(new RegExp(`Config file: ${path.join(home, 'config.properties')}`));

    // Token authorization is on: key_file.json in the working folder, 0600, the server's own.
    const keyFile = path.join(home, 'key_file.json');
    const st = fs.statSync(keyFile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(uid);
    const keys = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { inference: { key: string } };
    const key = keys.inference.key;
    const api = endpoints.inference;
    expect((await request(`${api}/ping`)).status).toBe(400);
    const ping = await request(`${api}/ping`, { key });
    expect(ping).toMatchObject({ status: 200 });
    expect(JSON.parse(ping.text)).toEqual({ status: 'Healthy' });
    const predicted = await request(`${api}/predictions/iris`, { method: 'POST', key, body: JSON.stringify([5.1, 3.5, 1.4, 0.2]) });
    expect(predicted.status, predicted.text).toBe(200);
    expect(Object.keys(JSON.parse(predicted.text) as object)[0]).toBe('setosa');

    // The health check the image and the manifests use, on every route they probe.
    const healthcheck = (route: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [path.join(app, 'docker/healthcheck.mjs'), ...route], {
        cwd: home,
        env: { PATH: process.env.PATH, ONNXSERVE_HEALTHCHECK_URL: api, ...extraEnv },
        ...(asRoot ? { uid, gid } : {}),
      }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: Error & { code?: number; stdout?: string }) => ({ code: e.code ?? -1, out: e.stdout ?? e.message }),
      );
    const routes = probedRoutes();
    expect(routes).toContain('/ping');
    for (const r of routes) expect(await healthcheck([r]), r).toMatchObject({ code: 0 });
    const noKey = { ONNXSERVE_KEY_FILE: path.join(home, 'missing.json') };
    const refused = await healthcheck(['/ping'], noKey);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/no inference key/);
    expect(await healthcheck(['/v2/health/live', '--live'], noKey)).toMatchObject({ code: 0 });

    // The HPA's metric, on the metrics port (no token there).
    const metrics = await request(`${endpoints.metrics}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^onnxserve_queue_depth\{model="iris"/m);

    // Graceful drain: a request in progress at SIGTERM is answered; probes say not-ready; exit 0.
    await request(`${api}/predictions/slow`, { method: 'POST', key, body: JSON.stringify({ x: [[1, 2, 3, 4]], n: 1 }) });
    const inFlight = request(`${api}/predictions/slow`, { method: 'POST', key, body: JSON.stringify({ x: [[1, 2, 3, 4]], n: 3000 }) });
    await new Promise((r) => setTimeout(r, 150));
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const duringDrain = await healthcheck(['/ping']);
    expect((await inFlight).status).toBe(200);
    const code = await exited;
    expect(code).toBe(0);
    expect(out).toMatch(/Draining: finishing the requests in progress \(up to 20 s\)/);
    expect(out).toMatch(/Model server stopped\./);
    if (duringDrain.code === 0) console.warn('the slow request finished before the drain check; not-ready during drain not observed');
    else expect(duringDrain.out).toMatch(/\/ping: 500/);
    console.log(
      `package-install: pack ${((tPack - t0) / 1000).toFixed(1)} s, npm ci ${((tCi - tPack) / 1000).toFixed(1)} s, start ${((tStart - tCi) / 1000).toFixed(1)} s, ` +
        `checks + drain ${((Date.now() - tStart) / 1000).toFixed(1)} s; served as uid ${uid}${asRoot ? '' : ' (not root: could not switch to 1000)'}`,
    );
  }, 240_000);

  it('the installed package\'s `kserve` command serves a bare model.onnx under the InferenceService name', async (ctx) => {
    if (!installed || !tmp) {
      ctx.skip();
      return;
    }
    const mnt = path.join(tmp, 'mnt/models');
    fs.mkdirSync(mnt, { recursive: true });
    fs.writeFileSync(path.join(mnt, 'model.onnx'), (await readZipEntries(path.join(REPO_ROOT, 'model_store/iris.mar'))).get('iris.onnx')!);
    fs.chmodSync(path.join(tmp, 'mnt'), 0o755);
    const home = path.join(tmp, 'kserve-home');
    fs.mkdirSync(path.join(home, 'tmp'), { recursive: true });
    if (asRoot) for (const d of [home, path.join(home, 'tmp')]) fs.chownSync(d, 1000, 1000);
    let out = '';
    // --grpc_port=0: KServe's grpc-v2 port (any free one here); the gRPC management port is moved off 7071 by env.
    server = spawn(installed.entrypoint, ['kserve', '--model_name=flowers', `--model_dir=${mnt}`, '--http_port=0', '--grpc_port=0', '--disable-token-auth'], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ONNXSERVE_APP: installed.app,
        LOG_LOCATION: path.join(home, 'logs'),
        TEMP: path.join(home, 'tmp'),
        TMPDIR: path.join(home, 'tmp'),
        TS_MANAGEMENT_ADDRESS: 'http://127.0.0.1:0',
        TS_METRICS_ADDRESS: 'http://127.0.0.1:0',
        TS_GRPC_MANAGEMENT_PORT: '0',
        TS_DEFAULT_WORKERS_PER_MODEL: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot ? { uid, gid } : {}),
    });
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => server?.on('exit', (code) => r(code)));
    const endpoints = await started(server, () => out, 60_000);
    const api = endpoints.inference.replace('0.0.0.0', '127.0.0.1');
    for (let i = 0; (await request(`${api}/v2/health/ready`)).status !== 200; i++) {
      if (i > 100) throw new Error(`not ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const infer = await request(`${api}/v2/models/flowers/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
    });
    expect(infer.status, infer.text).toBe(200);
    expect(JSON.parse(infer.text)).toMatchObject({ model_name: 'flowers' });
    // grpc-v2: the OIP GRPCInferenceService on the --grpc_port, all interfaces.
    expect(endpoints.grpcInference).toMatch(/^0\.0\.0\.0:\d+$/);
    const oip = makeClient('open_inference_grpc.proto', 'inference.GRPCInferenceService', Number(endpoints.grpcInference!.split(':')[1]));
    try {
      const res = await unary<{ model_name: string; outputs: Array<{ name: string }> }>(oip, 'ModelInfer', {
        model_name: 'flowers',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] } }],
      });
      expect(res.model_name).toBe('flowers');
      expect(res.outputs.length).toBeGreaterThan(0);
    } finally {
      oip.close();
    }
    expect(fs.readFileSync(`/proc/${server.pid}/cmdline`, 'utf8')).toContain(path.join(installed.app, 'dist/cli/kserve-main.js'));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
