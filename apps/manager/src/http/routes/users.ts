// /api/v1/users: user accounts within the caller's OU scope.
import { Type } from '@sinclair/typebox';
import { ROLES } from '../../domain/roles.js';
import { publicUser } from '../../services/users.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, IdString, Page, PageQuery, Timestamp } from '../schemas/common.js';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const UserOut = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    full_name: Type.String(),
    role: RoleSchema,
    ou_id: Type.Union([Type.Integer(), Type.Null()]),
    disabled: Type.Boolean(),
    totp_enabled: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'User' },
);

const Username = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.@-]+$' });
const Email = Type.Union([Type.String({ format: 'email', maxLength: 254 }), Type.Null()]);
const NullableId = Type.Union([IdString, Type.Integer({ minimum: 1 }), Type.Null()]);
const idOrNull = (v: string | number | null | undefined) =>
  v === undefined ? undefined : v === null ? null : String(v);

export function userRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Users in your scope',
        querystring: Type.Object(
          {
            ...PageQuery,
            ou_id: Type.Optional(IdString),
            role: Type.Optional(RoleSchema),
            q: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Type.Ref(UserOut)), ...errorResponses },
      },
    },
    async (req) => {
      const page = await d.users.list(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return { items: page.items.map(publicUser), next_cursor: page.next_cursor };
    },
  );

  app.post(
    '/api/v1/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user (a role no higher than your own, in your subtree)',
        body: Type.Object(
          {
            username: Username,
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            role: RoleSchema,
            ou_id: Type.Optional(NullableId),
            email: Type.Optional(Email),
            full_name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref(UserOut), ...errorResponses },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          publicUser(
            await d.users.create(req.principal, { ...req.body, ou_id: idOrNull(req.body.ou_id) }, actorOf(req)),
          ),
        ),
  );

  app.get(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'One user',
        params: IdParams,
        response: { 200: Type.Ref(UserOut), ...errorResponses },
      },
    },
    async (req) => publicUser(await d.users.get(req.principal, req.params.id)),
  );

  app.patch(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Change role, OU, profile, disable, or reset the password (revokes the user’s tokens)',
        params: IdParams,
        body: Type.Object(
          {
            role: Type.Optional(RoleSchema),
            ou_id: Type.Optional(NullableId),
            email: Type.Optional(Email),
            full_name: Type.Optional(Type.String({ maxLength: 200 })),
            disabled: Type.Optional(Type.Boolean()),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref(UserOut), ...errorResponses },
      },
    },
    async (req) =>
      publicUser(
        await d.users.update(
          req.principal,
          req.params.id,
          { ...req.body, ou_id: idOrNull(req.body.ou_id) },
          actorOf(req),
        ),
      ),
  );

  app.delete(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete a user',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.users.remove(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
