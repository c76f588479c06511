/**
 * Progress output for large inputs: the reporter on its own (thresholds, steps, terminal
 * throttling), then the CLI on a ~70 MiB sparse extra file (made in a temp folder, removed after).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgress, PROGRESS_THRESHOLD_BYTES } from '../../src/archiver/progress.js';
import { mlp } from '../fixtures/models.js';
import { archiver, tempDir } from './helpers.js';

const MiB = 1024 * 1024;

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, sink: { isTTY, write: (t: string) => void writes.push(t) } };
}

describe('createProgress', () => {
  it('prints nothing for inputs up to the threshold', () => {
    const { writes, sink: s } = sink(false);
    const p = createProgress('Writing m.mar', PROGRESS_THRESHOLD_BYTES, s);
    p.advance(PROGRESS_THRESHOLD_BYTES);
    p.finish();
    expect(writes).toEqual([]);
  });

  it('prints one line per 10% step when stderr is not a terminal', () => {
    const { writes, sink: s } = sink(false);
    const total = 100 * MiB;
    const p = createProgress('Writing m.mar', total, s);
    for (let i = 0; i < 400; i++) p.advance(total / 400);
    p.finish();
    p.finish();
    expect(writes).toEqual(
      Array.from({ length: 11 }, (_, i) => `Writing m.mar: ${i * 10}% (${(i * 10).toFixed(1)} of 100.0 MiB)\n`),
    );
  });

  it('rewrites one line on a terminal, at most every 200 ms and only when the percentage changes, and ends it', () => {
    const { writes, sink: s } = sink(true);
    let clock = 0;
    const total = 80 * MiB;
    const p = createProgress('Writing m.tar.gz', total, s, { now: () => clock });
    for (let i = 0; i < 8; i++) {
      clock += 100;
      p.advance(10 * MiB);
    }
    p.finish();
    expect(writes).toEqual([
      '\rWriting m.tar.gz: 0% (0.0 of 80.0 MiB)',
      '\rWriting m.tar.gz: 25% (20.0 of 80.0 MiB)',
      '\rWriting m.tar.gz: 50% (40.0 of 80.0 MiB)',
      '\rWriting m.tar.gz: 75% (60.0 of 80.0 MiB)',
      '\rWriting m.tar.gz: 100% (80.0 of 80.0 MiB)',
      '\n',
    ]);
  });
});

describe('archiver CLI progress', () => {
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    await mlp(dir);
    // Sparse: ~70 MiB long, no disk blocks written.
    const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
    fs.ftruncateSync(fd, 70 * MiB);
    fs.closeSync(fd);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports percentages on stderr for a large archive, and nothing for a small one', async () => {
    const base = ['-v', '1', '--serialized-file', 'mlp.onnx', '--handler', 'base_handler', '--archive-format', 'zip-store'];
    const big = await archiver(['--model-name', 'big', ...base, '--extra-files', 'big.bin'], { cwd: dir });
    expect(big.code).toBe(0);
    const lines = big.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Writing big\.mar: 0% \(0\.0 of 70\.0 MiB\)$/);
    expect(lines.at(-1)).toBe('Writing big.mar: 100% (70.0 of 70.0 MiB)');
    expect(lines).toHaveLength(11);
    expect(fs.statSync(path.join(dir, 'big.mar')).size).toBeGreaterThan(70 * MiB);
    fs.rmSync(path.join(dir, 'big.mar'));

    const small = await archiver(['--model-name', 'small', ...base], { cwd: dir });
    expect(small.code).toBe(0);
    expect(small.stderr).toBe('');
  });
});
