// /api/v1/audit: the audit log of administrative changes, newest first, OU-scoped.
import { Type } from '@sinclair/typebox';
import { listAudit } from '../../db/queries/audit.js';
import { forbidden, timeOf } from '../../domain/errors.js';
import { decodeCursor, toPage } from '../../domain/pagination.js';
import { scopeOf } from '../../domain/principal.js';
import type { App } from '../app.js';
import type { Deps } from '../deps.js';
import { errorResponses, IdString, Page, PageQuery, Timestamp, toId } from '../schemas/common.js';

export const AuditOut = Type.Object(
  {
    id: Type.Integer(),
    at: Timestamp,
    actor_id: Type.Union([Type.Integer(), Type.Null()]),
    actor_name: Type.String(),
    action: Type.String(),
    target_type: Type.String(),
    target_id: Type.Union([Type.String(), Type.Null()]),
    before: Type.Unknown(),
    after: Type.Unknown(),
    request_id: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'AuditEntry' },
);

export function auditRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit log (secrets redacted), newest first',
        querystring: Type.Object(
          {
            ...PageQuery,
            action: Type.Optional(Type.String({ maxLength: 64 })),
            target_type: Type.Optional(Type.String({ maxLength: 64 })),
            actor_id: Type.Optional(IdString),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Type.Ref(AuditOut)), ...errorResponses },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p.role === 'user') throw forbidden('the audit log is for admins and reporters');
      const q = req.query;
      const limit = q.limit ?? 50;
      const rows = await listAudit(d.ctx.db, scopeOf(p), {
        limit,
        beforeId: decodeCursor(q.cursor),
        action: q.action,
        targetType: q.target_type,
        actorId: q.actor_id,
        since: q.since ? timeOf(q.since, 'since') : undefined,
        until: q.until ? timeOf(q.until, 'until') : undefined,
      });
      const page = toPage(rows, limit);
      return {
        items: page.items.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString(), actor_id: toId(r.actor_id) })),
        next_cursor: page.next_cursor,
      };
    },
  );
}
