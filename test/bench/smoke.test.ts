/**
 * The benchmark suite's smoke mode (`bench/run.ts --smoke`): every scenario B1–B11 runs for a second
 * or two against the real CLI (dist/, built by `npm test`), so CI keeps the suite working. Nothing
 * about the numbers is asserted (shared CI machines are noisy): only that the run succeeds and
 * writes a JSON result for every scenario.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IDS = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9', 'B10', 'B11'];

interface Result {
  mode: string;
  table: Array<Record<string, string>>;
  scenarios: Record<string, { id: string; error?: string; details: Record<string, unknown> }>;
}

describe('bench --smoke', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-bench-smoke-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario and writes their results as JSON', async () => {
    expect(fs.existsSync(path.join(REPO_ROOT, 'dist/cli/main.js')), 'dist/ is built (npm test builds it)').toBe(true);
    const out = path.join(dir, 'smoke.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // The bench kills its own servers on exit; this kills the bench if it hangs.
    const killer = setTimeout(() => child.kill('SIGTERM'), 140_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);

    expect(code, output.slice(-4000)).toBe(0);
    const result = JSON.parse(fs.readFileSync(out, 'utf8')) as Result;
    expect(result.mode).toBe('smoke');
    for (const id of IDS) {
      const s = result.scenarios[id];
      expect(s, `${id} in the JSON`).toBeDefined();
      expect(s!.error, `${id} ran`).toBeUndefined();
      expect(Object.keys(s!.details).length, `${id} has numbers`).toBeGreaterThan(0);
    }
    expect(result.table.map((r) => r.id)).toEqual(IDS);
  }, 150_000);
});

describe('bench soak --smoke', () => {
  it('keeps serving through worker kills and a version switch, with no failed request', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'soak', '--smoke'], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killer = setTimeout(() => child.kill('SIGTERM'), 90_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    expect(code, output.slice(-4000)).toBe(0);
    const result = JSON.parse(output.slice(output.indexOf('{\n'))) as { errors: number; served: number; afterwards: number; events: string[] };
    expect(result.errors).toBe(0);
    expect(result.served).toBeGreaterThan(100);
    expect(result.afterwards).toBe(200);
    expect(result.events.filter((e) => /worker kill \d+ → 500/.test(e)).length).toBeGreaterThanOrEqual(2);
    expect(result.events.some((e) => /version switch: register 200, set-default 200, unregister v1 200/.test(e))).toBe(true);
  }, 120_000);
});
