// /api/v1/ous: the organisation-unit tree.
import { Type } from '@sinclair/typebox';
import type { OuRow } from '../../db/queries/ous.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, IdString, Page, PageQuery, Timestamp, toId } from '../schemas/common.js';

export const OuOut = Type.Object(
  {
    id: Type.Integer(),
    parent_id: Type.Union([Type.Integer(), Type.Null()]),
    name: Type.String(),
    description: Type.String(),
    path: Type.String({ description: 'ids from the root, "/1/4/9/"' }),
    device_cap: Type.Union([Type.Integer(), Type.Null()], {
      description: 'most devices enrolled directly in this OU; null = no cap',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Ou' },
);

export const publicOu = (o: OuRow) => ({
  id: Number(o.id),
  parent_id: toId(o.parent_id),
  name: o.name,
  description: o.description,
  path: o.path,
  device_cap: o.device_cap,
  created_at: o.created_at.toISOString(),
  updated_at: o.updated_at.toISOString(),
});

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '\\S' });
const Description = Type.String({ maxLength: 1000 });

export function ouRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/ous',
    {
      schema: {
        tags: ['ous'],
        summary: 'OUs in your scope',
        querystring: Type.Object(
          { ...PageQuery, parent_id: Type.Optional(IdString), q: Type.Optional(Type.String({ maxLength: 128 })) },
          { additionalProperties: false },
        ),
        response: { 200: Page(Type.Ref(OuOut)), ...errorResponses },
      },
    },
    async (req) => {
      const page = await d.ous.list(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return { items: page.items.map(publicOu), next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/api/v1/ous',
    {
      schema: {
        tags: ['ous'],
        summary: 'Create an OU (top-level: global_admin only)',
        body: Type.Object(
          {
            name: Name,
            description: Type.Optional(Description),
            parent_id: Type.Optional(Type.Union([IdString, Type.Integer({ minimum: 1 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref(OuOut), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { parent_id, ...rest } = req.body;
      const ou = await d.ous.create(
        req.principal,
        { ...rest, parent_id: parent_id == null ? null : String(parent_id) },
        actorOf(req),
      );
      return reply.code(201).send(publicOu(ou));
    },
  );

  app.get(
    '/api/v1/ous/:id',
    {
      schema: {
        tags: ['ous'],
        summary: 'One OU',
        params: IdParams,
        response: { 200: Type.Ref(OuOut), ...errorResponses },
      },
    },
    async (req) => publicOu(await d.ous.get(req.principal, req.params.id)),
  );

  app.patch(
    '/api/v1/ous/:id',
    {
      schema: {
        tags: ['ous'],
        summary: 'Rename and/or move an OU with its subtree',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            description: Type.Optional(Description),
            parent_id: Type.Optional(Type.Union([IdString, Type.Integer({ minimum: 1 })])),
            device_cap: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 10_000_000 }), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref(OuOut), ...errorResponses },
      },
    },
    async (req) => {
      const { parent_id, ...rest } = req.body;
      const ou = await d.ous.update(
        req.principal,
        req.params.id,
        { ...rest, parent_id: parent_id === undefined ? undefined : String(parent_id) },
        actorOf(req),
      );
      return publicOu(ou);
    },
  );

  app.delete(
    '/api/v1/ous/:id',
    {
      schema: {
        tags: ['ous'],
        summary: 'Delete an empty OU',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.ous.remove(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
