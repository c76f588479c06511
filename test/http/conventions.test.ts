import { describe, expect, it } from 'vitest';
import { isModelApiCall, javaBool, javaInt } from '../../src/http/management.js';
import { errorResult, torchServeJson } from '../../src/http/reply.js';
import { splitPath } from '../../src/http/route-context.js';
import { methodNotAllowed, noWorkerMessage } from '../../src/errors.js';

describe('TorchServe JSON conventions', () => {
  it('pretty-prints like Gson with a trailing newline and omits nulls', () => {
    expect(torchServeJson({ status: 'Healthy' })).toBe('{\n  "status": "Healthy"\n}\n');
    expect(torchServeJson({ a: null, models: [] })).toBe('{\n  "models": []\n}\n');
    expect(torchServeJson({ s: '<a href="x">&</a>' })).toContain('"<a href=\\"x\\">&</a>"');
  });

  it('renders the error envelope in code/type/message order', () => {
    expect(torchServeJson(errorResult(methodNotAllowed()).json)).toBe(
      '{\n  "code": 405,\n  "type": "MethodNotAllowedException",\n  "message": "Requested method is not allowed, please refer to API document."\n}\n',
    );
  });

  it('keeps TorchServe\'s misplaced quote in the versioned no-worker message', () => {
    expect(noWorkerMessage('m', '2.0')).toMatch(/^Model "m" Version 2.0" has no worker to serve inference request\./);
    expect(noWorkerMessage('m')).toMatch(/^Model "m" has no worker/);
  });
});

describe('path splitting', () => {
  it('drops trailing slashes, keeps inner empties, decodes segments, parses the query', () => {
    expect(splitPath('/models/foo/').segments).toEqual(['models', 'foo']);
    expect(splitPath('/').segments).toEqual([]);
    expect(splitPath('/a//b').segments).toEqual(['a', '', 'b']);
    expect(splitPath('/predictions/my%20model?x=1').segments).toEqual(['predictions', 'my model']);
    expect(splitPath('/models?url=a.mar&limit=2').query.get('limit')).toBe('2');
  });
});

describe('Java-style parameter parsing', () => {
  it('parses ints like Integer.parseInt, else the default', () => {
    expect(javaInt('12', 1)).toBe(12);
    expect(javaInt('-3', 1)).toBe(-3);
    expect(javaInt('1.5', 7)).toBe(7);
    expect(javaInt('abc', 7)).toBe(7);
    expect(javaInt(undefined, 7)).toBe(7);
    expect(javaInt('99999999999', 7)).toBe(7);
    expect(javaInt(4, 7)).toBe(4);
  });

  it('parses booleans like Boolean.parseBoolean', () => {
    expect(javaBool('TRUE', false)).toBe(true);
    expect(javaBool('yes', true)).toBe(false);
    expect(javaBool(undefined, true)).toBe(true);
    expect(javaBool(true, false)).toBe(true);
  });
});

describe('enable_model_api gate', () => {
  it('covers register and every unregister route, nothing else', () => {
    expect(isModelApiCall('POST', ['models'])).toBe(true);
    expect(isModelApiCall('DELETE', ['models', 'm'])).toBe(true);
    expect(isModelApiCall('DELETE', ['models', 'm', '1.0'])).toBe(true);
    expect(isModelApiCall('DELETE', ['models', 'm', '1.0', 'set-default'])).toBe(true);
    expect(isModelApiCall('GET', ['models'])).toBe(false);
    expect(isModelApiCall('PUT', ['models', 'm'])).toBe(false);
    expect(isModelApiCall('POST', ['workflows'])).toBe(false);
  });
});
