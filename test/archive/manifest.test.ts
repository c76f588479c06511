import { describe, expect, it } from 'vitest';
import { manifestToJson, manifestWarnings, parseManifest } from '../../src/archive/manifest.js';
import { ServeError } from '../../src/errors.js';

function invalid(text: string | undefined): ServeError {
  try {
    parseManifest(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ServeError);
    return e as ServeError;
  }
  throw new Error('expected parseManifest to throw');
}

const SPEC_EXAMPLE = `{
  "createdOn": "17/03/2025 11:20:57",
  "runtime": "python",
  "model": {
    "modelName": "squeezenet1_1",
    "serializedFile": "squeezenet1_1-b8a52dc0.pth",
    "handler": "image_classifier",
    "modelFile": "model.py",
    "modelVersion": "1.0",
    "requirementsFile": "requirements.txt",
    "configFile": "model-config.yaml"
  },
  "archiverVersion": "0.12.0"
}`;

describe('parseManifest', () => {
  it('returns defaults when there is no manifest', () => {
    expect(parseManifest(undefined)).toEqual({ runtime: 'python', model: {} });
  });

  it('reads the archiver manifest', () => {
    const m = parseManifest(SPEC_EXAMPLE);
    expect(m).toEqual({
      createdOn: '17/03/2025 11:20:57',
      runtime: 'python',
      archiverVersion: '0.12.0',
      model: {
        modelName: 'squeezenet1_1',
        serializedFile: 'squeezenet1_1-b8a52dc0.pth',
        handler: 'image_classifier',
        modelFile: 'model.py',
        modelVersion: '1.0',
        requirementsFile: 'requirements.txt',
        configFile: 'model-config.yaml',
      },
    });
    expect(manifestWarnings(m)).toEqual([]);
  });

  it('ignores unknown keys (legacy fields) and reads envelope/description', () => {
    const m = parseManifest(
      JSON.stringify({
        modelServerVersion: '1.0',
        implementationVersion: '1.0',
        specificationVersion: '1.0',
        description: 'top',
        model: { modelName: 'x', envelope: 'json', description: 'inner', extensions: { a: 1 } },
      }),
    );
    expect(m).toEqual({ runtime: 'python', description: 'top', model: { modelName: 'x', envelope: 'json', description: 'inner' } });
    expect(manifestWarnings(m)).toHaveLength(2);
  });

  it('keeps Gson leniency for scalars: numbers and booleans become strings, null is absent', () => {
    const m = parseManifest('{"model": {"modelName": "x", "modelVersion": 2, "handler": null, "envelope": true}}');
    expect(m.model).toEqual({ modelName: 'x', modelVersion: '2', envelope: 'true' });
  });

  it('defaults a missing model entry to an empty one', () => {
    expect(parseManifest('{"runtime": "python3"}')).toEqual({ runtime: 'python3', model: {} });
  });

  it('accepts the three TorchServe runtimes', () => {
    for (const runtime of ['python', 'python3', 'LSP']) {
      expect(parseManifest(JSON.stringify({ runtime, model: {} })).runtime).toBe(runtime);
    }
  });

  it.each([
    ['not json', '{"model": '],
    ['empty text', ''],
    ['an array', '[]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['model not an object', '{"model": "x"}'],
    ['object in a string field', '{"model": {"modelName": {"a": 1}}}'],
  ])('refuses %s with TorchServe\'s parse error', (_what, text) => {
    const e = invalid(text);
    expect(e.status).toBe(400);
    expect(e.type).toBe('InvalidModelException');
    expect(e.message).toBe('Failed to parse signature.json.');
  });

  it('refuses an explicit null model', () => {
    expect(invalid('{"model": null}').message).toBe('Missing Model entry in manifest file.');
  });

  it.each([['"java"'], ['"Python"'], ['null'], ['3']])('refuses runtime %s', (runtime) => {
    const e = invalid(`{"runtime": ${runtime}, "model": {}}`);
    expect(e.type).toBe('InvalidModelException');
    expect(e.message).toBe('Runtime is not defined or invalid.');
  });

  it('tolerates a UTF-8 BOM', () => {
    expect(parseManifest('\uFEFF{"model": {"modelName": "x"}}').model.modelName).toBe('x');
  });
});

describe('manifestToJson', () => {
  it("reproduces the archiver's json.dumps(indent=2) output", () => {
    expect(manifestToJson(parseManifest(SPEC_EXAMPLE))).toBe(SPEC_EXAMPLE);
  });

  it('round-trips and escapes non-ASCII like ensure_ascii', () => {
    const m = parseManifest(JSON.stringify({ runtime: 'LSP', model: { modelName: 'x', description: 'café 😀' } }));
    const text = manifestToJson(m);
    expect(text).toContain('"description": "caf\\u00e9 \\ud83d\\ude00"');
    expect(text).toMatch(/^[\x00-\x7f]*$/);
    expect(parseManifest(text)).toEqual(m);
  });

  it('writes an empty model as {}', () => {
    expect(manifestToJson({ runtime: 'python', model: {} })).toBe('{\n  "runtime": "python",\n  "model": {}\n}');
  });
});
