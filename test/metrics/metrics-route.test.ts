import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { resolveConfig } from '../../src/config/resolve.js';
import { createListener } from '../../src/http/listener.js';
import { metricsRouter } from '../../src/http/metrics.js';
import type { Logger } from '../../src/logging.js';
import { ServerMetrics, type MetricsMode } from '../../src/metrics/server-metrics.js';
import { fakeSources } from '../config/fake-sources.js';

const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';
const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const config = resolveConfig(fakeSources());

const open: Array<{ app: FastifyInstance; metrics?: ServerMetrics }> = [];
afterAll(async () => {
  for (const { app, metrics } of open) {
    await app.close();
    metrics?.close();
  }
});

/** A metrics listener as app.ts builds it, answering through inject (no port). */
function listener(mode?: MetricsMode): { app: FastifyInstance; metrics?: ServerMetrics } {
  const metrics = mode ? new ServerMetrics({ mode, hostname: 'myhost', systemIntervalSec: 0 }) : undefined;
  const app = createListener({ kind: 'metrics', router: metricsRouter(metrics), config, accessLog: silent });
  const entry = metrics ? { app, metrics } : { app };
  open.push(entry);
  return entry;
}

describe('metrics listener', () => {
  it('answers /metrics in prometheus mode with the 0.0.4 text and content type', async () => {
    const { app, metrics } = listener('prometheus');
    metrics?.httpResponse(200);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(PROMETHEUS);
    expect(res.body).toContain('# TYPE Requests2XX counter\nRequests2XX{Level="Host",Hostname="myhost",} 1.0\n');
    expect(res.body).toContain('# TYPE onnxserve_requests_total counter\n');
  });

  it('applies repeated name[] parameters, encoded or not', async () => {
    const { app, metrics } = listener('prometheus');
    metrics?.httpResponse(200);
    metrics?.httpResponse(404);
    const res = await app.inject({ method: 'GET', url: '/metrics?name[]=Requests2XX&name%5B%5D=Requests4XX' });
    expect(res.body).toBe(
      [
        '# HELP Requests2XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests2XX counter',
        'Requests2XX{Level="Host",Hostname="myhost",} 1.0',
        '# HELP Requests4XX Torchserve prometheus counter metric with unit: Count',
        '# TYPE Requests4XX counter',
        'Requests4XX{Level="Host",Hostname="myhost",} 1.0',
        '',
      ].join('\n'),
    );
  });

  it('answers any method and any path under /metrics', async () => {
    const { app } = listener('legacy');
    for (const [method, url] of [['POST', '/metrics'], ['DELETE', '/metrics/x/y'], ['PUT', '/metrics/']] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS);
      expect(res.body).toMatch(/^# HELP ts_inference_requests_total /);
    }
  });

  it('answers 200 with an empty body in log mode, and without metrics at all', async () => {
    for (const mode of ['log', undefined] as const) {
      const res = await listener(mode).app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(PROMETHEUS);
      expect(res.body).toBe('');
    }
  });

  it('keeps the other routes: OPTIONS / and /api-description, 405 on /, 404 elsewhere', async () => {
    const { app } = listener('prometheus');
    const options = await app.inject({ method: 'OPTIONS', url: '/' });
    expect(options.statusCode).toBe(200);
    expect(options.json()).toHaveProperty('openapi');
    expect((await app.inject({ method: 'GET', url: '/api-description' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(405);
    expect((await app.inject({ method: 'GET', url: '/metric' })).statusCode).toBe(404);
  });
});
