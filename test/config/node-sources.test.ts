import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeConfigSources, resolveConfig } from '../../src/config/index.js';

describe('nodeConfigSources', () => {
  it('feeds resolveConfig from the real file system', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'onnxserve-config-'));
    try {
      mkdirSync(path.join(dir, 'store'));
      writeFileSync(path.join(dir, 'config.properties'), 'model_store=store\ninference_address=http://127.0.0.1:0\n');
      const src = nodeConfigSources({}, {}, dir);
      expect(src.isDirectory(path.join(dir, 'store'))).toBe(true);
      expect(src.fileExists(path.join(dir, 'store'))).toBe(false);
      expect(src.fileExists(path.join(dir, 'config.properties'))).toBe(true);
      expect(src.readFile(path.join(dir, 'missing'))).toBeUndefined();
      expect(src.cpuCount).toBeGreaterThan(0);
      const c = resolveConfig(src);
      expect(c.modelStore).toBe(path.join(dir, 'store'));
      expect(c.inferenceAddress.port).toBe(0);
      expect(c.tsConfigFile).toBe(path.join(dir, 'config.properties'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
