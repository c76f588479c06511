/**
 * Metrics through the real CLI: scrape /metrics before and after known traffic and check exact
 * deltas and label sets (prometheus mode), and the TS_METRICS lines of log mode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, startForeground, type Sandbox } from '../e2e/harness.js';

async function packMlp(sb: Sandbox): Promise<void> {
  const m = await mlp(sb.dir);
  await writeMar(path.join(sb.store, 'mlp.mar'), {
    modelName: 'mlp',
    serializedFile: 'model.onnx',
    configFile: 'model-config.yaml',
    files: { 'model.onnx': fs.readFileSync(m.path), 'model-config.yaml': 'minWorkers: 1\nmaxWorkers: 1\n' },
  });
}

/** `name{labels} value` samples of a Prometheus text body. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const ROW = JSON.stringify([[5.1, 3.5, 1.4, 0.2]]);

describe('metrics end to end', () => {
  it('prometheus mode: exact deltas for TorchServe and onnxserve families after known traffic', async () => {
    const sb = makeSandbox();
    await packMlp(sb);
    const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all', metrics_mode: 'prometheus' });
    const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
    try {
      const api = server.endpoints.inference;
      const scrape = async () => {
        const r = await http(`${server.endpoints.metrics}/metrics`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
        return { text: r.text, s: samples(r.text) };
      };
      await eventually(async () => {
        if ((await http(`${api}/predictions/mlp`, { method: 'POST', body: ROW })).status !== 200) throw new Error('not ready');
      });
      const host = os.hostname();
      const before = await scrape();
      for (let i = 0; i < 3; i++) expect((await http(`${api}/predictions/mlp`, { method: 'POST', body: ROW })).status).toBe(200);
      expect((await http(`${api}/predictions/mlp/9.9`, { method: 'POST', body: ROW })).status).toBe(404);
      expect((await http(`${api}/predictions/mlp`, { method: 'POST', body: '[[1,2]]' })).status).toBe(400);
      const after = await scrape();
      const delta = (key: string) => (after.s.get(key) ?? 0) - (before.s.get(key) ?? 0);
      const ts = `{model_name="mlp",model_version="default",hostname="${host}",}`;
      expect(delta(`ts_inference_requests_total${ts}`)).toBe(4);
      expect(delta(`ts_inference_latency_microseconds${ts}`)).toBeGreaterThan(0);
      // 3 predictions + the 400 + the first scrape (the metrics port counts too); the 404 never reached a model.
      expect(delta(`Requests2XX{Level="Host",Hostname="${host}",}`)).toBe(4);
      expect(delta(`Requests4XX{Level="Host",Hostname="${host}",}`)).toBe(2);
      expect(delta('onnxserve_requests_total{model="mlp",version="1.0",outcome="success"}')).toBe(3);
      expect(delta('onnxserve_requests_total{model="mlp",version="1.0",outcome="400"}')).toBe(1);
      expect(delta('onnxserve_request_duration_seconds_count{model="mlp",version="1.0"}')).toBe(3);
      expect(delta('onnxserve_batch_size_count{model="mlp",version="1.0"}')).toBe(4);
      expect(after.s.get('onnxserve_workers{model="mlp",version="1.0",state="ready"}')).toBe(1);
      expect(after.s.get('onnxserve_queue_depth{model="mlp",version="1.0"}')).toBe(0);
      expect(after.text).toContain('# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count');
      // name[] filter
      const only = await http(`${server.endpoints.metrics}/metrics?name[]=ts_inference_requests_total`);
      expect(only.text.split('\n').filter((l) => l && !l.startsWith('#')).every((l) => l.startsWith('ts_inference_requests_total{'))).toBe(true);
    } finally {
      await server.stop();
      sb.remove();
    }
  });

  it('log mode (the default): /metrics is empty, TS_METRICS lines go to ts_metrics.log', async () => {
    const sb = makeSandbox();
    await packMlp(sb);
    const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all' });
    const server = await startForeground(sb, ['--ncs', '--ts-config', cfg]);
    try {
      const api = server.endpoints.inference;
      await eventually(async () => {
        if ((await http(`${api}/predictions/mlp`, { method: 'POST', body: ROW })).status !== 200) throw new Error('not ready');
      });
      const m = await http(`${server.endpoints.metrics}/metrics`);
      expect([m.status, m.text]).toEqual([200, '']);
      const file = path.join(sb.dir, 'logs', 'ts_metrics.log');
      const host = os.hostname();
      await eventually(async () => {
        const text = fs.readFileSync(file, 'utf8');
        expect(text).toMatch(new RegExp(`^\\S+ - ts_inference_requests_total\\.Count:1\\.0\\|#model_name:mlp,model_version:default\\|#hostname:${host},timestamp:\\d+$`, 'm'));
        expect(text).toMatch(/ - Requests2XX\.Count:1\.0\|#Level:Host\|#hostname:/);
        expect(text).toMatch(/ - WorkerLoadTime\.Milliseconds:\d+\.0\|#WorkerName:W-\d+-mlp_1\.0,Level:Host\|#hostname:/);
      });
    } finally {
      await server.stop();
      sb.remove();
    }
  });
});
