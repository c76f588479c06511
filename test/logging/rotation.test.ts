/** Size-bounded files: rotation at the bound, maxFiles kept, nothing lost or reordered. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLoggers } from '../../src/logging.js';
import { logDir, read, runChild } from './helpers.js';

const KB_IN_MB = 1 / 1024; // maxSizeMB for a 1024-byte bound
const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** access_log.log's files, oldest first. */
function generations(dir: string): string[] {
  const rotated = fs
    .readdirSync(dir)
    .filter((f) => /^access_log\.log\.\d+$/.test(f))
    .sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()));
  return [...rotated, 'access_log.log'];
}

const numbersIn = (text: string) => text.split('\n').filter(Boolean).map((l) => Number(/ n(\d+) /.exec(l)?.[1]));

describe('rotation', () => {
  it('rotates before a file would pass maxSizeMB and keeps maxFiles rotated files', async () => {
    const dir = logDir();
    const loggers = createLoggers({
      logLocation: dir,
      console: false,
      config: { access_log: { rotation: { maxSizeMB: KB_IN_MB, maxFiles: 3 } } },
    });
    const N = 400;
    for (let i = 0; i < N; i++) {
      loggers.access.info(`/127.0.0.1:5000 "GET /ping n${i} HTTP/1.1" 200 ${'x'.repeat(i % 40)}`);
      // Some lines alone, some in bursts far larger than a file (several rotations per batch).
      if (i < 100 && i % 10 === 0) await sleep(60);
      else if (i % 97 === 0) await turn();
    }
    await loggers.close();

    const files = generations(dir);
    expect(files).toEqual(['access_log.log.3', 'access_log.log.2', 'access_log.log.1', 'access_log.log']);
    const texts = files.map((f) => read(dir, f));
    for (const [i, text] of texts.entries()) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
      if (i < texts.length - 1) {
        // Rotated at the bound: the next file's first line would not have fitted.
        const next = texts[i + 1]!.slice(0, texts[i + 1]!.indexOf('\n') + 1);
        expect(Buffer.byteLength(text) + Buffer.byteLength(next)).toBeGreaterThan(1024);
      }
    }
    // The newest lines, all of them, in order.
    const kept = numbersIn(texts.join(''));
    expect(kept.at(-1)).toBe(N - 1);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => N - kept.length + k));
    // ts_log.log (100 MB default) did not rotate and has every line.
    expect(numbersIn(read(dir, 'ts_log.log'))).toHaveLength(N);
    expect(fs.existsSync(path.join(dir, 'ts_log.log.1'))).toBe(false);
  });

  it('rotates a file already past the bound at start; maxFiles 0 keeps none; a longer line is written whole', async () => {
    const dir = logDir();
    fs.writeFileSync(path.join(dir, 'access_log.log'), 'old line\n'.repeat(200));
    const loggers = createLoggers({
      logLocation: dir,
      console: false,
      config: { rotation: { maxSizeMB: KB_IN_MB, maxFiles: 0 } },
    });
    loggers.access.info('first');
    await sleep(100);
    loggers.access.info(`long ${'y'.repeat(3000)}`);
    await sleep(100);
    loggers.access.info('last');
    await loggers.close();
    expect(generations(dir)).toEqual(['access_log.log']);
    expect(read(dir, 'access_log.log')).toMatch(/^\S+ - last\n$/);
    expect(fs.readdirSync(dir).sort()).toEqual(['access_log.log', 'model_log.log', 'ts_log.log', 'ts_metrics.log']);
  });

  it('loses nothing when the process exits mid-rotation', () => {
    const dir = logDir();
    const r = runChild({
      logLocation: dir,
      end: 'exit',
      count: 300,
      turns: 3,
      config: { access_log: { rotation: { maxSizeMB: KB_IN_MB, maxFiles: 1000 }, additive: false } },
    });
    expect(r.status).toBe(3);
    const all = generations(dir)
      .map((f) => read(dir, f))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(/ 200 (\d+)$/.exec(l)?.[1]));
    expect(all.length).toBe(900);
    expect(new Set(all).size).toBe(900);
  });
});
