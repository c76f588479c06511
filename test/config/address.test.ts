import { describe, it, expect } from 'vitest';
import { parseBindAddress } from '../../src/config/address.js';
import { StartupError } from '../../src/errors.js';

describe('parseBindAddress', () => {
  it('parses http and https addresses with explicit ports', () => {
    expect(parseBindAddress('inference_address', 'http://127.0.0.1:8080')).toEqual({
      scheme: 'http',
      host: '127.0.0.1',
      port: 8080,
      raw: 'http://127.0.0.1:8080',
    });
    expect(parseBindAddress('management_address', 'https://0.0.0.0:9443')).toMatchObject({
      scheme: 'https',
      host: '0.0.0.0',
      port: 9443,
    });
  });

  it('accepts the scheme in any case and keeps host as written', () => {
    expect(parseBindAddress('inference_address', 'HTTPS://LocalHost:1')).toMatchObject({
      scheme: 'https',
      host: 'LocalHost',
      port: 1,
      raw: 'HTTPS://LocalHost:1',
    });
  });

  it('accepts port 0 (any free port) and 65535', () => {
    expect(parseBindAddress('inference_address', 'http://127.0.0.1:0').port).toBe(0);
    expect(parseBindAddress('inference_address', 'http://127.0.0.1:65535').port).toBe(65535);
  });

  it.each([
    ['inference_address', 'http://h', 80],
    ['inference_address', 'https://h', 443],
    ['management_address', 'http://h', 8081],
    ['management_address', 'https://h', 8444],
    ['metrics_address', 'http://h', 8082],
    ['metrics_address', 'https://h', 8445],
  ])('defaults the port for %s %s to %i', (key, value, port) => {
    expect(parseBindAddress(key, value).port).toBe(port);
  });

  it('parses unix sockets', () => {
    expect(parseBindAddress('management_address', 'unix:/tmp/mgmt.sock')).toEqual({
      scheme: 'unix',
      host: '',
      port: -1,
      path: '/tmp/mgmt.sock',
      raw: 'unix:/tmp/mgmt.sock',
    });
    expect(parseBindAddress('inference_address', 'UNIX:/a b').path).toBe('/a b');
  });

  it.each([
    '127.0.0.1:8080',
    'ftp://h:1',
    'http://',
    'http://h:',
    'http://h:80/',
    'http://h:80/path',
    'http://[::1]:8080',
    'http://::1',
    'http://h:-1',
    'http://h:8o',
    ' http://h:80',
    'http://h:80 ',
    'unix:relative.sock',
    '',
  ])('rejects %j with the TorchServe message plus the key', (value) => {
    expect(() => parseBindAddress('metrics_address', value)).toThrow(StartupError);
    expect(() => parseBindAddress('metrics_address', value)).toThrow(
      `Invalid configuration: Invalid binding address: ${value} (metrics_address)`,
    );
  });

  it('rejects ports above 65535, naming the key', () => {
    expect(() => parseBindAddress('inference_address', 'http://h:65536')).toThrow(
      'Invalid configuration: Invalid port number: http://h:65536 (inference_address)',
    );
    expect(() => parseBindAddress('inference_address', 'http://h:99999999999999999999')).toThrow(StartupError);
  });
});
