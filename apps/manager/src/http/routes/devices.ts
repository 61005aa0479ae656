// /api/v1/devices: the fleet, within the caller's scope.
import { Type } from '@sinclair/typebox';
import type { DeviceRow } from '../../db/queries/devices.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, IdString, Page, PageQuery, Timestamp } from '../schemas/common.js';

export const DeviceOut = Type.Object(
  {
    id: Type.Integer(),
    ou_id: Type.Integer(),
    serial: Type.String(),
    hostname: Type.String(),
    os: Type.String(),
    os_version: Type.String(),
    client_type: Type.String(),
    client_version: Type.String(),
    labels: Type.Array(Type.String()),
    status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    last_seen_at: Timestamp,
    agent_state: Type.Union([Type.String(), Type.Null()]),
    config_version: Type.Union([Type.Integer(), Type.Null()], {
      description: 'config version the agent last reported',
    }),
    spool_backlog: Type.Union([Type.Integer(), Type.Null()]),
    enrolled_at: Timestamp,
  },
  { $id: 'Device' },
);

export const publicDevice = (r: DeviceRow) => ({
  id: Number(r.id),
  ou_id: Number(r.ou_id),
  serial: r.serial,
  hostname: r.hostname,
  os: r.os,
  os_version: r.os_version,
  client_type: r.client_type,
  client_version: r.client_version,
  labels: r.labels,
  status: r.status as 'online' | 'offline',
  last_seen_at: r.last_seen_at.toISOString(),
  agent_state: r.agent_state,
  config_version: r.config_version,
  spool_backlog: r.spool_backlog,
  enrolled_at: r.enrolled_at.toISOString(),
});

const Label = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:=/-]+$' });

export function deviceRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Devices in your scope, filterable by OU (with descendants), status, label and text',
        querystring: Type.Object(
          {
            ...PageQuery,
            ou_id: Type.Optional(IdString),
            recursive: Type.Optional(
              Type.Boolean({ default: true, description: 'with ou_id: include descendant OUs' }),
            ),
            status: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline')])),
            label: Type.Optional(Label),
            q: Type.Optional(Type.String({ maxLength: 128, description: 'substring of hostname or serial' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Type.Ref(DeviceOut)), ...errorResponses },
      },
    },
    async (req) => {
      const page = await d.devices.list(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return { items: page.items.map(publicDevice), next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/api/v1/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'One device',
        params: IdParams,
        response: { 200: Type.Ref(DeviceOut), ...errorResponses },
      },
    },
    async (req) => publicDevice(await d.devices.get(req.principal, req.params.id)),
  );

  app.patch(
    '/api/v1/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Move a device to another OU and/or set its labels',
        params: IdParams,
        body: Type.Object(
          {
            ou_id: Type.Optional(Type.Union([IdString, Type.Integer({ minimum: 1 })])),
            labels: Type.Optional(Type.Array(Label, { maxItems: 50 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref(DeviceOut), ...errorResponses },
      },
    },
    async (req) => {
      const { ou_id, labels } = req.body;
      const r = await d.devices.update(
        req.principal,
        req.params.id,
        { ou_id: ou_id === undefined ? undefined : String(ou_id), labels },
        actorOf(req),
      );
      return publicDevice(r);
    },
  );

  app.delete(
    '/api/v1/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Delete a device; its credential stops working at once',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.devices.remove(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
