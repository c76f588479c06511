/**
 * The CLI as a script would use it: messages and exit codes of spec §1.2-1.4, daemon start/stop
 * through the PID file, `--foreground` stopped by `--stop`, and start-up failures exiting 1.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, http, makeSandbox, parseEndpoints, runCli, startForeground, type Sandbox } from './harness.js';

let sb: Sandbox;
beforeEach(() => {
  sb = makeSandbox();
});
afterEach(async () => {
  await runCli(sb, ['--stop']);
  sb.remove();
});

describe('CLI messages and exit codes', () => {
  it('prints the version under both names', async () => {
    const ts = await runCli(sb, ['--version'], { argv0: 'torchserve' });
    expect(ts).toMatchObject({ code: 0, stdout: 'TorchServe Version is 0.12.0\n' });
    const os = await runCli(sb, ['-v']);
    expect(os.code).toBe(0);
    expect(os.stdout).toMatch(/^onnxserve Version is \d+\.\d+\.\d+\n$/);
  });

  it('reports a stop with nothing running', async () => {
    expect(await runCli(sb, ['--stop'])).toMatchObject({ code: 0, stdout: 'TorchServe is not currently running.\n' });
  });

  it('removes an orphan PID file', async () => {
    fs.writeFileSync(path.join(sb.tmp, '.model_server.pid'), '999999');
    const res = await runCli(sb, ['--stop']);
    expect(res.stdout).toBe('Removing orphan pid file.\nTorchServe is not currently running.\n');
    expect(fs.existsSync(path.join(sb.tmp, '.model_server.pid'))).toBe(false);
  });

  it('refuses a missing model store, config file or log config with exit 1', async () => {
    const missingStore = await runCli(sb, ['--start', '--model-store', 'nowhere']);
    expect(missingStore).toMatchObject({ code: 1, stdout: '--model-store directory not found: nowhere\n' });
    const noStore = await runCli(sb, ['--start']);
    expect(noStore).toMatchObject({ code: 1, stdout: 'Missing mandatory parameter --model-store\n' });
    const noConfig = await runCli(sb, ['--start', '--ts-config', 'missing.properties', '--model-store', sb.store]);
    expect(noConfig).toMatchObject({ code: 1, stdout: '--ts-config file not found: missing.properties\n' });
    const badNumber = sb.writeConfig({ model_store: sb.store, job_queue_size: 'lots' });
    const bad = await runCli(sb, ['--start', '--ts-config', badNumber]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('job_queue_size');
  });

  it('exits 2 with a usage message on bad arguments, as argparse does', async () => {
    const res = await runCli(sb, ['--start', '--stop']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/usage:/);
    expect((await runCli(sb, ['--no-such-flag'])).code).toBe(2);
  });
});

describe('daemon lifecycle', () => {
  it('starts detached, refuses a second start, stops by PID file', async () => {
    fs.copyFileSync(path.join(REPO_ROOT, 'model_store', 'iris.mar'), path.join(sb.store, 'iris.mar'));
    const cfg = sb.writeConfig({ model_store: sb.store });
    const start = await runCli(sb, ['--start', '--ncs', '--ts-config', cfg, '--models', 'flowers=iris.mar']);
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('Model server started.');
    const pid = Number(fs.readFileSync(path.join(sb.tmp, '.model_server.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);

    const endpoints = parseEndpoints(start.stdout);
    const models = await http(`${endpoints.management}/models`);
    expect(models.json).toEqual({ models: [{ modelName: 'flowers', modelUrl: 'iris.mar' }] });

    const again = await runCli(sb, ['--start', '--ts-config', cfg]);
    expect(again).toMatchObject({ code: 1, stdout: 'TorchServe is already running, please use torchserve --stop to stop TorchServe.\n' });

    fs.writeFileSync(path.join(sb.dir, 'key_file.json'), '{}');
    const stop = await runCli(sb, ['--stop']);
    expect(stop).toMatchObject({ code: 0, stdout: 'TorchServe has stopped.\n' });
    expect(fs.existsSync(path.join(sb.tmp, '.model_server.pid'))).toBe(false);
    expect(fs.existsSync(path.join(sb.dir, 'key_file.json'))).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('ends a --foreground server with --stop, which prints nothing on success', async () => {
    const cfg = sb.writeConfig({ model_store: sb.store });
    const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
    expect((await http(`${server.endpoints.inference}/ping`)).json).toEqual({ status: 'Healthy' });
    const stop = await runCli(sb, ['--stop', '--foreground']);
    expect(stop).toMatchObject({ code: 0, stdout: '' });
    expect(await server.exited).toBe(0);
  });

  it('fails with the reason and exit 1 when a port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const cfg = sb.writeConfig({ model_store: sb.store, inference_address: `http://127.0.0.1:${port}` });
      const res = await runCli(sb, ['--start', '--ncs', '--ts-config', cfg]);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain(`Failed to bind inference_address http://127.0.0.1:${port}: address already in use`);
      expect(fs.existsSync(path.join(sb.tmp, '.model_server.pid'))).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
