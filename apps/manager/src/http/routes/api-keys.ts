// /api/v1/api-keys: the calling user's API keys.
import { Type } from '@sinclair/typebox';
import type { ApiKeyRow } from '../../db/queries/api-keys.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, NullableTimestamp, Timestamp, toIso } from '../schemas/common.js';

export const ApiKeyOut = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    prefix: Type.String({ description: 'first characters of the key, to recognise it' }),
    created_at: Timestamp,
    expires_at: NullableTimestamp,
    last_used_at: NullableTimestamp,
    revoked_at: NullableTimestamp,
  },
  { $id: 'ApiKey' },
);

const publicKey = (k: ApiKeyRow) => ({
  id: Number(k.id),
  name: k.name,
  prefix: k.prefix,
  created_at: k.created_at.toISOString(),
  expires_at: toIso(k.expires_at),
  last_used_at: toIso(k.last_used_at),
  revoked_at: toIso(k.revoked_at),
});

export function apiKeyRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Your API keys',
        response: { 200: Type.Object({ items: Type.Array(Type.Ref(ApiKeyOut)) }), ...errorResponses },
      },
    },
    async (req) => ({ items: (await d.apiKeys.list(req.principal)).map(publicKey) }),
  );

  app.post(
    '/api/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key; the key is shown only in this response',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            expires_at: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Type.Ref(ApiKeyOut), Type.Object({ key: Type.String() })]),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { row, key } = await d.apiKeys.create(req.principal, req.body, actorOf(req));
      return reply.code(201).send({ ...publicKey(row), key });
    },
  );

  app.delete(
    '/api/v1/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke one of your API keys',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.apiKeys.revoke(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
