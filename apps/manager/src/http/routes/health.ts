// GET /healthz: database and background-job status; 503 when the database does not answer.
import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { Deps } from '../deps.js';

export function healthRoutes(app: App, d: Deps): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness and readiness',
        security: [],
        response: {
          200: Type.Object({ status: Type.Literal('ok'), database: Type.Literal('ok'), jobs: Type.Unknown() }),
          503: Type.Object({ status: Type.Literal('degraded'), database: Type.String(), jobs: Type.Unknown() }),
        },
      },
    },
    async (_req, reply) => {
      const ok = await d.health.database();
      const jobs = d.health.jobs();
      if (ok) return { status: 'ok' as const, database: 'ok' as const, jobs };
      return reply.code(503).send({ status: 'degraded' as const, database: 'unreachable', jobs });
    },
  );
}
