/**
 * OpenAPI 3.0.1 descriptions served by `OPTIONS /` and `/api-description` (spec §4.7): the same
 * paths and operationIds as TorchServe's, built from a few small builders.
 */
export const TS_COMPAT_VERSION = '0.12.0';

type Json = Record<string, unknown>;

const errorSchema: Json = {
  type: 'object',
  required: ['code', 'type', 'message'],
  properties: {
    code: { type: 'integer', description: 'Error code.' },
    type: { type: 'string', description: 'Error type.' },
    message: { type: 'string', description: 'Error message.' },
  },
};

const statusSchema = (description: string): Json => ({
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', description } },
});

const jsonResponse = (description: string, schema: Json): Json => ({
  description,
  content: { 'application/json': { schema } },
});

const errorResponse = (description: string) => jsonResponse(description, errorSchema);
const binary: Json = { '*/*': { schema: { type: 'string', format: 'binary' } } };

interface Param {
  in: 'path' | 'query';
  name: string;
  description: string;
  required: boolean;
  type: string;
  default?: string;
}

const param = (p: Param): Json => ({
  in: p.in,
  name: p.name,
  description: p.description,
  required: p.required,
  schema: p.default === undefined ? { type: p.type } : { type: p.type, default: p.default },
});

const modelName = param({ in: 'path', name: 'model_name', description: 'Name of model.', required: true, type: 'string' });
const modelVersion = param({ in: 'path', name: 'model_version', description: 'Name of model version.', required: true, type: 'string' });
const query = (name: string, description: string, type: string, def?: string) =>
  param({ in: 'query', name, description, required: false, type, default: def });

function operation(description: string, operationId: string, parameters: Json[], responses: Json, requestBody?: Json): Json {
  const op: Json = { description, operationId, parameters };
  if (requestBody) op.requestBody = requestBody;
  op.responses = responses;
  return op;
}

const descriptionOp = operation('Get openapi description.', 'apiDescription', [], {
  '200': jsonResponse('A openapi 3.0.1 descriptor', {
    type: 'object',
    required: ['openapi', 'info', 'paths'],
    properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } },
  }),
  '500': errorResponse('Internal Server Error'),
});

function predictOp(operationId: string, versioned: boolean): Json {
  return operation(
    versioned
      ? 'Predictions entry point to get inference using specific model version.'
      : 'Predictions entry point to get inference using default model version.',
    operationId,
    versioned ? [modelName, modelVersion] : [modelName],
    {
      '200': { description: 'Output data format is defined by each model.', content: binary },
      '404': errorResponse('Model not found or Model Version not found'),
      '500': errorResponse('Internal Server Error'),
      '503': errorResponse('No worker is available to serve request'),
    },
    { description: 'Input data format is defined by each model.', content: binary, required: true },
  );
}

const metricsOp = operation(
  'Get TorchServe application metrics in prometheus format.',
  'metrics',
  [query('name[]', 'Names of metrics to filter', 'string')],
  {
    '200': { description: 'TorchServe application metrics', content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } } },
    '500': errorResponse('Internal Server Error'),
  },
);

function inferencePaths(): Json {
  return {
    '/': { options: descriptionOp },
    '/ping': {
      get: operation('Get TorchServe status.', 'ping', [], {
        '200': jsonResponse('TorchServe status', statusSchema('Overall status of the TorchServe.')),
        '500': errorResponse('Internal Server Error'),
      }),
    },
    '/v1/models/{model_name}:predict': { post: predictOp('predictions', false) },
    '/v2/models/{model_name}/infer': { post: predictOp('predictions', false) },
    '/predictions/{model_name}': { post: predictOp('predictions', false) },
    '/predictions/{model_name}/{model_version}': { post: predictOp('version_predictions', true) },
    '/api-description': { get: { ...descriptionOp, operationId: 'api-description', deprecated: true } },
    '/metrics': { get: metricsOp },
  };
}

const mgmtErrors = {
  '404': errorResponse('Model not found'),
  '500': errorResponse('Internal Server Error'),
};

function managementPaths(): Json {
  const scaleParams = [
    query('min_worker', 'Minimum number of worker processes.', 'integer', '1'),
    query('max_worker', 'Maximum number of worker processes.', 'integer', '1'),
    query('synchronous', 'Decides whether the call is synchronous or not, default: false.', 'boolean', 'false'),
  ];
  const describe = (versioned: boolean) =>
    operation(
      versioned ? 'Provides detailed information about the specified version of a model.' : 'Provides detailed information about the default version of a model.',
      versioned ? 'version_describeModel' : 'describeModel',
      versioned ? [modelName, modelVersion, query('customized', 'Customized metadata', 'boolean', 'false')] : [modelName, query('customized', 'Customized metadata', 'boolean', 'false')],
      { '200': jsonResponse('OK', { type: 'array', items: { type: 'object' } }), ...mgmtErrors },
    );
  const scale = (versioned: boolean) =>
    operation(
      versioned ? 'Configure number of workers for a specified version of a model.' : 'Configure number of workers for a default version of a model.',
      versioned ? 'version_setAutoScale' : 'setAutoScale',
      versioned ? [modelName, modelVersion, ...scaleParams] : [modelName, ...scaleParams],
      {
        '200': jsonResponse('Model workers updated', statusSchema('Workers scaled.')),
        '202': jsonResponse('Accepted', statusSchema('Processing worker updates...')),
        '206': jsonResponse('Partial Content', statusSchema('Workers scaling in progress...')),
        '400': errorResponse('Invalid worker number'),
        ...mgmtErrors,
      },
    );
  const unregister = (versioned: boolean) =>
    operation(
      versioned ? 'Unregister the specified version of a model.' : 'Unregister the default version of a model.',
      versioned ? 'version_unregisterModel' : 'unregisterModel',
      versioned ? [modelName, modelVersion] : [modelName],
      {
        '200': jsonResponse('Model unregistered', statusSchema('Model unregistered.')),
        '403': errorResponse('Cannot remove the default version'),
        '405': errorResponse('Model API disabled'),
        '408': errorResponse('Request Timeout Error'),
        ...mgmtErrors,
      },
    );
  return {
    '/': { options: descriptionOp },
    '/models': {
      get: operation(
        'List registered models in TorchServe.',
        'listModels',
        [query('limit', 'Use this parameter to specify the maximum number of items to return.', 'integer', '100'), query('next_page_token', 'The token to retrieve the next set of results.', 'string')],
        { '200': jsonResponse('OK', { type: 'object', required: ['models'], properties: { nextPageToken: { type: 'string' }, models: { type: 'array' } } }), '500': errorResponse('Internal Server Error') },
      ),
      post: operation(
        'Register a new model in TorchServe.',
        'registerModel',
        [
          param({ in: 'query', name: 'url', description: 'Model archive download url, support local file or HTTP(s) protocol.', required: true, type: 'string' }),
          query('model_name', 'Name of model. This value will override modelName in MANIFEST.json if present.', 'string'),
          query('handler', 'Inference handler entry-point. This value will override handler in MANIFEST.json if present.', 'string'),
          query('runtime', 'Runtime for the model custom service code.', 'string'),
          query('batch_size', 'Inference batch size, default: 1.', 'integer', '1'),
          query('max_batch_delay', 'Maximum delay for batch aggregation, default: 100.', 'integer', '100'),
          query('response_timeout', 'Maximum time, in seconds, the TorchServe waits for a response from the model inference code, default: 120.', 'integer', '2'),
          query('initial_workers', 'Number of initial workers, default: 0.', 'integer', '0'),
          query('synchronous', 'Decides whether creation of worker synchronous or not, default: true.', 'boolean', 'true'),
        ],
        {
          '200': jsonResponse('Model registered', statusSchema('Model registered.')),
          '202': jsonResponse('Accepted', statusSchema('Processing worker updates...')),
          '210': jsonResponse('Partial Success', statusSchema('Workers scaling in progress...')),
          '400': errorResponse('Bad request'),
          '404': errorResponse('Model not found'),
          '405': errorResponse('Model API disabled'),
          '409': errorResponse('Model already registered'),
          '500': errorResponse('Internal Server Error'),
        },
      ),
    },
    '/models/{model_name}': { get: describe(false), put: scale(false), delete: unregister(false) },
    '/models/{model_name}/{model_version}': { get: describe(true), put: scale(true), delete: unregister(true) },
    '/models/{model_name}/{model_version}/set-default': {
      put: operation('Set default version of a model', 'setDefault', [modelName, modelVersion], {
        '200': jsonResponse('Default version of a model updated', statusSchema('Default vesion set.')),
        ...mgmtErrors,
      }),
    },
    '/api-description': { get: { ...descriptionOp, operationId: 'api-description', deprecated: true } },
    '/metrics': { get: metricsOp },
  };
}

const info = (version: string): Json => ({
  title: 'TorchServe APIs',
  description: 'TorchServe is a flexible and easy to use tool for serving deep learning models',
  version,
});

export type ListenerKind = 'inference' | 'management' | 'metrics';

export function apiDescription(kind: ListenerKind): Json {
  const paths = kind === 'inference' ? inferencePaths() : kind === 'management' ? managementPaths() : { '/metrics': { get: metricsOp } };
  return { openapi: '3.0.1', info: info(TS_COMPAT_VERSION), paths };
}

/** `OPTIONS /predictions/{m}`: the model's own inference description. */
export function modelInferenceDescription(model: string): Json {
  const op = { ...predictOp(model, false), description: `A predict entry point for model: ${model}.` };
  return {
    openapi: '3.0.1',
    info: { title: `RESTful API for: ${model}`, version: '1.0.0' },
    paths: {
      [`/prediction/${model}`]: { post: op },
      '/v1/models/{model_name}:predict': { post: op },
      '/v2/models/{model_name}/infer': { post: op },
    },
  };
}

/** `OPTIONS /models/{m}` on the management port. */
export function modelManagementDescription(model: string): Json {
  const all = managementPaths();
  return {
    openapi: '3.0.1',
    info: { title: `RESTful Management API for: ${model}`, version: TS_COMPAT_VERSION },
    paths: {
      '/models/{model_name}': all['/models/{model_name}'],
      '/models/{model_name}/{model_version}': all['/models/{model_name}/{model_version}'],
      '/models/{model_name}/{model_version}/set-default': all['/models/{model_name}/{model_version}/set-default'],
    },
  };
}
