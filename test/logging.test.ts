/** Log files in TorchServe's log4j2 layout, written in batches but complete and in order. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoggers } from '../src/logging.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function logDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-log-'));
  dirs.push(d);
  return d;
}

const read = (dir: string, file: string) => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), 'utf8') : '');
const STAMP = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},\d{3}`;

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('createLoggers', () => {
  it('writes the server log and access lines in the log4j2 layout; access lines also to access_log.log', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    loggers.main.info('Model server started.');
    loggers.main.warn('careful');
    loggers.main.debug('not shown without debug');
    loggers.access.info('/127.0.0.1:5000 "GET /ping HTTP/1.1" 200 1');
    await loggers.close();
    const ts = read(dir, 'ts_log.log').split('\n').filter(Boolean);
    expect(ts).toHaveLength(3);
    expect(ts[0]).toMatch(new RegExp(`^${STAMP} \\[INFO \\] main org\\.onnxserve\\.ModelServer - Model server started\\.$`));
    expect(ts[1]).toMatch(new RegExp(`^${STAMP} \\[WARN \\] main org\\.onnxserve\\.ModelServer - careful$`));
    expect(ts[2]).toMatch(new RegExp(`^${STAMP} \\[INFO \\] main ACCESS_LOG - /127\\.0\\.0\\.1:5000 "GET /ping HTTP/1\\.1" 200 1$`));
    expect(read(dir, 'access_log.log')).toMatch(new RegExp(`^${STAMP} - /127\\.0\\.0\\.1:5000 "GET /ping HTTP/1\\.1" 200 1\\n$`));
  });

  it('writes debug lines with debug on', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false, debug: true });
    loggers.main.debug('details');
    await loggers.close();
    expect(read(dir, 'ts_log.log')).toMatch(new RegExp(`^${STAMP} \\[DEBUG\\] main org\\.onnxserve\\.ModelServer - details\\n$`));
  });

  it('keeps every line of a burst, in order, and writes them without close()', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    for (let i = 0; i < 2_000; i++) loggers.access.info(`line ${i}`);
    loggers.main.error('after the burst');
    await until(() => read(dir, 'ts_log.log').includes('after the burst'), 'the server-log line');
    await until(() => read(dir, 'access_log.log').split('\n').filter(Boolean).length === 2_000, 'the access lines');
    const access = read(dir, 'access_log.log').split('\n').filter(Boolean);
    access.forEach((l, i) => expect(l.endsWith(` - line ${i}`)).toBe(true));
    const ts = read(dir, 'ts_log.log').split('\n').filter(Boolean);
    expect(ts).toHaveLength(2_001);
    expect(ts[2_000]).toContain('[ERROR] main org.onnxserve.ModelServer - after the burst');
    await loggers.close();
  });

  it('writes a server-log line promptly even right after a flush of access lines', async () => {
    const dir = logDir();
    const loggers = createLoggers({ logLocation: dir, console: false });
    loggers.access.info('first');
    await until(() => read(dir, 'access_log.log').includes('first'), 'the first access line');
    const t0 = Date.now();
    loggers.main.info('prompt');
    await until(() => read(dir, 'ts_log.log').includes('prompt'), 'the server-log line');
    expect(Date.now() - t0).toBeLessThan(1_000);
    await loggers.close();
  });
});
