/** Text mode (the default) writes TorchServe's log4j2 layouts byte for byte (spec §0.8, §6.3). */
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLoggers, log4jTimestamp } from '../../src/logging.js';
import { FIXED_MS, FIXED_STAMP, logDir, read, runChild } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const T = FIXED_STAMP;

describe('text layouts', () => {
  it('log4jTimestamp is log4j2 ISO8601: local time, comma before the milliseconds', () => {
    expect(log4jTimestamp(new Date(FIXED_MS))).toBe(FIXED_STAMP);
    expect(log4jTimestamp(new Date(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05,006');
  });

  it('writes each file in its layout, the additive loggers also to ts_log.log', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FIXED_MS);
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    loggers.main.info('Model server started.');
    loggers.access.info('/127.0.0.1:53514 "POST /models?url=x.mar HTTP/1.1" 405 0');
    loggers.metrics.info('Requests2XX.Count:1.0|#Level:Host|#hostname:myhost,timestamp:1717105563');
    const w = loggers.model.forWorker({ model: 'mlp', version: '1.0', worker: 9000 });
    w.info('Torch worker started.');
    w.warn('careful');
    w.error('failed');
    loggers.main.debug('not shown without debug');
    loggers.main.error('boom');
    await loggers.close();

    expect(read(dir, 'ts_log.log')).toBe(
      `${T} [INFO ] main org.onnxserve.ModelServer - Model server started.\n` +
        `${T} [INFO ] main ACCESS_LOG - /127.0.0.1:53514 "POST /models?url=x.mar HTTP/1.1" 405 0\n` +
        `${T} [INFO ] main TS_METRICS - Requests2XX.Count:1.0|#Level:Host|#hostname:myhost,timestamp:1717105563\n` +
        `${T} [INFO ] W-9000-mlp_1.0 MODEL_LOG - Torch worker started.\n` +
        `${T} [WARN ] W-9000-mlp_1.0 MODEL_LOG - careful\n` +
        `${T} [ERROR] W-9000-mlp_1.0 MODEL_LOG - failed\n` +
        `${T} [ERROR] main org.onnxserve.ModelServer - boom\n`,
    );
    expect(read(dir, 'access_log.log')).toBe(`${T} - /127.0.0.1:53514 "POST /models?url=x.mar HTTP/1.1" 405 0\n`);
    expect(read(dir, 'ts_metrics.log')).toBe(`${T} - Requests2XX.Count:1.0|#Level:Host|#hostname:myhost,timestamp:1717105563\n`);
    expect(read(dir, 'model_log.log')).toBe(
      `${T} [INFO ] W-9000-mlp_1.0 MODEL_LOG - Torch worker started.\n` +
        `${T} [WARN ] W-9000-mlp_1.0 MODEL_LOG - careful\n` +
        `${T} [ERROR] W-9000-mlp_1.0 MODEL_LOG - failed\n`,
    );
  });

  it('writes the start-up dump (a multi-line message) verbatim to ts_log.log', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FIXED_MS);
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    const dump = '\nTorchserve version: 0.12.0\nInference address: http://127.0.0.1:8080\nModel Store: /models';
    loggers.main.info(dump);
    await loggers.close();
    expect(read(dir, 'ts_log.log')).toBe(`${T} [INFO ] main org.onnxserve.ModelServer - ${dump}\n`);
  });

  it('writes debug lines with debug on, for every logger', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(FIXED_MS);
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false, debug: true });
    loggers.main.debug('details');
    loggers.model.forWorker({ model: 'a', version: '2.0', worker: 9001 }).debug('handler details');
    await loggers.close();
    expect(read(dir, 'ts_log.log')).toBe(
      `${T} [DEBUG] main org.onnxserve.ModelServer - details\n${T} [DEBUG] W-9001-a_2.0 MODEL_LOG - handler details\n`,
    );
  });

  it('puts ts_metrics.log under metricsLocation when given', async () => {
    const dir = logDir();
    const metricsDir = path.join(logDir(), 'metrics');
    const loggers = createLoggers({ logLocation: dir, metricsLocation: metricsDir, console: false });
    loggers.metrics.info('CPUUtilization.Percent:0.0|#Level:Host|#hostname:h,timestamp:1');
    await loggers.close();
    expect(read(metricsDir, 'ts_metrics.log')).toContain(' - CPUUtilization.Percent:0.0|');
    expect(read(dir, 'ts_metrics.log')).toBe('');
    expect(read(dir, 'ts_log.log')).toContain('[INFO ] main TS_METRICS - CPUUtilization.Percent:0.0|');
  });

  it('echoes to the console in the ts_log layout', () => {
    const dir = logDir();
    const r = runChild({ logLocation: dir, console: true, end: 'close', fixedTime: true });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      `${T} [INFO ] main org.onnxserve.ModelServer - Model server started.\n` +
        `${T} [INFO ] main ACCESS_LOG - /127.0.0.1:5000 "GET /ping HTTP/1.1" 200 0\n` +
        `${T} [INFO ] main TS_METRICS - Requests2XX.Count:1.0|#Level:Host|#hostname:h,timestamp:0\n` +
        `${T} [INFO ] W-9000-mlp_1.0 MODEL_LOG - handler line 0\n` +
        `${T} [WARN ] main org.onnxserve.ModelServer - Model server stopping.\n`,
    );
    expect(read(dir, 'ts_log.log')).toBe(r.stdout);
  });
});
