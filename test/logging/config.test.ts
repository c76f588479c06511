/** `--log-config`: JSON or YAML, validated with errors that name the key; log4j2 XML refused. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ROTATION,
  LogConfigError,
  XML_REFUSED,
  loadLogConfig,
  parseLogConfig,
  resolveLogSettings,
  validateLogConfig,
} from '../../src/logging/config.js';
import { logDir } from './helpers.js';

const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LogConfigError);
    return (e as Error).message;
  }
  throw new Error('no error thrown');
};

describe('parseLogConfig', () => {
  it('reads YAML', () => {
    const yaml = [
      'level: info',
      'format: text',
      'rotation: { maxSizeMB: 10, maxFiles: 3 }',
      'ts_log:',
      '  level: DEBUG',
      'access_log:',
      '  destination: off',
      'model_log:',
      '  additive: false',
      '  rotation: { maxFiles: 0 }',
      'ts_metrics:',
      '  format: json',
      '  destination: metrics/ts.log',
      'console:',
      '  destination: stderr',
      '  level: warn',
      '  format: pretty',
    ].join('\n');
    expect(parseLogConfig(yaml, 'logging.yaml')).toEqual({
      level: 'info',
      format: 'text',
      rotation: { maxSizeMB: 10, maxFiles: 3 },
      ts_log: { level: 'debug' },
      access_log: { destination: 'off' },
      model_log: { additive: false, rotation: { maxFiles: 0 } },
      ts_metrics: { format: 'json', destination: 'metrics/ts.log' },
      console: { destination: 'stderr', level: 'warn', format: 'pretty' },
    });
  });

  it('reads JSON, and an empty file as all defaults', () => {
    expect(parseLogConfig('{"access_log": {"level": "warn", "destination": "stdout"}}', 'log.json')).toEqual({
      access_log: { level: 'warn', destination: 'stdout' },
    });
    expect(parseLogConfig('', 'log.yaml')).toEqual({});
    expect(parseLogConfig('', 'log.json')).toEqual({});
    expect(parseLogConfig('console: { destination: false }', 'log.yml')).toEqual({ console: { destination: 'off' } });
  });

  it('names the key in every error', () => {
    expect(errorOf(() => parseLogConfig('acess_log: {}', 'l.yaml'))).toBe(
      '--log-config: unknown key acess_log (expected one of level, format, rotation, ts_log, access_log, model_log, ts_metrics, console)',
    );
    expect(errorOf(() => parseLogConfig('access_log: { level: verbose }', 'l.yaml'))).toBe(
      '--log-config: access_log.level must be one of trace, debug, info, warn, error, fatal, off (got "verbose")',
    );
    expect(errorOf(() => parseLogConfig('console: { format: xml }', 'l.yaml'))).toBe(
      '--log-config: console.format must be one of text, json, pretty (got "xml")',
    );
    expect(errorOf(() => parseLogConfig('model_log: { rotation: { maxFiles: -1 } }', 'l.yaml'))).toBe(
      '--log-config: model_log.rotation.maxFiles must be an integer from 0 to 1000 (got -1)',
    );
    expect(errorOf(() => parseLogConfig('rotation: { maxSizeMB: "big" }', 'l.yaml'))).toBe(
      '--log-config: rotation.maxSizeMB must be a number ≥ 0 (0: never rotate) (got "big")',
    );
    expect(errorOf(() => parseLogConfig('rotation: { maxSize: 1 }', 'l.yaml'))).toBe(
      '--log-config: unknown key rotation.maxSize (expected one of maxSizeMB, maxFiles)',
    );
    expect(errorOf(() => parseLogConfig('ts_log: { additive: false }', 'l.yaml'))).toBe(
      '--log-config: unknown key ts_log.additive (expected one of level, destination, format, rotation)',
    );
    expect(errorOf(() => parseLogConfig('access_log: { additive: "no" }', 'l.yaml'))).toBe(
      '--log-config: access_log.additive must be true or false (got "no")',
    );
    expect(errorOf(() => parseLogConfig('ts_metrics: { destination: 3 }', 'l.yaml'))).toBe(
      '--log-config: ts_metrics.destination must be stdout, stderr, off or a file path (got 3)',
    );
    expect(errorOf(() => parseLogConfig('ts_log: debug', 'l.yaml'))).toBe('--log-config: ts_log must be a mapping (got "debug")');
    expect(errorOf(() => parseLogConfig('- a\n- b', 'l.yaml'))).toMatch(/^--log-config: the config must be a mapping of level, format, /);
  });

  it('reports a syntax error with the file', () => {
    expect(errorOf(() => parseLogConfig('{"level": ', '/etc/log.json'))).toMatch(/^--log-config: cannot parse \/etc\/log\.json as JSON: /);
    expect(errorOf(() => parseLogConfig('a: [1, 2', '/etc/log.yaml'))).toMatch(/^--log-config: cannot parse \/etc\/log\.yaml as YAML: /);
  });

  it('refuses log4j2 XML, by extension or by content, saying what to use instead', () => {
    const log4j2 = '<?xml version="1.0" encoding="UTF-8"?>\n<Configuration>\n</Configuration>\n';
    expect(errorOf(() => parseLogConfig(log4j2, 'log4j2.xml'))).toBe(XML_REFUSED);
    expect(errorOf(() => parseLogConfig(log4j2, 'log4j2.config'))).toBe(XML_REFUSED);
    expect(errorOf(() => parseLogConfig('\uFEFF  <Configuration status="WARN"></Configuration>', 'log.yaml'))).toBe(XML_REFUSED);
    expect(errorOf(() => parseLogConfig('level: info', 'LOG4J2.XML'))).toBe(XML_REFUSED);
    expect(XML_REFUSED).toBe(
      '--log-config: log4j2 XML configurations are not supported; give a JSON or YAML logging config (see README "Logging")',
    );
  });

  it('loadLogConfig reads the file', () => {
    const dir = logDir();
    const file = path.join(dir, 'logging.yaml');
    fs.writeFileSync(file, 'level: warn\n');
    expect(loadLogConfig(file)).toEqual({ level: 'warn' });
    expect(errorOf(() => loadLogConfig(path.join(dir, 'missing.yaml')))).toMatch(/^--log-config: cannot read .*missing\.yaml: /);
    fs.writeFileSync(path.join(dir, 'log4j2.xml'), '<Configuration/>');
    expect(errorOf(() => loadLogConfig(path.join(dir, 'log4j2.xml')))).toBe(XML_REFUSED);
  });
});

describe('resolveLogSettings', () => {
  it("defaults to TorchServe's files, text layouts, 100 MB × 5 rotation, additive loggers", () => {
    const s = resolveLogSettings({}, { logLocation: '/var/log/ts', console: true });
    expect(s.ts_log).toEqual({ level: 'info', destination: { kind: 'file', path: '/var/log/ts/ts_log.log' }, format: 'text', rotation: DEFAULT_ROTATION, additive: false });
    expect(s.access_log.destination).toEqual({ kind: 'file', path: '/var/log/ts/access_log.log' });
    expect(s.model_log.destination).toEqual({ kind: 'file', path: '/var/log/ts/model_log.log' });
    expect(s.ts_metrics.destination).toEqual({ kind: 'file', path: '/var/log/ts/ts_metrics.log' });
    expect(s.console.destination).toEqual({ kind: 'stdout' });
    expect([s.access_log.additive, s.model_log.additive, s.ts_metrics.additive]).toEqual([true, true, true]);
    expect(DEFAULT_ROTATION).toEqual({ maxSizeMB: 100, maxFiles: 5 });
  });

  it('applies metricsLocation, debug, console:false and the precedence logger > top level > defaults', () => {
    const config = validateLogConfig({
      level: 'warn',
      rotation: { maxSizeMB: 1 },
      ts_log: { level: 'error', rotation: { maxFiles: 2 } },
      ts_metrics: { destination: 'm.log' },
      console: { destination: 'stderr' },
    });
    const s = resolveLogSettings(config, { logLocation: '/l', metricsLocation: '/m', debug: true, console: false });
    expect(s.ts_log.level).toBe('error');
    expect(s.access_log.level).toBe('warn');
    expect(s.ts_log.rotation).toEqual({ maxSizeMB: 1, maxFiles: 2 });
    expect(s.access_log.rotation).toEqual({ maxSizeMB: 1, maxFiles: 5 });
    expect(s.ts_metrics.destination).toEqual({ kind: 'file', path: '/m/m.log' });
    expect(s.console.destination).toEqual({ kind: 'off' });
    expect(resolveLogSettings({}, { logLocation: '/l', debug: true, console: true }).access_log.level).toBe('debug');
  });
});
