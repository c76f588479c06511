import { describe, it, expect } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { StartupError } from '../../src/errors.js';
import { fakeSources, type FakeWorld } from './fake-sources.js';

const resolve = (world: FakeWorld = {}) => resolveConfig(fakeSources(world));
/** A world whose ./config.properties holds `text`. */
const withFile = (text: string, world: FakeWorld = {}): FakeWorld => ({
  ...world,
  files: { '/srv/config.properties': text, ...world.files },
});
const fails = (world: FakeWorld, message: string) => {
  expect(() => resolve(world)).toThrow(StartupError);
  expect(() => resolve(world)).toThrow(message);
};

describe('resolveConfig defaults', () => {
  it('applies TorchServe defaults when only --model-store is given', () => {
    const c = resolve();
    expect(c.tsConfigFile).toBeUndefined();
    expect(c.inferenceAddress).toEqual({ scheme: 'http', host: '127.0.0.1', port: 8080, raw: 'http://127.0.0.1:8080' });
    expect(c.managementAddress.port).toBe(8081);
    expect(c.metricsAddress.port).toBe(8082);
    expect(c.modelStore).toBe('/srv/store');
    expect(c.loadModels).toEqual([]);
    expect(c.models).toEqual({});
    expect(c).toMatchObject({
      defaultWorkersPerModel: 0,
      startupWorkersPerModel: 4,
      jobQueueSize: 100,
      maxRequestSize: 6553500,
      maxResponseSize: 6553500,
      defaultResponseTimeout: 120,
      defaultStartupTimeout: 120,
      unregisterModelTimeout: 120,
      allowedUrlsConfigured: false,
      enableMetricsApi: true,
      metricsMode: 'log',
      enableEnvvarsConfig: false,
      enableModelApi: false,
      disableTokenAuthorization: false,
      tokenExpirationMin: 60,
      noConfigSnapshots: false,
      debug: false,
      ortIntraOpThreads: 0,
      busyPollUs: 300,
      requestTimeoutS: 60,
      keepAliveTimeoutS: 72,
      maxHeaderSize: 8192,
      drainTimeoutS: 30,
      grpcInferenceAddress: '127.0.0.1',
      grpcInferencePort: 7070,
      grpcManagementAddress: '127.0.0.1',
      grpcManagementPort: 7071,
      enableGrpcSsl: false,
      grpcConnectionAge: { inference: {}, management: {} },
      loadLimits: { maxDownloadBytes: 4294967296, downloadTimeoutMs: 600000, maxUnpackedBytes: 4294967296, maxEntries: 10000 },
      tls: {},
      cpuCount: 4,
      logLocation: 'logs',
    });
    expect('corsAllowedOrigin' in c).toBe(false);
    expect('defaultServiceHandler' in c).toBe(false);
    expect(c.properties).toEqual({ model_store: 'store', workflow_store: 'store', number_of_gpu: '0' });
  });

  it('defaults allowed_urls to file://.*|http(s)?://.*, full-match and case-insensitive', () => {
    const [re] = resolve().allowedUrls;
    expect(resolve().allowedUrls).toHaveLength(1);
    expect(re?.test('https://example.com/m.mar')).toBe(true);
    expect(re?.test('FILE:///models/m.mar')).toBe(true);
    expect(re?.test('s3://bucket/m.mar')).toBe(false);
    expect(re?.test('xhttp://a')).toBe(false);
  });

  it('returns a deeply frozen object whose regexes still work', () => {
    const c = resolve(
      withFile('models={"m": {"1.0": {"minWorkers": 1}}}\nload_models=a.mar', { cli: { modelStore: 'store', ncs: true } }),
    );
    expect(Object.isFrozen(c)).toBe(true);
    for (const part of [c.properties, c.allowedUrls, c.loadModels, c.models, c.models.m, c.models.m?.['1.0'], c.inferenceAddress]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (c as { jobQueueSize: number }).jobQueueSize = 1;
    }).toThrow(TypeError);
    expect(c.allowedUrls[0]?.test('http://x')).toBe(true);
    expect('http://x'.match(c.allowedUrls[0] as RegExp)).not.toBeNull();
    expect(c.noConfigSnapshots).toBe(true);
  });

  it('uses cpuCount for startup workers unless default_workers_per_model > 0; debug forces 1', () => {
    expect(resolve({ cpuCount: 16 }).startupWorkersPerModel).toBe(16);
    expect(resolve(withFile('default_workers_per_model=3', { cpuCount: 16 })).startupWorkersPerModel).toBe(3);
    expect(resolve(withFile('default_workers_per_model=3\ndebug=true', { cpuCount: 16 })).startupWorkersPerModel).toBe(1);
    const dbg = resolve(withFile('debug=TRUE', { cpuCount: 16 }));
    expect(dbg.debug).toBe(true);
    expect(dbg.startupWorkersPerModel).toBe(1);
    expect(resolve({ cpuCount: 0 }).startupWorkersPerModel).toBe(1);
  });
});

describe('config file selection (env TS_CONFIG_FILE > --ts-config > ./config.properties)', () => {
  const files = {
    '/srv/config.properties': 'job_queue_size=1',
    '/srv/flag.properties': 'job_queue_size=2',
    '/etc/env.properties': 'job_queue_size=3',
  };

  it('prefers env TS_CONFIG_FILE over --ts-config and ./config.properties', () => {
    const c = resolve({ files, env: { TS_CONFIG_FILE: '/etc/env.properties' }, cli: { modelStore: 'store', tsConfig: 'flag.properties' } });
    expect(c.jobQueueSize).toBe(3);
    expect(c.tsConfigFile).toBe('/etc/env.properties');
    expect(c.properties.tsConfigFile).toBe('/etc/env.properties');
  });

  it('prefers --ts-config over ./config.properties', () => {
    const c = resolve({ files, cli: { modelStore: 'store', tsConfig: 'flag.properties' } });
    expect(c.jobQueueSize).toBe(2);
    expect(c.tsConfigFile).toBe('/srv/flag.properties');
    expect(c.properties.tsConfigFile).toBe('flag.properties');
  });

  it('falls back to ./config.properties in cwd', () => {
    const c = resolve({ files });
    expect(c.jobQueueSize).toBe(1);
    expect(c.tsConfigFile).toBe('/srv/config.properties');
    expect(c.properties.tsConfigFile).toBe('config.properties');
  });

  it('silently skips a missing implicit ./config.properties', () => {
    expect(resolve({ files: { '/elsewhere/config.properties': 'job_queue_size=9' } }).jobQueueSize).toBe(100);
  });

  it('resolves a relative TS_CONFIG_FILE against cwd', () => {
    expect(resolve({ files: { '/srv/conf/x.properties': 'job_queue_size=7' }, env: { TS_CONFIG_FILE: 'conf/x.properties' } }).jobQueueSize).toBe(7);
  });

  it('fails on a missing explicit file, printing the path as given', () => {
    fails({ files, cli: { modelStore: 'store', tsConfig: 'nope.properties' } }, '--ts-config file not found: nope.properties');
    fails({ files, env: { TS_CONFIG_FILE: '/etc/none' } }, '--ts-config file not found: /etc/none');
    // A missing env file is not rescued by a good --ts-config.
    fails({ files, env: { TS_CONFIG_FILE: '/etc/none' }, cli: { modelStore: 'store', tsConfig: 'flag.properties' } }, '--ts-config file not found: /etc/none');
  });

  it('treats a directory given as config file as missing', () => {
    fails({ dirs: ['/srv/store', '/srv/confdir'], cli: { modelStore: 'store', tsConfig: 'confdir' } }, '--ts-config file not found: confdir');
  });

  it('reads no file at all when TS_CONFIG_FILE is set but empty (as TorchServe)', () => {
    expect(resolve({ files, env: { TS_CONFIG_FILE: '' } }).tsConfigFile).toBeUndefined();
  });

  it('reports a malformed file naming it', () => {
    fails(withFile('a=\\uXYZ1'), 'Invalid configuration: Malformed \\uxxxx encoding. (config.properties)');
  });
});

describe('start-up checks (spec §1.4), in order', () => {
  it('fails on a missing --log-config with its absolute path, before anything else', () => {
    fails({ cli: { logConfig: 'log4j2.xml', tsConfig: 'missing.properties' } }, '--log-config file not found: /srv/log4j2.xml');
    expect(() => resolve({ files: { '/srv/log.yaml': 'level: info\n' }, cli: { modelStore: 'store', logConfig: 'log.yaml' } })).not.toThrow();
    fails({ files: { '/srv/log4j2.xml': '<?xml version="1.0"?><Configuration/>' }, cli: { modelStore: 'store', logConfig: 'log4j2.xml' } }, 'log4j2 XML configurations are not supported');
  });

  it('checks TEMP after --log-config and before the config file, and extracts there', () => {
    fails({ env: { TEMP: '/nowhere' }, cli: { tsConfig: 'missing.properties' } }, 'Invalid temp directory: /nowhere, please check TEMP environment variable.');
    expect(resolve({ env: { TEMP: 'tmp' }, dirs: ['/srv/store', '/srv/tmp'] }).tempDir).toBe('/srv/tmp');
    expect(resolve({}).tempDir).toBeUndefined();
  });

  it('checks the config file before the model store', () => {
    fails({ cli: { tsConfig: 'missing.properties' } }, '--ts-config file not found: missing.properties');
  });

  it('fails when --model-store is not a directory, printing it as given', () => {
    fails({ cli: { modelStore: 'nostore' } }, '--model-store directory not found: nostore');
    fails({ files: { '/srv/file': '' }, cli: { modelStore: '/srv/file' } }, '--model-store directory not found: /srv/file');
  });

  it('requires a model store', () => {
    fails({ cli: {} }, 'Missing mandatory parameter --model-store');
    fails(withFile('model_store=', { cli: {} }), 'Missing mandatory parameter --model-store');
    fails(withFile('job_queue_size=5', { cli: { modelStore: '' } }), 'Missing mandatory parameter --model-store');
  });

  it('takes model_store from an explicit config file', () => {
    const c = resolve({ files: { '/etc/ts.properties': 'model_store=/srv/store' }, cli: { tsConfig: '/etc/ts.properties' } });
    expect(c.modelStore).toBe('/srv/store');
  });

  it('also takes model_store from an implicit ./config.properties (our deviation)', () => {
    expect(resolve(withFile('model_store=store', { cli: {} })).modelStore).toBe('/srv/store');
  });

  it('checks a model_store from the file is a directory', () => {
    fails(withFile('model_store=elsewhere', { cli: {} }), '--model-store directory not found: elsewhere');
  });

  it('lets --model-store beat the file and resolves relative paths against cwd', () => {
    const c = resolve(withFile('model_store=/nope', { dirs: ['/data/ms'], cwd: '/data', cli: { modelStore: 'ms' } }));
    expect(c.modelStore).toBe('/data/ms');
    expect(c.properties.model_store).toBe('ms');
  });
});

describe('$$NAME$$ substitution', () => {
  it('replaces placeholders in file values from env, even without enable_envvars_config', () => {
    const c = resolve(
      withFile('inference_address=http://$$HOST$$:$$PORT$$\nmodel_store=/$$ROOT$$/store', {
        cli: {},
        env: { HOST: '0.0.0.0', PORT: '9090', ROOT: 'srv' },
      }),
    );
    expect(c.inferenceAddress).toMatchObject({ host: '0.0.0.0', port: 9090 });
    expect(c.properties.inference_address).toBe('http://0.0.0.0:9090');
    expect(c.modelStore).toBe('/srv/store');
  });

  it('fails on an unset variable', () => {
    fails(withFile('cors_allowed_origin=$$NOPE$$'), 'Invalid configuration: Invalid Environment Variable NOPE');
  });

  it('inserts the value literally and needs a name of two or more characters', () => {
    const c = resolve(withFile('cors_allowed_origin=$$AB$$\ncors_allowed_methods=$$A$$', { env: { AB: '$1\\x', A: 'no' } }));
    expect(c.corsAllowedOrigin).toBe('$1\\x');
    expect(c.corsAllowedMethods).toBe('$$A$$');
  });

  it('does not touch CLI values', () => {
    expect(resolve({ cli: { modelStore: 'store', models: ['$$X$$'] } }).loadModels).toEqual(['$$X$$']);
  });
});

describe('precedence: env (if enabled) > CLI > file > default', () => {
  const ENVVARS = 'enable_envvars_config=true\n';

  it('load_models: default, file, CLI, env', () => {
    expect(resolve().loadModels).toEqual([]);
    expect(resolve(withFile('load_models=f.mar')).loadModels).toEqual(['f.mar']);
    const cli = { modelStore: 'store', models: ['a=a.mar', 'b.mar'] };
    const c = resolve(withFile('load_models=f.mar', { cli }));
    expect(c.loadModels).toEqual(['a=a.mar', 'b.mar']);
    expect(c.properties.load_models).toBe('a=a.mar,b.mar');
    expect(resolve(withFile(ENVVARS + 'load_models=f.mar', { cli, env: { TS_LOAD_MODELS: 'e.mar' } })).loadModels).toEqual(['e.mar']);
  });

  it('splits load_models on commas, trimming and dropping empties', () => {
    expect(resolve(withFile('load_models= a.mar , n=b.mar,,  ,all')).loadModels).toEqual(['a.mar', 'n=b.mar', 'all']);
  });

  it('ignores env overrides unless enable_envvars_config is true (case-insensitive)', () => {
    const env = { TS_JOB_QUEUE_SIZE: '7' };
    expect(resolve({ env }).jobQueueSize).toBe(100);
    expect(resolve(withFile('enable_envvars_config=false', { env })).jobQueueSize).toBe(100);
    expect(resolve(withFile('enable_envvars_config=yes', { env })).jobQueueSize).toBe(100);
    expect(resolve(withFile('enable_envvars_config=TRUE', { env })).jobQueueSize).toBe(7);
    expect(resolve(withFile('enable_envvars_config=true\njob_queue_size=5', { env })).jobQueueSize).toBe(7);
    expect(resolve(withFile('enable_envvars_config=true', { env })).enableEnvvarsConfig).toBe(true);
  });

  it('cannot enable env overrides from env itself', () => {
    const c = resolve({ env: { TS_ENABLE_ENVVARS_CONFIG: 'true', TS_JOB_QUEUE_SIZE: '7' } });
    expect(c.enableEnvvarsConfig).toBe(false);
    expect(c.jobQueueSize).toBe(100);
  });

  it('lets env beat --model-store, and checks the env directory', () => {
    const c = resolve(withFile(ENVVARS, { dirs: ['/srv/store', '/env/store'], env: { TS_MODEL_STORE: '/env/store' } }));
    expect(c.modelStore).toBe('/env/store');
    fails(withFile(ENVVARS, { env: { TS_MODEL_STORE: '/missing' } }), 'Invalid configuration: model_store directory not found: /missing');
  });

  it('overrides every TS_ constant key, including addresses and our ort_intra_op_threads', () => {
    const c = resolve(
      withFile(ENVVARS + 'inference_address=http://127.0.0.1:1', {
        env: {
          TS_INFERENCE_ADDRESS: 'http://0.0.0.0:0',
          TS_METRICS_MODE: 'prometheus',
          TS_ORT_INTRA_OP_THREADS: '2',
          TS_BUSY_POLL_US: '0',
          TS_DEFAULT_SERVICE_HANDLER: 'h',
          TS_CORS_ALLOWED_ORIGIN: '',
          TS_DEBUG: 'true',
        },
      }),
    );
    expect(c.inferenceAddress.port).toBe(0);
    expect(c.metricsMode).toBe('prometheus');
    expect(c.ortIntraOpThreads).toBe(2);
    expect(c.busyPollUs).toBe(0);
    expect(c.defaultServiceHandler).toBe('h');
    expect(c.corsAllowedOrigin).toBe(''); // set-but-empty env still overrides
    expect(c.debug).toBe(true);
  });

  it('uses the special env names (TS_TOKEN_EXPIRATION_TIME_MIN, TS_HEADER_KEY_SEQUENCE_*)', () => {
    const good = resolve(withFile(ENVVARS, { env: { TS_TOKEN_EXPIRATION_TIME_MIN: '5', TS_HEADER_KEY_SEQUENCE_ID: 'sid' } }));
    expect(good.tokenExpirationMin).toBe(5);
    expect(good.properties.ts_header_key_sequence_id).toBe('sid');
    expect(resolve(withFile(ENVVARS, { env: { TS_TOKEN_EXPIRATION_MIN: '5' } })).tokenExpirationMin).toBe(60);
  });

  it('never takes models, use_env_allowed_urls or unknown keys from env', () => {
    const c = resolve(
      withFile(ENVVARS + 'foo=file', {
        env: { TS_MODELS: '{"x":{}}', TS_USE_ENV_ALLOWED_URLS: 'true', TS_ALLOWED_URLS: 'x', TS_FOO: 'env' },
      }),
    );
    expect(c.models).toEqual({});
    expect(c.allowedUrlsConfigured).toBe(false);
    expect(c.properties.foo).toBe('file');
    expect(c.properties.use_env_allowed_urls).toBeUndefined();
  });

  it('reads LOG_LOCATION always', () => {
    expect(resolve({ env: { LOG_LOCATION: '/var/log/ts' } }).logLocation).toBe('/var/log/ts');
  });

  it('keeps the final merged map in properties', () => {
    const c = resolve(
      withFile(ENVVARS + 'job_queue_size=5\nenable_model_api=false\nextra=x', {
        cli: { modelStore: 'store', enableModelApi: true },
        env: { TS_JOB_QUEUE_SIZE: '6' },
      }),
    );
    expect(c.properties).toEqual({
      enable_envvars_config: 'true',
      job_queue_size: '6',
      enable_model_api: 'true',
      extra: 'x',
      tsConfigFile: 'config.properties',
      model_store: 'store',
      workflow_store: 'store',
      number_of_gpu: '0',
    });
  });
});

describe('TS_ALLOWED_URLS gating', () => {
  const env = { TS_ALLOWED_URLS: 'https://env\\.example/.*' };

  it('ignores TS_ALLOWED_URLS without use_env_allowed_urls=true', () => {
    const c = resolve(withFile('enable_envvars_config=true\nallowed_urls=file://.*', { env }));
    expect(c.properties.allowed_urls).toBe('file://.*');
    expect(c.allowedUrls.map(String)).toEqual(['/^(?:file:\\/\\/.*)$/i']);
  });

  it('honours it with use_env_allowed_urls=true (case-insensitive)', () => {
    const c = resolve(withFile('enable_envvars_config=true\nuse_env_allowed_urls=True', { env }));
    expect(c.allowedUrlsConfigured).toBe(true);
    expect(c.allowedUrls[0]?.test('HTTPS://ENV.EXAMPLE/m.mar')).toBe(true);
    expect(c.allowedUrls[0]?.test('https://other/m.mar')).toBe(false);
  });

  it('still needs enable_envvars_config', () => {
    expect(resolve(withFile('use_env_allowed_urls=true', { env })).allowedUrlsConfigured).toBe(false);
  });
});

type Row = [file: string | undefined, flag: boolean, envvars: boolean, env: string | undefined, expected: boolean];
const matrix: Row[] = [
  [undefined, false, false, undefined, false], // default off
  [undefined, true, false, undefined, true], // flag enables
  ['false', true, false, undefined, true], // seed example 1: file false + flag ⇒ enabled
  ['true', false, false, undefined, true], // seed example 2: file true, no flag ⇒ enabled
  ['True', false, false, undefined, true], // parseBoolean is case-insensitive
  ['yes', false, false, undefined, false], // ...and nothing but "true" is true
  ['true ', false, false, undefined, false], // not trimmed, like Java
  ['true', false, true, 'false', false], // env disables the file
  ['false', true, true, 'false', false], // env disables even with the flag
  ['false', true, true, '', false], // any env value replaces it
  [undefined, false, true, 'TRUE', true], // env enables
  [undefined, true, false, 'false', true], // env ignored without enable_envvars_config
  ['false', false, false, 'true', false], // ...in both directions
];

describe.each([
  ['enable_model_api', 'TS_ENABLE_MODEL_API', 'enableModelApi', 'enableModelApi'],
  ['disable_token_authorization', 'TS_DISABLE_TOKEN_AUTHORIZATION', 'disableTokenAuth', 'disableTokenAuthorization'],
] as const)('%s precedence (spec §2.2)', (key, envName, flagName, field) => {
  it.each(matrix)('file=%j flag=%s envvars=%s env=%j ⇒ %s', (fileValue, flag, envvars, envValue, expected) => {
    const lines = [envvars ? 'enable_envvars_config=true' : '', fileValue === undefined ? '' : `${key}=${fileValue}`];
    const c = resolve(
      withFile(lines.join('\n'), {
        cli: { modelStore: 'store', [flagName]: flag },
        env: envValue === undefined ? {} : { [envName]: envValue },
      }),
    );
    expect(c[field]).toBe(expected);
  });
});

describe('typed values', () => {
  it('reads every key from the file', () => {
    const c = resolve(
      withFile(
        [
          'inference_address=https://0.0.0.0',
          'management_address=http://localhost',
          'metrics_address=unix:/tmp/metrics.sock',
          'default_workers_per_model=2',
          'job_queue_size= 42 ',
          'max_request_size=1000',
          'max_response_size=0',
          'default_response_timeout=0',
          'default_startup_timeout=30',
          'unregister_model_timeout=+5',
          'cors_allowed_origin=*',
          'cors_allowed_methods=GET, POST',
          'cors_allowed_headers=X-Custom',
          'default_service_handler=my_handler',
          'enable_metrics_api=false',
          'metrics_mode= Prome theus ',
          'token_expiration_min=30.5',
          'ort_intra_op_threads=3',
        ].join('\n'),
      ),
    );
    expect(c.inferenceAddress).toMatchObject({ scheme: 'https', host: '0.0.0.0', port: 443 });
    expect(c.managementAddress).toMatchObject({ scheme: 'http', host: 'localhost', port: 8081 });
    expect(c.metricsAddress).toMatchObject({ scheme: 'unix', path: '/tmp/metrics.sock' });
    expect(c).toMatchObject({
      defaultWorkersPerModel: 2,
      startupWorkersPerModel: 2,
      jobQueueSize: 42,
      maxRequestSize: 1000,
      maxResponseSize: 0,
      defaultResponseTimeout: 0,
      defaultStartupTimeout: 30,
      unregisterModelTimeout: 5,
      corsAllowedOrigin: '*',
      corsAllowedMethods: 'GET, POST',
      corsAllowedHeaders: 'X-Custom',
      defaultServiceHandler: 'my_handler',
      enableMetricsApi: false,
      metricsMode: 'prometheus',
      tokenExpirationMin: 30.5,
      ortIntraOpThreads: 3,
    });
  });

  it.each([
    ['LEGACY', 'legacy'],
    ['log', 'log'],
    ['bogus', 'log'],
    ['', 'log'],
  ])('metrics_mode %j ⇒ %s', (value, mode) => {
    expect(resolve(withFile(`metrics_mode=${value}`)).metricsMode).toBe(mode);
  });

  it.each([
    ['abc', 60],
    ['', 60],
    ['1e1', 10],
    [' 15 ', 15],
    ['2d', 2],
  ])('token_expiration_min %j ⇒ %d', (value, minutes) => {
    expect(resolve(withFile(`token_expiration_min=${value}`)).tokenExpirationMin).toBe(minutes);
  });

  it('compiles allowed_urls as a comma list of full-match, case-insensitive patterns', () => {
    const c = resolve(withFile('allowed_urls=https://models\\\\.example\\\\.com/.*,file:///opt/models/.*'));
    expect(c.allowedUrlsConfigured).toBe(true);
    expect(c.allowedUrls).toHaveLength(2);
    const ok = (u: string) => c.allowedUrls.some((re) => re.test(u));
    expect(ok('https://MODELS.example.com/a.mar')).toBe(true);
    expect(ok('file:///opt/models/b.mar')).toBe(true);
    expect(ok('https://evil.com/?https://models.example.com/')).toBe(false);
    expect(ok('https://modelsXexample.com/a.mar')).toBe(false);
  });

  it('rejects an invalid allowed_urls pattern, naming the key', () => {
    expect(() => resolve(withFile('allowed_urls=file://.*,(unclosed'))).toThrow(/^Invalid configuration: allowed_urls .*\(unclosed/);
  });

  it('parses the models JSON, keeping only valid parameters', () => {
    const json = JSON.stringify({
      squeezenet: {
        '1.0': { minWorkers: 1, maxWorkers: '4', batchSize: 0, maxBatchDelay: -5, responseTimeout: 'x', runtimeType: 'python', marName: 's.mar', defaultVersion: true, other: 1 },
      },
      resnet: { '2.0': {} },
    });
    const c = resolve(withFile(`models=${json}`));
    expect(c.models).toEqual({
      squeezenet: { '1.0': { minWorkers: 1, maxWorkers: 4, runtimeType: 'python', marName: 's.mar', defaultVersion: true } },
      resnet: { '2.0': {} },
    });
  });

  it.each(['{not json', '[]', '{"m": 1}', '{"m": {"1.0": []}}', 'null'])('rejects models=%s naming the key', (value) => {
    expect(() => resolve(withFile(`models=${value}`))).toThrow(/^Invalid configuration: models /);
  });

  it('rejects a bad address from the file or env, naming the key', () => {
    fails(withFile('management_address=localhost:8081'), 'Invalid configuration: Invalid binding address: localhost:8081 (management_address)');
    fails(
      withFile('enable_envvars_config=true', { env: { TS_METRICS_ADDRESS: 'http://[::1]:1' } }),
      'Invalid configuration: Invalid binding address: http://[::1]:1 (metrics_address)',
    );
  });

  it.each([
    ['job_queue_size', 'abc'],
    ['job_queue_size', '-1'],
    ['max_request_size', '1.5'],
    ['max_response_size', '1e3'],
    ['default_workers_per_model', 'two'],
    ['default_response_timeout', ''],
    ['default_startup_timeout', '0x10'],
    ['unregister_model_timeout', '2147483648'],
    ['ort_intra_op_threads', '-2'],
    ['busy_poll_us', '-1'],
    ['request_timeout_s', '1.5'],
    ['max_header_size', 'big'],
    ['number_of_netty_threads', 'lots'],
    ['netty_client_threads', '1 2'],
    ['initial_worker_port', 'x'],
    ['metric_time_interval', '?'],
    ['number_of_gpu', 'all'],
  ])('rejects %s=%j as not a non-negative integer', (key, value) => {
    fails(withFile(`${key}=${value}`), `Invalid configuration: ${key} must be a non-negative integer, got "${value}"`);
  });

  it.each(['job_queue_size', 'max_request_size'])('requires %s > 0', (key) => {
    fails(withFile(`${key}=0`), `Invalid configuration: ${key} must be a positive integer, got "0"`);
  });

  it('validates env-provided numbers too', () => {
    fails(
      withFile('enable_envvars_config=true', { env: { TS_DEFAULT_WORKERS_PER_MODEL: 'many' } }),
      'Invalid configuration: default_workers_per_model must be a non-negative integer, got "many"',
    );
  });
});
