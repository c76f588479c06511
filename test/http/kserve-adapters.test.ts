/**
 * The KServe adapters without a server: which error body a path gets, the model-API gate over the
 * repository extension, KServe v1 bodies → tensors and outputs → predictions, and the
 * `service_envelope` configuration key.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { ServeError, methodNotAllowed } from '../../src/errors.js';
import { predictionsOf, tensorsFromColumns, tensorsFromInstances } from '../../src/http/kserve-v1.js';
import { errorBody } from '../../src/http/listener.js';
import { isModelApiCall } from '../../src/http/management.js';
import { isRepositoryChange } from '../../src/http/oip/repository.js';
import { metadataShape, OIP_EXTENSIONS } from '../../src/http/oip/routes.js';
import type { TensorMeta } from '../../src/runtime/types.js';
import { fakeSources } from '../config/fake-sources.js';

const limits = { maxElements: 1_000_000 };

describe('error bodies by route', () => {
  it('/v2 routes answer {"error"}, TorchServe routes {"code","type","message"}', () => {
    const err = new ServeError(404, 'ModelNotFoundException', 'Model not found: m');
    expect(JSON.parse(String(errorBody(err, ['v2', 'models', 'm', 'infer']).body))).toEqual({ error: 'Model not found: m' });
    expect(errorBody(err, ['predictions', 'm']).json).toEqual({ code: 404, type: 'ModelNotFoundException', message: 'Model not found: m' });
    expect(errorBody(err, ['v1', 'models', 'm:predict']).json).toMatchObject({ code: 404 });
    expect(errorBody(methodNotAllowed(), ['v2', 'repository', 'models', 'm', 'load']).status).toBe(405);
  });
});

describe('enable_model_api gate over the repository extension', () => {
  it('gates load and unload, not the index', () => {
    expect(isRepositoryChange('POST', ['v2', 'repository', 'models', 'm', 'load'])).toBe(true);
    expect(isModelApiCall('POST', ['v2', 'repository', 'models', 'm', 'unload'])).toBe(true);
    expect(isModelApiCall('POST', ['v2', 'repository', 'index'])).toBe(false);
    expect(isModelApiCall('GET', ['v2', 'repository', 'models', 'm', 'load'])).toBe(false);
    expect(isModelApiCall('POST', ['v2', 'models', 'm', 'load'])).toBe(false);
  });
});

describe('server metadata', () => {
  it('lists the extensions onnxserve implements; dynamic dims are -1', () => {
    expect(OIP_EXTENSIONS).toEqual(['binary_tensor_data', 'statistics', 'model_repository']);
    expect(metadataShape(['N', 3, -1, 224])).toEqual([-1, 3, -1, 224]);
  });
});

describe('KServe v1 bodies → tensors', () => {
  const x: TensorMeta = { name: 'x', type: 'float32', shape: ['N', 2] };
  const ids: TensorMeta = { name: 'ids', type: 'int64', shape: ['N', 3] };
  const text: TensorMeta = { name: 'text', type: 'string', shape: ['N'] };
  const bytes: TensorMeta = { name: 'img', type: 'uint8', shape: ['N', 3] };

  it('stacks instances of a single-input model (bare rows or {name: row})', () => {
    const [t] = tensorsFromInstances([[1, 2], { x: [3, 4] }], [x], limits);
    expect(t).toEqual({ name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
  });

  it('builds one tensor per input of a multi-input model, in the model datatypes', () => {
    const tensors = tensorsFromInstances([{ x: [1, 2], ids: [1, 2, 3] }], [x, ids], limits);
    expect(tensors.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ['x', 'FP32', [1, 2]],
      ['ids', 'INT64', [1, 3]],
    ]);
    expect(tensors[1]!.data).toEqual(new BigInt64Array([1n, 2n, 3n]));
  });

  it('decodes {"b64"} instances for UINT8 and BYTES inputs', () => {
    expect(tensorsFromInstances([{ b64: Buffer.from([1, 2, 3]).toString('base64') }], [bytes], limits)[0]!.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(tensorsFromInstances([{ b64: Buffer.from('hé').toString('base64') }, 'x'], [text], limits)[0]!.data).toEqual(['hé', 'x']);
  });

  it('reads columnar inputs', () => {
    expect(tensorsFromColumns([[1, 2]], [x], limits)[0]!.shape).toEqual([1, 2]);
    expect(tensorsFromColumns({ x: [[1, 2]], ids: [[1, 2, 3]] }, [x, ids], limits).map((t) => t.name)).toEqual(['x', 'ids']);
  });

  it('refuses what does not fit, naming the instance or input', () => {
    const msg = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as ServeError).message;
      }
      return 'no error';
    };
    expect(msg(() => tensorsFromInstances([], [x], limits))).toMatch(/"instances" is empty/);
    expect(msg(() => tensorsFromInstances([[1, 2]], [x, ids], limits))).toMatch(/instances\[0\] must be an object/);
    expect(msg(() => tensorsFromInstances([{ x: [1, 2] }], [x, ids], limits))).toMatch(/instances\[0\] lacks input "ids"/);
    expect(msg(() => tensorsFromInstances([[1, 2], [1]], [x], limits))).toMatch(/Input "x": nested "data" does not match shape \[2,2\]/);
    expect(msg(() => tensorsFromInstances([{ b64: 'AAAA' }], [x], limits))).toMatch(/need a UINT8 or BYTES input/);
    expect(msg(() => tensorsFromColumns([[1, 2]], [x, ids], limits))).toMatch(/"inputs" must be an object/);
    expect(msg(() => tensorsFromColumns({ x: [[1, 2]] }, [x, ids], limits))).toMatch(/"inputs" lacks input "ids"/);
  });
});

describe('outputs → predictions', () => {
  it('one prediction per row; objects by output name for several outputs', () => {
    const y = { name: 'y', datatype: 'FP32' as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
    const flag = { name: 'flag', datatype: 'BOOL' as const, shape: [2], data: new Uint8Array([1, 0]) };
    const n = { name: 'n', datatype: 'INT64' as const, shape: [2, 1], data: new BigInt64Array([5n, 6n]) };
    expect(predictionsOf([y])).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(predictionsOf([y, flag, n])).toEqual([
      { y: [1, 2], flag: true, n: [5] },
      { y: [3, 4], flag: false, n: [6] },
    ]);
    // Outputs that disagree on the first dimension are one prediction.
    const scalar = { name: 's', datatype: 'FP64' as const, shape: [], data: new Float64Array([7]) };
    expect(predictionsOf([scalar])).toEqual([7]);
  });
});

describe('service_envelope', () => {
  const resolve = (props: string, env: Record<string, string> = {}) =>
    resolveConfig(fakeSources({ cli: { modelStore: 'store', tsConfig: 'c.properties' }, files: { '/srv/c.properties': props }, env }));

  it('reads the key, and TS_SERVICE_ENVELOPE when enable_envvars_config=true', () => {
    expect(resolve('').serviceEnvelope).toBeUndefined();
    expect(resolve('service_envelope=kservev2\n').serviceEnvelope).toBe('kservev2');
    expect(resolve('service_envelope=json\n', { TS_SERVICE_ENVELOPE: 'kserve' }).serviceEnvelope).toBe('json');
    expect(resolve('enable_envvars_config=true\n', { TS_SERVICE_ENVELOPE: 'kserve' }).serviceEnvelope).toBe('kserve');
    expect(resolve('service_envelope=\n').serviceEnvelope).toBeUndefined();
  });

  it('refuses an unknown envelope at start-up', () => {
    expect(() => resolve('service_envelope=KServe\n')).toThrow('Invalid configuration: service_envelope must be one of kserve, kservev2, json, body, got "KServe"');
  });
});
