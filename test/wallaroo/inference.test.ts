/**
 * Part 5: tensor_fields renames request fields to the ONNX input names for every request shape,
 * and batch_config "single" refuses more than one row. The renamed bodies are fed to onnxserve's
 * own decoders (the default handler's collectInputs, KServe v1's and OIP's), which refuse the
 * client's names and take the renamed ones: the configuration changes what inference accepts.
 */
import { describe, expect, it } from 'vitest';
import { ServeError } from '../../src/errors.js';
import { collectInputs } from '../../src/handlers/request-inputs.js';
import { tensorsFromColumns, tensorsFromInstances } from '../../src/http/kserve-v1.js';
import { decodeJsonRequest } from '../../src/http/oip/codec.js';
import type { TensorMeta } from '../../src/runtime/types.js';
import type { ModelConfigFields } from '../../src/wallaroo/catalog.js';
import {
  applyTensorFields,
  checkBatchConfig,
  preparePredictionParts,
  renameTensors,
  rowsInRequest,
  rowsOfTensors,
  tensorFieldMap,
} from '../../src/wallaroo/inference.js';

const config = (fields: Partial<ModelConfigFields>): ModelConfigFields => ({
  tensorFields: null,
  batchConfig: null,
  filterThreshold: null,
  inputSchema: null,
  outputSchema: null,
  ...fields,
});

/** The seed's house-price example: ONNX inputs variable1, variable2; clients say square_feet, house_age. */
const INPUTS = ['variable1', 'variable2'];
const houses = config({ tensorFields: ['square_feet', 'house_age'] });
const META: TensorMeta[] = INPUTS.map((name) => ({ name, type: 'float32', shape: [-1, 1] }));
const limits = { maxElements: 1_000_000 };

function thrown(f: () => unknown): ServeError {
  try {
    f();
  } catch (e) {
    if (e instanceof ServeError) return e;
    throw e;
  }
  throw new Error('expected a ServeError');
}

describe('tensorFieldMap', () => {
  it('pairs tensor_fields with the model inputs by position, identity pairs left out', () => {
    expect(tensorFieldMap(houses, INPUTS)).toEqual(new Map([['square_feet', 'variable1'], ['house_age', 'variable2']]));
    expect(tensorFieldMap(config({ tensorFields: ['variable1', 'age'] }), INPUTS)).toEqual(new Map([['age', 'variable2']]));
    expect(tensorFieldMap(config({ tensorFields: INPUTS }), INPUTS)).toBeUndefined();
    expect(tensorFieldMap(config({}), INPUTS)).toBeUndefined();
    expect(tensorFieldMap(undefined, INPUTS)).toBeUndefined();
    expect(tensorFieldMap(houses, INPUTS)).toBe(tensorFieldMap(houses, INPUTS)); // cached per configuration
  });

  it('a count that no longer matches the model is a 500 saying how to fix it', () => {
    const err = thrown(() => tensorFieldMap(config({ tensorFields: ['tensor'] }), INPUTS, 'model ccfraud'));
    expect(err.status).toBe(500);
    expect(err.message).toBe(
      'tensor_fields of model ccfraud names 1 field(s) but the model has 2 input(s) (variable1, variable2); set them again with /v1/api/models/insert_model_config',
    );
  });
});

describe('applyTensorFields', () => {
  it('/predictions JSON object: keys renamed; the default handler then takes it', () => {
    const body = { square_feet: [[1200]], house_age: [[12]] };
    expect(() => collectInputs([{ name: 'body', data: Buffer.from(JSON.stringify(body)) }], META)).toThrow(/Unknown input "square_feet", "house_age"/);
    const renamed = applyTensorFields(houses, INPUTS, 'predictions', body);
    expect(renamed).toEqual({ variable1: [[1200]], variable2: [[12]] });
    expect(body).toEqual({ square_feet: [[1200]], house_age: [[12]] }); // not mutated
    expect(collectInputs([{ name: 'body', data: Buffer.from(JSON.stringify(renamed)) }], META)).toEqual({ variable1: [[1200]], variable2: [[12]] });
  });

  it('/predictions: ONNX names still pass, unconfigured and bare bodies are returned as they are', () => {
    const mixed = { variable1: [[1]], house_age: [[2]] };
    expect(applyTensorFields(houses, INPUTS, 'predictions', mixed)).toEqual({ variable1: [[1]], variable2: [[2]] });
    const onnx = { variable1: [[1]], variable2: [[2]] };
    expect(applyTensorFields(houses, INPUTS, 'predictions', onnx)).toBe(onnx);
    const bare = [[1, 2]];
    expect(applyTensorFields(houses, INPUTS, 'predictions', bare)).toBe(bare);
    expect(applyTensorFields(config({}), INPUTS, 'predictions', mixed)).toBe(mixed);
  });

  it('renames simultaneously (swapped names) and refuses two fields for one input', () => {
    const swap = config({ tensorFields: ['variable2', 'variable1'] });
    expect(applyTensorFields(swap, INPUTS, 'predictions', { variable1: 1, variable2: 2 })).toEqual({ variable2: 1, variable1: 2 });
    const err = thrown(() => applyTensorFields(houses, INPUTS, 'predictions', { square_feet: 1, variable1: 2 }));
    expect(err.status).toBe(400);
    expect(err.message).toBe('Request body: fields "square_feet" and "variable1" both name model input "variable1" (after tensor_fields renaming); send one of them');
  });

  it('a "__proto__" key stays a plain member', () => {
    const body = JSON.parse('{"__proto__": 1, "square_feet": 2}') as Record<string, unknown>;
    const renamed = applyTensorFields(houses, INPUTS, 'predictions', body) as Record<string, unknown>;
    expect(Object.keys(renamed)).toEqual(['__proto__', 'variable1']);
    expect(Object.getPrototypeOf(renamed)).toBe(Object.prototype);
  });

  it('KServe v1 instances: each row object renamed; {"b64"} values and bare rows untouched', () => {
    const body = { instances: [{ square_feet: [1200], house_age: [12] }, { square_feet: [900], house_age: [40] }], parameters: { x: 1 } };
    expect(() => tensorsFromInstances(body.instances, META, limits)).toThrow(/unknown input "square_feet"/);
    const renamed = applyTensorFields(houses, INPUTS, 'kserve-v1', body) as { instances: unknown[]; parameters: unknown };
    expect(renamed).toEqual({ instances: [{ variable1: [1200], variable2: [12] }, { variable1: [900], variable2: [40] }], parameters: { x: 1 } });
    expect(tensorsFromInstances(renamed.instances, META, limits).map((t) => [t.name, t.shape])).toEqual([
      ['variable1', [2, 1]],
      ['variable2', [2, 1]],
    ]);
    const single = config({ tensorFields: ['b64'] });
    const b64 = { instances: [{ b64: 'AAEC' }, [1, 2]] };
    expect(applyTensorFields(single, ['image'], 'kserve-v1', b64)).toBe(b64);
  });

  it('KServe v1 columnar inputs: keys renamed', () => {
    const body = { inputs: { square_feet: [[1200], [900]], house_age: [[12], [40]] } };
    expect(() => tensorsFromColumns(body.inputs, META, limits)).toThrow(/unknown input "square_feet"/);
    const renamed = applyTensorFields(houses, INPUTS, 'kserve-v1', body) as { inputs: unknown };
    expect(renamed).toEqual({ inputs: { variable1: [[1200], [900]], variable2: [[12], [40]] } });
    expect(tensorsFromColumns(renamed.inputs, META, limits).map((t) => t.name)).toEqual(INPUTS);
    const bareColumns = { inputs: [[1], [2]] };
    expect(applyTensorFields(houses, INPUTS, 'kserve-v1', bareColumns)).toBe(bareColumns);
  });

  it('OIP v2: inputs[].name renamed, every other member kept', () => {
    const body = {
      id: 'r1',
      inputs: [
        { name: 'square_feet', datatype: 'FP32', shape: [1, 1], data: [1200], parameters: { p: 1 } },
        { name: 'house_age', datatype: 'FP32', shape: [1, 1], data: [12] },
      ],
      outputs: [{ name: 'square_feet' }],
    };
    const renamed = applyTensorFields(houses, INPUTS, 'oip-v2', body) as Record<string, unknown>;
    expect(renamed).toEqual({
      id: 'r1',
      inputs: [
        { name: 'variable1', datatype: 'FP32', shape: [1, 1], data: [1200], parameters: { p: 1 } },
        { name: 'variable2', datatype: 'FP32', shape: [1, 1], data: [12] },
      ],
      outputs: [{ name: 'square_feet' }], // outputs are not inputs: untouched
    });
    expect(decodeJsonRequest(renamed, limits).inputs.map((t) => t.name)).toEqual(INPUTS);
    const err = thrown(() => applyTensorFields(houses, INPUTS, 'oip-v2', { inputs: [{ name: 'square_feet' }, { name: 'variable1' }] }));
    expect(err.message).toMatch(/inputs: fields "square_feet" and "variable1" both name model input "variable1"/);
  });

  it('decoded tensors (binary OIP bodies) are renamed by renameTensors', () => {
    const tensors = decodeJsonRequest({ inputs: [{ name: 'square_feet', datatype: 'FP32', shape: [1, 1], data: [1] }, { name: 'variable2', datatype: 'FP32', shape: [1, 1], data: [2] }] }, limits).inputs;
    expect(renameTensors(houses, INPUTS, tensors).map((t) => t.name)).toEqual(INPUTS);
    expect(renameTensors(config({}), INPUTS, tensors)).toBe(tensors);
    expect(() => renameTensors(houses, INPUTS, [{ name: 'house_age' }, { name: 'variable2' }])).toThrow(/both name model input "variable2"/);
  });
});

describe('batch_config', () => {
  it('counts rows per request shape', () => {
    expect(rowsInRequest('predictions', { a: [[1], [2], [3]], b: [[1]] })).toBe(3);
    expect(rowsInRequest('predictions', [[1, 2]])).toBe(1);
    expect(rowsInRequest('predictions', 5)).toBe(1);
    expect(rowsInRequest('kserve-v1', { instances: [1, 2] })).toBe(2);
    expect(rowsInRequest('kserve-v1', { inputs: { a: [[1], [2]] } })).toBe(2);
    expect(rowsInRequest('kserve-v1', { inputs: [[1]] })).toBe(1);
    expect(rowsInRequest('oip-v2', { inputs: [{ name: 'a', shape: [4, 3] }, { name: 'b', shape: [] }] })).toBe(4);
    expect(rowsOfTensors([{ shape: [2, 5] }, { shape: [] }])).toBe(2);
    expect(rowsOfTensors([{ shape: [] }])).toBe(1);
  });

  it('"single" refuses more than one row with a clear 400; null takes any number', () => {
    const single = config({ batchConfig: 'single' });
    expect(checkBatchConfig(single, 1)).toBeUndefined();
    expect(checkBatchConfig(single, 0)).toBeUndefined();
    expect(checkBatchConfig(config({}), 100)).toBeUndefined();
    expect(checkBatchConfig(undefined, 100)).toBeUndefined();
    const err = checkBatchConfig(single, 2, 'Model "ccfraud" version 1.0');
    expect(err).toBeInstanceOf(ServeError);
    expect(err).toMatchObject({ status: 400, type: 'BadRequestException' });
    expect(err?.message).toBe('Model "ccfraud" version 1.0 has batch_config "single": it accepts one row of data per request, this request has 2');
    const v1 = { instances: [{ square_feet: [1], house_age: [2] }, { square_feet: [3], house_age: [4] }] };
    expect(checkBatchConfig(single, rowsInRequest('kserve-v1', v1))?.status).toBe(400);
  });
});

describe('preparePredictionParts', () => {
  const part = (name: string, value: unknown) => ({ name, contentType: 'application/json', data: Buffer.from(JSON.stringify(value)) });
  const text = (p: { data: Uint8Array }) => Buffer.from(p.data).toString('utf8');

  it('renames a lone JSON body\'s keys (re-encoded) and multipart field names', () => {
    const [body] = preparePredictionParts(houses, INPUTS, [part('body', { square_feet: [[1]], house_age: [[2]] })]);
    expect(body?.name).toBe('body');
    expect(body?.contentType).toBe('application/json');
    expect(JSON.parse(text(body!))).toEqual({ variable1: [[1]], variable2: [[2]] });
    const multipart = preparePredictionParts(houses, INPUTS, [part('square_feet', [[1]]), part('house_age', [[2]])]);
    expect(multipart.map((p) => p.name)).toEqual(INPUTS);
    expect(collectInputs(multipart, META)).toEqual({ variable1: [[1]], variable2: [[2]] });
  });

  it('leaves parts alone when nothing is configured, and non-JSON for the handler to refuse', () => {
    const parts = [part('body', { square_feet: 1 })];
    expect(preparePredictionParts(config({}), INPUTS, parts)).toBe(parts);
    const raw = [{ name: 'body', data: Buffer.from('not json') }];
    expect(preparePredictionParts(houses, INPUTS, raw)).toEqual(raw);
  });

  it('refuses clashes and, with "single", more than one row', () => {
    expect(() => preparePredictionParts(houses, INPUTS, [part('square_feet', 1), part('variable1', 2)])).toThrow(/Request parts: fields "square_feet" and "variable1"/);
    const single = config({ batchConfig: 'single', tensorFields: ['square_feet', 'house_age'] });
    expect(() => preparePredictionParts(single, INPUTS, [part('body', { square_feet: [[1], [2]], house_age: [[1], [2]] })], 'Model "houses"')).toThrow(
      'Model "houses" has batch_config "single": it accepts one row of data per request, this request has 2',
    );
    expect(() => preparePredictionParts(single, INPUTS, [part('square_feet', [[1], [2]]), part('house_age', [[1], [2]])])).toThrow(/this request has 2/);
    expect(JSON.parse(text(preparePredictionParts(single, INPUTS, [part('body', { square_feet: [[1]], house_age: [[2]] })])[0]!))).toEqual({ variable1: [[1]], variable2: [[2]] });
  });
});
