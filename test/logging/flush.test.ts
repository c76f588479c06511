/** Nothing logged is lost: close() flushes, and so does the end of the process, however it ends. */
import { describe, expect, it } from 'vitest';
import { createLoggers } from '../../src/logging.js';
import { lines, logDir, read, runChild } from './helpers.js';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('flushing', () => {
  it('close() writes every buffered line of every file', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    const w = loggers.model.forWorker({ model: 'm', version: '1', worker: 9000 });
    for (let i = 0; i < 5_000; i++) {
      loggers.access.info(`access ${i}`);
      loggers.metrics.info(`metric ${i}`);
      w.info(`model ${i}`);
    }
    loggers.main.info('last');
    await loggers.close();
    expect(lines(dir, 'access_log.log')).toHaveLength(5_000);
    expect(lines(dir, 'ts_metrics.log')).toHaveLength(5_000);
    expect(lines(dir, 'model_log.log')).toHaveLength(5_000);
    const ts = lines(dir, 'ts_log.log');
    expect(ts).toHaveLength(15_001);
    expect(ts.at(-1)).toMatch(/ - last$/);
    loggers.access.info('after close'); // dropped, not thrown
  });

  it('writes without close(): access lines within the interval, server lines on the next turn', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    for (let i = 0; i < 2_000; i++) loggers.access.info(`line ${i}`);
    loggers.main.error('after the burst');
    await until(() => read(dir, 'ts_log.log').includes('after the burst'), 'the server-log line');
    await until(() => lines(dir, 'access_log.log').length === 2_000, 'the access lines');
    lines(dir, 'access_log.log').forEach((l, i) => expect(l.endsWith(` - line ${i}`)).toBe(true));
    const t0 = Date.now();
    loggers.main.info('prompt');
    await until(() => read(dir, 'ts_log.log').includes('prompt'), 'the prompt line');
    expect(Date.now() - t0).toBeLessThan(1_000);
    await loggers.close();
  });

  for (const end of ['exit', 'natural', 'throw'] as const) {
    it(`keeps every line when the process ends by ${end === 'exit' ? 'process.exit()' : end === 'natural' ? 'running out of work' : 'an uncaught exception'}, console included`, () => {
      const dir = logDir();
      const r = runChild({ logLocation: dir, console: true, end, count: 3_000 });
      expect(r.status).toBe(end === 'exit' ? 3 : end === 'throw' ? 1 : 0);
      for (const file of ['access_log.log', 'ts_metrics.log', 'model_log.log']) {
        const got = lines(dir, file);
        expect(got, file).toHaveLength(3_000);
        expect(got.at(-1)).toMatch(/[ :]2999$/);
      }
      const ts = lines(dir, 'ts_log.log');
      expect(ts).toHaveLength(9_002);
      expect(ts.at(-1)).toMatch(/\[WARN \] main org\.onnxserve\.ModelServer - Model server stopping\.$/);
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(ts);
      if (end === 'throw') expect(r.stderr).toContain('Error: the end');
    });
  }
});
