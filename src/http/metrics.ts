/**
 * The metrics API (port 8082). TorchServe's default `metrics_mode=log` registers nothing in the
 * Prometheus registry, so `/metrics` answers 200 with an empty body; Prometheus metrics proper
 * arrive with the operations issue.
 */
import { methodNotAllowed, resourceNotFound } from '../errors.js';
import { apiDescription } from './api-description.js';
import type { Router } from './route-context.js';

export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function metricsRouter(): Router {
  return async ({ method, segments }) => {
    const first = segments[0];
    if (first === undefined) {
      if (method === 'OPTIONS') return { status: 200, json: apiDescription('metrics') };
      throw methodNotAllowed();
    }
    if (first === 'api-description') return { status: 200, json: apiDescription('metrics') };
    if (first === 'metrics') return { status: 200, body: '', contentType: PROMETHEUS_TYPE };
    throw resourceNotFound();
  };
}
