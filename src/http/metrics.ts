/**
 * The metrics API (port 8082, spec §6.1): any path whose first segment is `metrics`, any method,
 * `name[]` selecting families. What the body holds depends on `metrics_mode` (src/metrics); without
 * a renderer it is TorchServe's log-mode answer, 200 with an empty body.
 */
import { methodNotAllowed, resourceNotFound } from '../errors.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/exposition.js';
import type { RenderedMetrics } from '../metrics/server-metrics.js';
import { apiDescription } from './api-description.js';
import type { Router } from './route-context.js';

export const PROMETHEUS_TYPE = PROMETHEUS_CONTENT_TYPE;

/** What the router needs of the server's metrics (ServerMetrics). */
export interface MetricsRenderer {
  render(names: readonly string[] | undefined): Promise<RenderedMetrics>;
}

export function metricsRouter(metrics?: MetricsRenderer): Router {
  return async ({ method, segments, query }) => {
    const first = segments[0];
    if (first === undefined) {
      if (method === 'OPTIONS') return { status: 200, json: apiDescription('metrics') };
      throw methodNotAllowed();
    }
    if (first === 'api-description') return { status: 200, json: apiDescription('metrics') };
    if (first === 'metrics') {
      if (!metrics) return { status: 200, body: '', contentType: PROMETHEUS_TYPE };
      const { body, contentType } = await metrics.render(query.getAll('name[]'));
      return { status: 200, body, contentType };
    }
    throw resourceNotFound();
  };
}
