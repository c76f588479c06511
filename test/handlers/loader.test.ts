/** Handler specs → modules: default names, built-ins, module files (and `file.mjs:fn`), and every refusal. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_HANDLERS } from '../../src/handlers/builtin/index.js';
import { DEFAULT_ONNX_HANDLER } from '../../src/handlers/default-onnx.js';
import { HandlerLoadError, loadHandler } from '../../src/handlers/loader.js';
import { validateHandlerModule } from '../../src/handlers/module-contract.js';
import { parseHandlerSpec } from '../../src/handlers/spec.js';
import { checkHandler, handlerYamlConfig } from '../../src/registry/handlers.js';
import { parseModelConfig } from '../../src/archive/model-config.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-loader-'));
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-outside-'));
const write = (name: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  fs.writeFileSync(path.join(dir, name), text);
};
write('handler.mjs', 'export async function handle(batch) { return batch.map(() => "h"); }\n');
write('steps.js', 'export function postprocess(out) { return out; }\nexport const version = 2;\n');
write('sub/fn.mjs', 'export function greet(batch) { return batch.map(() => "hi"); }\nexport const notFn = 1;\n');
write('default-export.mjs', 'export default { preprocess(b) { return b; }, explain(p) { return p; } };\n');
write('cjs.js', 'module.exports = { handle(batch) { return batch.map(() => "cjs"); } };\n');
write('empty.mjs', 'export const nothing = 1;\n');
write('bad-step.mjs', 'export const handle = "not a function";\n');
write('syntax.mjs', 'export function handle( {\n');
write('throws.mjs', 'throw new Error("module top-level failure");\n');
fs.writeFileSync(path.join(outside, 'evil.mjs'), 'export function handle(b) { return b; }\n');
fs.symlinkSync(path.join(outside, 'evil.mjs'), path.join(dir, 'link.mjs'));

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const loadError = async (spec: string): Promise<string> => {
  try {
    await loadHandler(spec, dir);
  } catch (e) {
    expect(e).toBeInstanceOf(HandlerLoadError);
    return (e as Error).message;
  }
  throw new Error(`expected ${spec} to fail`);
};

describe('parseHandlerSpec', () => {
  it('classifies default names, built-ins, modules, Python files and the rest', () => {
    for (const s of [undefined, '', ' ', 'default', 'onnx', 'default_onnx', 'base_handler']) expect(parseHandlerSpec(s, [])).toEqual({ kind: 'default' });
    expect(parseHandlerSpec('image_classifier', ['image_classifier'])).toEqual({ kind: 'builtin', name: 'image_classifier' });
    expect(parseHandlerSpec('image_classifier', [])).toEqual({ kind: 'unknown', name: 'image_classifier' });
    expect(parseHandlerSpec('handler.mjs', [])).toEqual({ kind: 'module', file: 'handler.mjs' });
    expect(parseHandlerSpec('sub/file.js:run_it', [])).toEqual({ kind: 'module', file: 'sub/file.js', functionName: 'run_it' });
    expect(parseHandlerSpec('file.mjs:not-valid', [])).toEqual({ kind: 'unknown', name: 'file.mjs:not-valid' });
    expect(parseHandlerSpec('handler.py', [])).toEqual({ kind: 'python', file: 'handler.py' });
    expect(parseHandlerSpec('handler.py:handle', [])).toEqual({ kind: 'python', file: 'handler.py' });
    expect(parseHandlerSpec('handler.ts', [])).toEqual({ kind: 'unknown', name: 'handler.ts' });
  });
});

describe('loadHandler', () => {
  it('gives the default ONNX handler for default names', async () => {
    expect((await loadHandler(undefined, dir)).module).toBe(DEFAULT_ONNX_HANDLER);
    expect((await loadHandler('base_handler', dir)).module).toBe(DEFAULT_ONNX_HANDLER);
  });

  it('imports module files from the model folder, with named, default or CommonJS exports', async () => {
    expect(Object.keys((await loadHandler('handler.mjs', dir)).module)).toEqual(['handle']);
    expect(Object.keys((await loadHandler('steps.js', dir)).module)).toEqual(['postprocess']);
    expect(Object.keys((await loadHandler('default-export.mjs', dir)).module).sort()).toEqual(['explain', 'preprocess']);
    expect(Object.keys((await loadHandler('cjs.js', dir)).module)).toEqual(['handle']);
  });

  it('makes `file.mjs:functionName` the handle entry point', async () => {
    const { module, description } = await loadHandler('sub/fn.mjs:greet', dir);
    expect(Object.keys(module)).toEqual(['handle']);
    expect(await module.handle!([{ data: {}, parts: [], headers: {} }], {} as never)).toEqual(['hi']);
    expect(description).toBe('sub/fn.mjs:greet');
    expect(await loadError('sub/fn.mjs:missing')).toBe('handler "sub/fn.mjs:missing": the handler module does not export a function "missing"');
    expect(await loadError('sub/fn.mjs:notFn')).toMatch(/does not export a function "notFn"/);
  });

  it('refuses modules that break the contract, or cannot be imported, naming the handler', async () => {
    expect(await loadError('empty.mjs')).toBe(
      'handler "empty.mjs": the handler module exports none of initialize, handle, preprocess, inference, postprocess, explain',
    );
    expect(await loadError('bad-step.mjs')).toBe('handler "bad-step.mjs": the handler export "handle" is not a function');
    expect(await loadError('syntax.mjs')).toMatch(/^handler "syntax.mjs": the module could not be imported: .*/);
    expect(await loadError('throws.mjs')).toBe('handler "throws.mjs": the module could not be imported: module top-level failure');
    expect(await loadError('missing.mjs')).toBe('handler "missing.mjs": missing.mjs was not found in the model folder');
  });

  it('refuses modules outside the model folder, also through a link', async () => {
    expect(await loadError('../evil.mjs')).toBe('handler "../evil.mjs": the module must be inside the model folder');
    expect(await loadError(path.join(outside, 'evil.mjs'))).toMatch(/must be inside the model folder/);
    expect(await loadError('link.mjs')).toBe('handler "link.mjs": the module must be inside the model folder');
  });

  it('refuses Python and unknown handlers, listing what is supported', async () => {
    expect(await loadError('handler.py')).toMatch(/^handler "handler.py" is a Python handler, which onnxserve cannot run; supported: the default ONNX handler/);
    expect(await loadError('no_such')).toMatch(/^handler "no_such" is not supported; supported: .*file\.mjs:functionName/);
  });

  it('resolves every built-in name to a module that honours the contract', async () => {
    for (const name of Object.keys(BUILTIN_HANDLERS)) {
      const { module } = await loadHandler(name, dir);
      expect(module).toEqual(validateHandlerModule(BUILTIN_HANDLERS[name]));
      expect(checkHandler(name, dir)).toBe(name);
    }
  });
});

describe('registration check agrees with the loader', () => {
  it('accepts what the loader loads and refuses the rest with InvalidModelException', () => {
    expect(checkHandler('sub/fn.mjs:greet', dir)).toBe('sub/fn.mjs:greet');
    expect(checkHandler(' handler.mjs ', dir)).toBe('handler.mjs');
    for (const [spec, message] of [
      ['handler.py', 'Handler "handler.py" is a Python handler, which onnxserve cannot run. Supported: the default ONNX handler'],
      ['missing.mjs', 'Handler "missing.mjs" was not found in the model archive. Supported:'],
      ['no_such', 'Handler "no_such" is not supported. Supported:'],
    ] as const) {
      try {
        checkHandler(spec, dir);
        throw new Error('expected a refusal');
      } catch (e) {
        expect(e).toMatchObject({ status: 400, type: 'InvalidModelException' });
        expect((e as Error).message.startsWith(message)).toBe(true);
      }
    }
  });
});

describe('handlerYamlConfig', () => {
  it('gives handlers every top-level key of model-config.yaml', () => {
    const { config } = parseModelConfig('minWorkers: 2\nbatchSize: 4\nhandler:\n  topk: 3\n  mean: [0.5, 0.5]\nmy_flag: true\n');
    expect(handlerYamlConfig(config)).toEqual({
      minWorkers: 2,
      batchSize: 4,
      responseTimeout: 120,
      startupTimeout: 120,
      maxRetryTimeoutInSec: 300,
      clientTimeoutInMills: 0,
      handler: { topk: 3, mean: [0.5, 0.5] },
      my_flag: true,
    });
    expect(handlerYamlConfig(undefined)).toEqual({});
  });
});
