// GET /api/v1/fleet/summary: devices online/offline, open alerts and failing series per child OU.
import { Type } from '@sinclair/typebox';
import { meshCells } from '../../db/queries/mesh.js';
import { findOu } from '../../db/queries/ous.js';
import { forbidden, notFound } from '../../domain/errors.js';
import { scopeOf } from '../../domain/principal.js';
import type { App } from '../app.js';
import type { Deps } from '../deps.js';
import { errorResponses, IdString } from '../schemas/common.js';

export function fleetRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/fleet/summary',
    {
      schema: {
        tags: ['results'],
        summary:
          'Fleet summary per child OU of ou_id (default: your top OU, or the roots for global roles); counts are at most 5 s old',
        querystring: Type.Object({ ou_id: Type.Optional(IdString) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            ou_id: Type.Union([Type.Integer(), Type.Null()]),
            children: Type.Array(
              Type.Object({
                ou_id: Type.Union([Type.Integer(), Type.Null()], { description: 'null: devices directly in ou_id' }),
                name: Type.Union([Type.String(), Type.Null()]),
                devices: Type.Integer(),
                online: Type.Integer(),
                offline: Type.Integer(),
                alerts_warning: Type.Integer(),
                alerts_critical: Type.Integer(),
                series: Type.Integer(),
                series_failing: Type.Integer(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const p = req.principal;
      const scope = scopeOf(p);
      // an OU outside the scope is not found, whatever the role
      let ou = req.query.ou_id ? await findOu(d.ctx.db, scope, req.query.ou_id) : undefined;
      if (req.query.ou_id && !ou) throw notFound('OU');
      if (p.role === 'user') throw forbidden('the fleet summary is for admins and reporters');
      // without ou_id: the roots for global roles, else the caller's own OU (never the whole fleet)
      if (!ou && scope.kind !== 'all') {
        ou = p.ouId ? await findOu(d.ctx.db, scope, p.ouId) : undefined;
        if (!ou) throw notFound('OU');
      }
      const ouId = ou ? ou.id : null;
      const rows = await d.fleet.summary(ou ? ou.path : '/');
      return {
        ou_id: ouId === null ? null : Number(ouId),
        children: rows.map((r) => ({
          ...r,
          ou_id: r.ou_id === null ? null : Number(r.ou_id),
        })),
      };
    },
  );

  app.get(
    '/api/v1/results/mesh',
    {
      schema: {
        tags: ['results'],
        summary: 'Agent-to-agent mesh: latest results whose target is another device (matched by hostname)',
        querystring: Type.Object(
          {
            ou_id: Type.Optional(IdString),
            kind: Type.Optional(
              Type.Union(['http', 'tcp', 'udp', 'dns', 'icmp', 'traceroute'].map((k) => Type.Literal(k))),
            ),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            cells: Type.Array(
              Type.Object({
                source_id: Type.Integer(),
                source: Type.String(),
                dest_id: Type.Integer(),
                dest: Type.String(),
                kind: Type.String(),
                ok: Type.Boolean(),
                latency_ms: Type.Union([Type.Number(), Type.Null()]),
                loss_pct: Type.Union([Type.Number(), Type.Null()]),
                started_at: Type.String({ format: 'date-time' }),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const scope = scopeOf(req.principal);
      let ouPath: string | undefined;
      if (req.query.ou_id) {
        const ou = await findOu(d.ctx.db, scope, req.query.ou_id);
        if (!ou) throw notFound('OU');
        ouPath = ou.path;
      }
      const cells = await meshCells(d.ctx.db, scope, { kind: req.query.kind, ouPath, limit: req.query.limit ?? 1000 });
      return {
        cells: cells.map((c) => ({
          ...c,
          source_id: Number(c.source_id),
          dest_id: Number(c.dest_id),
          started_at: c.started_at.toISOString(),
        })),
      };
    },
  );
}
