// Alerts: open alert states and alert events (OU-scoped), and the webhooks that announce them.
import { Type } from '@sinclair/typebox';
import { forbidden, notFound } from '../../domain/errors.js';
import { findDevice } from '../../db/queries/devices.js';
import { decodeCursor, toPage } from '../../domain/pagination.js';
import { scopeOf } from '../../domain/principal.js';
import { inScope } from '../../db/queries/scope.js';
import type { WebhookRow } from '../../services/webhooks.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, IdString, Page, PageQuery, Timestamp, toId } from '../schemas/common.js';

const Level = Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('critical')]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export function alertRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Open alerts (warning or critical) in your scope',
        querystring: Type.Object({ device_id: Type.Optional(IdString) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                device_id: Type.Integer(),
                kind: Type.String(),
                target: Type.String(),
                metric: Type.String(),
                state: Level,
                since: Timestamp,
                last_value: NullableNumber,
                last_at: Timestamp,
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (req.query.device_id && !(await findDevice(d.ctx.db, scopeOf(req.principal), req.query.device_id)))
        throw notFound('device');
      let q = d.ctx.db
        .selectFrom('alert_states')
        .innerJoin('devices', 'devices.id', 'alert_states.device_id')
        .innerJoin('ous', 'ous.id', 'devices.ou_id')
        .select([
          'alert_states.device_id',
          'alert_states.kind',
          'alert_states.target',
          'alert_states.metric',
          'alert_states.state',
          'alert_states.since',
          'alert_states.last_value',
          'alert_states.last_at',
        ])
        .where('alert_states.state', '<>', 'ok')
        .where((eb) => inScope(eb, scopeOf(req.principal), 'ous.path'))
        .orderBy('alert_states.since', 'desc')
        .limit(1000);
      if (req.query.device_id) q = q.where('alert_states.device_id', '=', req.query.device_id);
      const rows = await q.execute();
      return {
        items: rows.map((r) => ({
          ...r,
          device_id: Number(r.device_id),
          state: r.state as 'ok',
          since: r.since.toISOString(),
          last_at: r.last_at.toISOString(),
        })),
      };
    },
  );

  app.get(
    '/api/v1/alerts/events',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alert state changes, newest first',
        querystring: Type.Object({ ...PageQuery, device_id: Type.Optional(IdString) }, { additionalProperties: false }),
        response: {
          200: Page(
            Type.Object({
              id: Type.Integer(),
              device_id: Type.Integer(),
              kind: Type.String(),
              target: Type.String(),
              metric: Type.String(),
              from_state: Level,
              to_state: Level,
              value: NullableNumber,
              threshold: NullableNumber,
              at: Timestamp,
            }),
          ),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      if (req.query.device_id && !(await findDevice(d.ctx.db, scopeOf(req.principal), req.query.device_id)))
        throw notFound('device');
      const limit = req.query.limit ?? 50;
      const before = decodeCursor(req.query.cursor);
      let q = d.ctx.db
        .selectFrom('alert_events')
        .innerJoin('ous', 'ous.id', 'alert_events.ou_id')
        .select([
          'alert_events.id',
          'alert_events.device_id',
          'alert_events.kind',
          'alert_events.target',
          'alert_events.metric',
          'alert_events.from_state',
          'alert_events.to_state',
          'alert_events.value',
          'alert_events.threshold',
          'alert_events.at',
        ])
        .where((eb) => inScope(eb, scopeOf(req.principal), 'ous.path'))
        .orderBy('alert_events.id', 'desc')
        .limit(limit + 1);
      if (before) q = q.where('alert_events.id', '<', before);
      if (req.query.device_id) q = q.where('alert_events.device_id', '=', req.query.device_id);
      const page = toPage(await q.execute(), limit);
      return {
        items: page.items.map((e) => ({
          ...e,
          id: Number(e.id),
          device_id: Number(e.device_id),
          from_state: e.from_state as 'ok',
          to_state: e.to_state as 'ok',
          at: e.at.toISOString(),
        })),
        next_cursor: page.next_cursor,
      };
    },
  );

  const WebhookOut = Type.Object({
    id: Type.Integer(),
    ou_id: Type.Union([Type.Integer(), Type.Null()]),
    name: Type.String(),
    url: Type.String(),
    format: Type.String(),
    enabled: Type.Boolean(),
    created_at: Timestamp,
  });
  const pub = (w: WebhookRow) => ({
    ...w,
    id: Number(w.id),
    ou_id: toId(w.ou_id),
    created_at: w.created_at.toISOString(),
  });

  app.get(
    '/api/v1/webhooks',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Webhooks in your scope',
        response: { 200: Type.Object({ items: Type.Array(WebhookOut) }), ...errorResponses },
      },
    },
    async (req) => ({ items: (await d.webhooks.list(req.principal)).map(pub) }),
  );
  app.post(
    '/api/v1/webhooks',
    {
      schema: {
        tags: ['alerts'],
        summary:
          'Create a webhook for alert changes (signing secret shown once); loopback/link-local/metadata URLs refused',
        body: Type.Object(
          {
            ou_id: Type.Optional(Type.Union([IdString, Type.Integer({ minimum: 1 }), Type.Null()])),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            url: Type.String({ minLength: 1, maxLength: 2048 }),
            format: Type.Optional(Type.Union([Type.Literal('generic'), Type.Literal('slack')])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([WebhookOut, Type.Object({ secret: Type.String() })]), ...errorResponses },
      },
    },
    async (req, reply) => {
      if (req.principal.role === 'user') throw forbidden();
      const b = req.body;
      const { row, secret } = await d.webhooks.create(
        req.principal,
        { ou_id: b.ou_id == null ? null : String(b.ou_id), name: b.name, url: b.url, format: b.format ?? 'generic' },
        actorOf(req),
      );
      return reply.code(201).send({ ...pub(row), secret });
    },
  );
  app.delete(
    '/api/v1/webhooks/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Delete a webhook',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.webhooks.remove(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
