import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/archive/model-config.js';
import type { ModelYamlConfig } from '../../src/archive/types.js';

function config(text: string): { config: ModelYamlConfig; warnings: string[] } {
  const r = parseModelConfig(text);
  if (!r.config) throw new Error(`expected a config, got warnings ${r.warnings.join('; ')}`);
  return { config: r.config, warnings: r.warnings };
}

const DEFAULTS = { responseTimeout: 120, startupTimeout: 120, maxRetryTimeoutInSec: 300, clientTimeoutInMills: 0, extra: {} };

describe('parseModelConfig', () => {
  it('applies the defaults to an empty mapping', () => {
    expect(config('{}')).toEqual({ config: DEFAULTS, warnings: [] });
  });

  it('reads every frontend key', () => {
    const { config: c, warnings } = config(`
minWorkers: 2
maxWorkers: 4
batchSize: 8
maxBatchDelay: 50
responseTimeout: 30
startupTimeout: 60
deviceType: GPU
deviceIds: [0, 1]
parallelType: PP
parallelLevel: 2
maxRetryTimeoutInSec: 10
clientTimeoutInMills: 500
jobQueueSize: 7
useJobTicket: true
continuousBatching: false
sequenceBatching: true
asyncCommunication: true
useVenv: false
sequenceMaxIdleMSec: 1000
sequenceTimeoutMSec: 2000
maxSequenceJobQueueSize: 3
maxNumSequence: 5
`);
    expect(warnings).toEqual([]);
    expect(c).toEqual({
      minWorkers: 2,
      maxWorkers: 4,
      batchSize: 8,
      maxBatchDelay: 50,
      responseTimeout: 30,
      startupTimeout: 60,
      deviceType: 'gpu',
      deviceIds: [0, 1],
      parallelType: 'pp',
      parallelLevel: 2,
      maxRetryTimeoutInSec: 10,
      clientTimeoutInMills: 500,
      jobQueueSize: 7,
      useJobTicket: true,
      continuousBatching: false,
      sequenceBatching: true,
      asyncCommunication: true,
      useVenv: false,
      sequenceMaxIdleMSec: 1000,
      sequenceTimeoutMSec: 2000,
      maxSequenceJobQueueSize: 3,
      maxNumSequence: 5,
      extra: {},
    });
  });

  it('stores max(1, v) for minWorkers, batchSize and the sequence sizes, max(0, v) for the others', () => {
    const { config: c, warnings } = config(
      'minWorkers: 0\nbatchSize: -3\nmaxNumSequence: 0\nmaxSequenceJobQueueSize: -1\n' +
        'jobQueueSize: -5\nclientTimeoutInMills: -1\nmaxRetryTimeoutInSec: -1\nsequenceMaxIdleMSec: -9\nsequenceTimeoutMSec: -9\n',
    );
    expect(warnings).toEqual([]);
    expect(c).toMatchObject({
      minWorkers: 1,
      batchSize: 1,
      maxNumSequence: 1,
      maxSequenceJobQueueSize: 1,
      jobQueueSize: 0,
      clientTimeoutInMills: 0,
      maxRetryTimeoutInSec: 0,
      sequenceMaxIdleMSec: 0,
      sequenceTimeoutMSec: 0,
    });
  });

  it('ignores out-of-range values with a warning (timeouts must be > 0, counts >= 0)', () => {
    const { config: c, warnings } = config(
      'responseTimeout: 0\nstartupTimeout: -5\nmaxWorkers: -1\nmaxBatchDelay: -2\nparallelLevel: -1\n',
    );
    expect(c).toEqual(DEFAULTS);
    expect(warnings).toEqual([
      'Invalid responseTimeout:0',
      'Invalid startupTimeout:-5',
      'Invalid maxWorkers:-1',
      'Invalid maxBatchDelay:-2',
      'Invalid parallelLevel:-1',
    ]);
  });

  it('ignores wrongly typed values with a warning', () => {
    const { config: c, warnings } = config(`
minWorkers: two
batchSize: 1.5
responseTimeout: 3000000000
startupTimeout: "60"
useJobTicket: "yes"
continuousBatching: 1
deviceType: 5
parallelType: [pp]
deviceIds: 3
`);
    expect(c).toEqual(DEFAULTS);
    expect(warnings).toEqual([
      'Invalid minWorkers: two, should be integer',
      'Invalid batchSize: 1.5, should be integer',
      'Invalid responseTimeout: 3000000000, should be integer',
      'Invalid startupTimeout: 60, should be integer',
      'Invalid useJobTicket: yes, should be true or false',
      'Invalid continuousBatching: 1, should be true or false',
      'Invalid deviceType: 5, should be cpu, or gpu',
      'Invalid parallelType: ["pp"], should be pp, tp,or pptp',
      'Invalid deviceIds: 3, should be list of integer',
    ]);
  });

  it('drops the whole deviceIds list when one id is not an int', () => {
    const { config: c, warnings } = config('deviceIds: [0, a, 2]\n');
    expect(c.deviceIds).toBeUndefined();
    expect(warnings).toEqual(['Invalid deviceIds:a,']);
  });

  it('warns on unknown device and parallel types', () => {
    const { config: c, warnings } = config('deviceType: tpu\nparallelType: zz\n');
    expect(c.deviceType).toBeUndefined();
    expect(c.parallelType).toBeUndefined();
    expect(warnings).toEqual(['Invalid DeviceType:tpu', 'Invalid ParallelType:zz']);
  });

  it('keeps unknown top-level keys in extra as plain data', () => {
    const { config: c } = config('minWorkers: 1\nhandler:\n  labels: [a, b]\n  topk: 5\n  scale: 0.5\npippy: {chunks: 1}\n');
    expect(c.minWorkers).toBe(1);
    expect(c.extra).toEqual({ handler: { labels: ['a', 'b'], topk: 5, scale: 0.5 }, pippy: { chunks: 1 } });
    expect(typeof (c.extra.handler as { topk: unknown }).topk).toBe('number');
  });

  it('derives parallelLevel from torchrun and keeps the map in extra', () => {
    const { config: c } = config('torchrun:\n  nproc-per-node: 4\n');
    expect(c.parallelLevel).toBe(4);
    expect(c.extra).toEqual({ torchrun: { 'nproc-per-node': 4 } });
  });

  it('lets the last duplicate key win, as SnakeYAML does', () => {
    expect(config('batchSize: 2\nbatchSize: 3\n').config.batchSize).toBe(3);
  });

  it.each([
    ['a syntax error', 'minWorkers: [1\n'],
    ['a list', '- 1\n- 2\n'],
    ['a scalar', 'hello\n'],
    ['an empty document', ''],
    ['several documents', 'a: 1\n---\nb: 2\n'],
  ])('treats %s as absent, with a warning', (_what, text) => {
    const r = parseModelConfig(text);
    expect(r.config).toBeUndefined();
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^Failed to parse model config yaml file: /);
  });

  it('never runs code from js/custom tags: the document is refused', () => {
    const g = globalThis as { pwned?: boolean };
    for (const text of [
      'minWorkers: !!js/function "function () { globalThis.pwned = true; return 1 }"\n',
      'handler: !!python/object/apply:os.system ["touch /tmp/pwned"]\n',
      'x: !custom 1\n',
      'x: !!binary aGk=\n',
    ]) {
      const r = parseModelConfig(text);
      expect(r.config).toBeUndefined();
      expect(r.warnings[0]).toMatch(/tag/i);
    }
    expect(g.pwned).toBeUndefined();
  });

  it('does not expand alias bombs', () => {
    const lol = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lol.push(`${cur}: &${cur} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const r = parseModelConfig(lol.join('\n'));
    expect(r.config).toBeUndefined();
    expect(r.warnings[0]).toMatch(/alias/i);
  });

  it('keeps a __proto__ key as data', () => {
    const { config: c } = config('__proto__: {polluted: true}\n');
    expect(Object.getPrototypeOf(c.extra)).toBe(Object.prototype);
    expect(Object.keys(c.extra)).toEqual(['__proto__']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('uses the YAML 1.2 core schema (yes/no are strings, 0x10 is an int)', () => {
    const { config: c, warnings } = config('batchSize: 0x10\nuseVenv: yes\n');
    expect(c.batchSize).toBe(16);
    expect(c.useVenv).toBeUndefined();
    expect(warnings).toEqual(['Invalid useVenv: yes, should be true or false']);
  });
});
