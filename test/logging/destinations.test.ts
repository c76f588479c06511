/** What `--log-config` changes: formats, levels per logger, destinations, additivity. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLoggers, type LogConfig } from '../../src/logging.js';
import { FIXED_STAMP, STAMP, lines, logDir, read, runChild } from './helpers.js';

async function logAll(dir: string, config: LogConfig, debug = false): Promise<void> {
  const loggers = createLoggers({ logLocation: dir, console: false, config, debug });
  loggers.main.debug('main debug');
  loggers.main.info('main info');
  loggers.main.warn('main warn');
  loggers.access.info('access info');
  loggers.metrics.info('metrics info');
  const w = loggers.model.forWorker({ model: 'mlp', version: '1.0', worker: 9000 });
  w.debug('model debug');
  w.info('model info');
  w.error('model error');
  await loggers.close();
}

const messages = (dir: string, file: string) => lines(dir, file).map((l) => l.replace(/^.* - /, ''));

describe('json format', () => {
  it("writes pino's JSON with level, time, pid, hostname, logger and msg; model lines tagged", async () => {
    const dir = logDir();
    await logAll(dir, { format: 'json' });
    const parse = (file: string) => lines(dir, file).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ts = parse('ts_log.log');
    expect(ts.map((r) => [r.level, r.logger, r.msg])).toEqual([
      ['info', 'org.onnxserve.ModelServer', 'main info'],
      ['warn', 'org.onnxserve.ModelServer', 'main warn'],
      ['info', 'ACCESS_LOG', 'access info'],
      ['info', 'TS_METRICS', 'metrics info'],
      ['info', 'MODEL_LOG', 'model info'],
      ['error', 'MODEL_LOG', 'model error'],
    ]);
    for (const r of ts) {
      expect(r.pid).toBe(process.pid);
      expect(r.hostname).toBe(os.hostname());
      expect(Number.isNaN(Date.parse(String(r.time)))).toBe(false);
    }
    expect(parse('access_log.log')).toEqual([expect.objectContaining({ level: 'info', logger: 'ACCESS_LOG', msg: 'access info' })]);
    expect(parse('ts_metrics.log')).toEqual([expect.objectContaining({ logger: 'TS_METRICS', msg: 'metrics info' })]);
    expect(parse('model_log.log')).toEqual([
      expect.objectContaining({ level: 'info', logger: 'MODEL_LOG', model: 'mlp', version: '1.0', worker: 'W-9000-mlp_1.0', msg: 'model info' }),
      expect.objectContaining({ level: 'error', worker: 'W-9000-mlp_1.0', msg: 'model error' }),
    ]);
  });

  it('mixes formats per destination: JSON ts_log, text access_log', async () => {
    const dir = logDir();
    await logAll(dir, { ts_log: { format: 'json' } });
    expect(lines(dir, 'ts_log.log').map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('access info');
    expect(read(dir, 'access_log.log')).toMatch(new RegExp(`^${STAMP} - access info\\n$`));
  });
});

describe('levels per logger', () => {
  it('drops a logger’s lines below its level everywhere, and only that logger’s', async () => {
    const dir = logDir();
    await logAll(dir, { ts_log: { level: 'warn' }, access_log: { level: 'off' }, model_log: { level: 'debug' } });
    expect(messages(dir, 'ts_log.log')).toEqual(['main warn', 'metrics info', 'model debug', 'model info', 'model error']);
    expect(fs.existsSync(path.join(dir, 'access_log.log'))).toBe(true); // opened, empty
    expect(read(dir, 'access_log.log')).toBe('');
    expect(messages(dir, 'model_log.log')).toEqual(['model debug', 'model info', 'model error']);
  });

  it('takes a top-level level for every logger; debug: true only where nothing is configured', async () => {
    const dir = logDir();
    await logAll(dir, { level: 'error', model_log: { level: 'info' } }, true);
    expect(messages(dir, 'ts_log.log')).toEqual(['model info', 'model error']);
  });

  it('applies console.level as a threshold on the console only', () => {
    const dir = logDir();
    const r = runChild({ logLocation: dir, console: true, end: 'close', config: { console: { level: 'warn' } } });
    expect(r.stdout).toMatch(new RegExp(`^${STAMP} \\[WARN \\] main org\\.onnxserve\\.ModelServer - Model server stopping\\.\\n$`));
    expect(lines(dir, 'ts_log.log')).toHaveLength(5);
  });
});

describe('destinations', () => {
  it('off: no file; the lines still reach ts_log.log (additive)', async () => {
    const dir = logDir();
    await logAll(dir, { access_log: { destination: 'off' }, ts_metrics: { destination: 'off' } });
    expect(fs.readdirSync(dir).sort()).toEqual(['model_log.log', 'ts_log.log']);
    expect(messages(dir, 'ts_log.log')).toContain('access info');
  });

  it('additive: false keeps a logger out of ts_log.log and the console', async () => {
    const dir = logDir();
    await logAll(dir, { access_log: { additive: false }, model_log: { additive: false } });
    expect(messages(dir, 'ts_log.log')).toEqual(['main info', 'main warn', 'metrics info']);
    expect(messages(dir, 'access_log.log')).toEqual(['access info']);
    expect(messages(dir, 'model_log.log')).toEqual(['model info', 'model error']);
  });

  it('a file path, relative to the log location; two loggers on one file write each line once', async () => {
    const dir = logDir();
    const abs = path.join(logDir(), 'elsewhere', 'metrics.log');
    await logAll(dir, { ts_log: { destination: 'all.log' }, model_log: { destination: 'all.log' }, ts_metrics: { destination: abs } });
    expect(fs.readdirSync(dir).sort()).toEqual(['access_log.log', 'all.log']);
    expect(messages(dir, 'all.log')).toEqual(['main info', 'main warn', 'access info', 'metrics info', 'model info', 'model error']);
    expect(fs.readFileSync(abs, 'utf8')).toMatch(new RegExp(`^${STAMP} - metrics info\\n$`));
  });

  it('stdout and stderr, in any format; console off', () => {
    const dir = logDir();
    const r = runChild({
      logLocation: dir,
      console: true,
      end: 'close',
      fixedTime: true,
      config: {
        console: { destination: 'off' },
        access_log: { destination: 'stdout', additive: false },
        model_log: { destination: 'stderr', format: 'pretty', additive: false },
        ts_metrics: { destination: 'stdout', format: 'json', additive: false },
      },
    });
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out[0]).toBe(`${FIXED_STAMP} - /127.0.0.1:5000 "GET /ping HTTP/1.1" 200 0`);
    expect(JSON.parse(out[1]!)).toMatchObject({ logger: 'TS_METRICS', msg: 'Requests2XX.Count:1.0|#Level:Host|#hostname:h,timestamp:0' });
    expect(out).toHaveLength(2);
    expect(r.stderr).toBe('[10:00:00.123] INFO  MODEL_LOG W-9000-mlp_1.0: handler line 0\n');
    expect(fs.readdirSync(dir)).toEqual(['ts_log.log']);
  });

  it('console: false (tests, the daemon) turns a stdout console off', () => {
    const dir = logDir();
    const r = runChild({ logLocation: dir, console: false, end: 'close' });
    expect(r.stdout).toBe('');
    expect(lines(dir, 'ts_log.log')).toHaveLength(5);
  });
});

describe('failures', () => {
  it('throws at creation when a file cannot be opened, leaving nothing open', () => {
    const dir = logDir();
    fs.mkdirSync(path.join(dir, 'access_log.log')); // a directory where the file should be
    expect(() => createLoggers({ logLocation: dir, console: false })).toThrow(/EISDIR|illegal operation/);
  });

  it('checks a config built in code as a file’s', () => {
    expect(() => createLoggers({ logLocation: logDir(), console: false, config: { level: 'loud' } as unknown as LogConfig })).toThrow(
      '--log-config: level must be one of',
    );
  });
});
