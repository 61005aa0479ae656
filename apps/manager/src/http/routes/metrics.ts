// GET /metrics: Prometheus exposition of manager health (request counts and latency, process).
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { App } from '../app.js';

export function metricsRoutes(app: App): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rookery_manager_' });
  const duration = new Histogram({
    name: 'rookery_http_request_duration_seconds',
    help: 'HTTP request duration by route and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    // route pattern, not the raw URL, keeps label cardinality bounded
    const route = req.routeOptions.url ?? 'unmatched';
    duration.labels(req.method, route, `${Math.floor(reply.statusCode / 100)}xx`).observe(reply.elapsedTime / 1000);
  });
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  return registry;
}
