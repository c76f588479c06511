/**
 * Network exposure through the real CLI: with no address configured every listener binds
 * 127.0.0.1 on TorchServe's ports (nothing on other interfaces); CORS headers appear only when the
 * cors_* keys are set.
 */
import net from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { http, makeSandbox, startForeground } from '../e2e/harness.js';

const free = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });

const connects = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, host);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

/** A non-loopback IPv4 address of this machine, if it has one. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('network exposure', () => {
  it('binds 127.0.0.1:8080/8081/8082 and gRPC 127.0.0.1:7070/7071 by default, and nothing on other interfaces', async (t) => {
    for (const p of [8080, 8081, 8082, 7070, 7071]) if (!(await free(p, '127.0.0.1'))) t.skip(`port ${p} is in use on this machine`);
    const sb = makeSandbox();
    try {
      // No *_address keys: TorchServe's defaults apply.
      const cfg = sb.writeConfig({ model_store: sb.store, inference_address: undefined, management_address: undefined, metrics_address: undefined, grpc_inference_port: undefined, grpc_management_port: undefined });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        expect(server.endpoints).toEqual({
          inference: 'http://127.0.0.1:8080',
          management: 'http://127.0.0.1:8081',
          metrics: 'http://127.0.0.1:8082',
          grpcInference: '127.0.0.1:7070',
          grpcManagement: '127.0.0.1:7071',
        });
        expect(await connects(7070, '127.0.0.1')).toBe(true);
        expect((await http('http://127.0.0.1:8080/ping')).status).toBe(200);
        if (external) for (const p of [8080, 8081, 8082, 7070, 7071]) expect(await connects(p, external), `${external}:${p}`).toBe(false);
      } finally {
        await server.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('sends CORS headers only when the cors_* keys are set', async () => {
    const sb = makeSandbox();
    try {
      const plain = await startForeground(sb, ['--ncs', '--ts-config', sb.writeConfig({ model_store: sb.store })]);
      try {
        const r = await http(`${plain.endpoints.inference}/ping`, { headers: { Origin: 'http://evil.example' } });
        expect([...r.headers.keys()].filter((k) => k.startsWith('access-control'))).toEqual([]);
      } finally {
        await plain.stop();
      }
      const cfg = sb.writeConfig({ model_store: sb.store, cors_allowed_origin: 'https://app.example', cors_allowed_methods: 'GET, POST', cors_allowed_headers: 'X-Custom' });
      const cors = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
      try {
        const r = await http(`${cors.endpoints.inference}/ping`);
        expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example');
        expect(r.headers.get('access-control-allow-methods')).toBe('GET, POST');
        expect(r.headers.get('access-control-allow-headers')).toBe('X-Custom');
      } finally {
        await cors.stop();
      }
    } finally {
      sb.remove();
    }
  });
});
