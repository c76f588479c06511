/** model-config.yaml `onnxruntime:` → ONNX Runtime session options. */
import { describe, expect, it } from 'vitest';
import { parseOrtSection, sessionOptions } from '../../src/runtime/session.js';

describe('sessionOptions', () => {
  it("keeps onnxserve's defaults: the pool's thread share, sequential, all optimisations, no spinning", () => {
    expect(sessionOptions(2)).toEqual({
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      logSeverityLevel: 4,
    });
    expect(sessionOptions(0)).not.toHaveProperty('intraOpNumThreads');
  });

  it('applies every setting of the section', () => {
    const o = sessionOptions(2, {
      intraOpThreads: 4,
      interOpThreads: 2,
      executionMode: 'parallel',
      graphOptimizationLevel: 'basic',
      enableCpuMemArena: false,
      enableMemPattern: false,
      allowSpinning: true,
    });
    expect(o).toMatchObject({
      intraOpNumThreads: 4,
      interOpNumThreads: 2,
      executionMode: 'parallel',
      graphOptimizationLevel: 'basic',
      enableCpuMemArena: false,
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: '1' }, inter_op: { allow_spinning: '1' } } },
    });
  });
});

describe('parseOrtSection', () => {
  it('reads an absent section as no settings, and every known key', () => {
    expect(parseOrtSection(undefined)).toEqual({});
    expect(parseOrtSection(null)).toEqual({});
    const all = {
      intraOpThreads: 1,
      interOpThreads: 3,
      executionMode: 'sequential',
      graphOptimizationLevel: 'extended',
      enableCpuMemArena: true,
      enableMemPattern: false,
      allowSpinning: false,
    };
    expect(parseOrtSection(all)).toEqual(all);
  });

  it('refuses bad values and unknown keys, naming the key', () => {
    expect(() => parseOrtSection('fast')).toThrow('model-config.yaml: "onnxruntime" must be a mapping of settings');
    expect(() => parseOrtSection({ intraOpThreads: 0 })).toThrow('model-config.yaml onnxruntime.intraOpThreads must be an integer between 1 and 1024 (got 0)');
    expect(() => parseOrtSection({ interOpThreads: 1.5 })).toThrow('onnxruntime.interOpThreads must be an integer');
    expect(() => parseOrtSection({ executionMode: 'async' })).toThrow('onnxruntime.executionMode must be one of sequential, parallel (got "async")');
    expect(() => parseOrtSection({ allowSpinning: 'yes' })).toThrow('onnxruntime.allowSpinning must be true or false (got "yes")');
    expect(() => parseOrtSection({ enableCpuMemArena: 1 })).toThrow('onnxruntime.enableCpuMemArena must be true or false (got 1)');
    expect(() => parseOrtSection({ intraOpNumThreads: 2 })).toThrow('model-config.yaml onnxruntime.intraOpNumThreads is not a known setting');
  });
});
