import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelYamlConfig } from '../../src/archive/types.js';
import { checkHandler } from '../../src/registry/handlers.js';
import { intraOpThreadsFor, resolveModelSettings, UNSET_BATCH_SIZE, UNSET_MAX_BATCH_DELAY, UNSET_TIMEOUT } from '../../src/registry/settings.js';

const unsetApi = { batchSize: UNSET_BATCH_SIZE, maxBatchDelay: UNSET_MAX_BATCH_DELAY, responseTimeout: UNSET_TIMEOUT, startupTimeout: UNSET_TIMEOUT };
const defaults = { responseTimeout: 120, startupTimeout: 120, jobQueueSize: 100 };
const yaml = (y: Partial<ModelYamlConfig>): ModelYamlConfig => ({ responseTimeout: 120, startupTimeout: 120, maxRetryTimeoutInSec: 300, clientTimeoutInMills: 0, extra: {}, ...y });

describe('per-model settings precedence', () => {
  it('falls back to TorchServe defaults', () => {
    const s = resolveModelSettings({ api: unsetApi, workers: 0, defaults });
    expect(s).toMatchObject({ minWorkers: 0, maxWorkers: 0, batchSize: 1, maxBatchDelay: 100, responseTimeout: 120, jobQueueSize: 100, maxRetryTimeoutInSec: 300 });
  });

  it('API beats yaml beats models JSON for batching', () => {
    const y = yaml({ batchSize: 4, maxBatchDelay: 20 });
    const json = { batchSize: 2, maxBatchDelay: 7 };
    expect(resolveModelSettings({ api: { ...unsetApi, batchSize: 8, maxBatchDelay: 1 }, workers: 1, yaml: y, json, defaults })).toMatchObject({ batchSize: 8, maxBatchDelay: 1 });
    expect(resolveModelSettings({ api: unsetApi, workers: 1, yaml: y, json, defaults })).toMatchObject({ batchSize: 4, maxBatchDelay: 20 });
    expect(resolveModelSettings({ api: unsetApi, workers: 1, json, defaults })).toMatchObject({ batchSize: 2, maxBatchDelay: 7 });
  });

  it('yaml timeouts win over the API whenever a yaml exists (TorchServe quirk)', () => {
    const api = { ...unsetApi, responseTimeout: 5 };
    expect(resolveModelSettings({ api, workers: 1, yaml: yaml({}), defaults }).responseTimeout).toBe(120);
    expect(resolveModelSettings({ api, workers: 1, defaults }).responseTimeout).toBe(5);
    expect(resolveModelSettings({ api: unsetApi, workers: 1, defaults: { ...defaults, responseTimeout: 9 } }).responseTimeout).toBe(9);
  });

  it('yaml workers override initial workers only when min>0 and max>=min', () => {
    expect(resolveModelSettings({ api: unsetApi, workers: 3, yaml: yaml({ minWorkers: 1, maxWorkers: 2 }), defaults })).toMatchObject({ minWorkers: 1, maxWorkers: 2 });
    expect(resolveModelSettings({ api: unsetApi, workers: 3, yaml: yaml({ minWorkers: 2, maxWorkers: 1 }), defaults })).toMatchObject({ minWorkers: 3, maxWorkers: 3 });
    expect(resolveModelSettings({ api: unsetApi, workers: 2, json: { minWorkers: 1, maxWorkers: 4 }, defaults })).toMatchObject({ minWorkers: 1, maxWorkers: 4 });
  });

  it('yaml jobQueueSize overrides the global queue size', () => {
    expect(resolveModelSettings({ api: unsetApi, workers: 1, yaml: yaml({ jobQueueSize: 3 }), defaults }).jobQueueSize).toBe(3);
  });

  it('shares the cores out among workers for ONNX Runtime threads', () => {
    expect(intraOpThreadsFor(0, 8, 2)).toBe(4);
    expect(intraOpThreadsFor(0, 2, 4)).toBe(1);
    expect(intraOpThreadsFor(3, 2, 4)).toBe(3);
  });
});

describe('handler names', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handlers-'));
  fs.writeFileSync(path.join(dir, 'custom.js'), 'export async function handle(batch) { return batch.map(() => "ok"); }\n');

  it('accepts the default handler aliases', () => {
    for (const h of [undefined, '', 'default', 'onnx', 'base_handler']) expect(checkHandler(h, dir)).toBeUndefined();
  });
  it('accepts a JavaScript module inside the archive', () => {
    expect(checkHandler('custom.js', dir)).toBe('custom.js');
    expect(checkHandler('custom.js:handle', dir)).toBe('custom.js:handle');
  });
  it('refuses Python handlers, unknown names and missing or escaping modules, naming them', () => {
    expect(() => checkHandler('my_handler.py', dir)).toThrow(/Handler "my_handler.py" is a Python handler/);
    expect(() => checkHandler('handler.py:handle', dir)).toThrow(/Python handler/);
    expect(() => checkHandler('no_such_handler', dir)).toThrow(/Handler "no_such_handler" is not supported\. Supported: the default ONNX handler/);
    expect(() => checkHandler('missing.mjs:fn', dir)).toThrow(/Handler "missing.mjs:fn" was not found in the model archive/);
    expect(() => checkHandler('custom.js:not-a-name', dir)).toThrow(/is not supported/);
    expect(() => checkHandler('missing.js', dir)).toThrow(/Handler "missing.js" was not found in the model archive/);
    expect(() => checkHandler('../custom.js', dir)).toThrow(/not found in the model archive/);
  });
});
