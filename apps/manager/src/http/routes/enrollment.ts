// Seed 000's enrollment API: secrets (admin), enroll (public), config check-in and heartbeat (device credential).
import {
  AGENT_API_VERSION,
  ConfigResponse,
  EnrollRequest,
  EnrollResponse,
  HeartbeatRequest,
  HeartbeatResponse,
} from '@rookery/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { SecretRow } from '../../db/queries/enrollment-secrets.js';
import { AppError } from '../../domain/errors.js';
import { HEARTBEAT_RECORDED, speaksOtherApiVersion } from '../agent-path.js';
import { type App, bearerOf } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import {
  errorResponses,
  IdParams,
  IdString,
  NullableTimestamp,
  Page,
  PageQuery,
  Timestamp,
  toIso,
} from '../schemas/common.js';

export const SecretOut = Type.Object(
  {
    id: Type.Integer(),
    ou_id: Type.Integer(),
    name: Type.String(),
    prefix: Type.String({ description: 'first characters of the secret, to recognise it' }),
    created_at: Timestamp,
    expires_at: NullableTimestamp,
    max_uses: Type.Union([Type.Integer(), Type.Null()]),
    uses: Type.Integer(),
    revoked_at: NullableTimestamp,
  },
  { $id: 'EnrollmentSecret' },
);

const publicSecret = (s: SecretRow) => ({
  id: Number(s.id),
  ou_id: Number(s.ou_id),
  name: s.name,
  prefix: s.prefix,
  created_at: s.created_at.toISOString(),
  expires_at: toIso(s.expires_at),
  max_uses: s.max_uses,
  uses: s.uses,
  revoked_at: toIso(s.revoked_at),
});

/** 426 when an agent speaks another API version; absent header = seed clients, accepted. */
export function assertApiVersion(req: FastifyRequest): void {
  if (speaksOtherApiVersion(req)) {
    const v = req.headers['x-api-version'];
    throw new AppError(
      426,
      'upgrade_required',
      `this manager speaks agent API version ${AGENT_API_VERSION}, not ${String(v)}`,
      {
        supported: [AGENT_API_VERSION],
      },
    );
  }
}

const deviceSecurity = [{ deviceCredential: [] }];

export function enrollmentRoutes(app: App, d: Deps): void {
  app.post(
    '/api/v1/enrollment/secrets',
    {
      schema: {
        tags: ['enrollment'],
        summary: 'Create an enrollment secret for an OU (shown once)',
        body: Type.Object(
          {
            ou_id: Type.Union([IdString, Type.Integer({ minimum: 1 })]),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            max_uses: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Type.Ref(SecretOut), Type.Object({ secret: Type.String() })]),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const { row, secret } = await d.enrollment.createSecret(
        req.principal,
        {
          ou_id: String(b.ou_id),
          name: b.name,
          expires_at: b.expires_at ?? undefined,
          max_uses: b.max_uses ?? undefined,
        },
        actorOf(req),
      );
      return reply.code(201).send({ ...publicSecret(row), secret });
    },
  );

  app.get(
    '/api/v1/enrollment/secrets',
    {
      schema: {
        tags: ['enrollment'],
        summary: 'Enrollment secrets in your scope (never the secret itself)',
        querystring: Type.Object({ ...PageQuery, ou_id: Type.Optional(IdString) }, { additionalProperties: false }),
        response: { 200: Page(Type.Ref(SecretOut)), ...errorResponses },
      },
    },
    async (req) => {
      const page = await d.enrollment.listSecrets(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return { items: page.items.map(publicSecret), next_cursor: page.next_cursor };
    },
  );

  app.delete(
    '/api/v1/enrollment/secrets/:id',
    {
      schema: {
        tags: ['enrollment'],
        summary: 'Revoke an enrollment secret',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.enrollment.revokeSecret(req.principal, req.params.id, actorOf(req));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/enrollment/enroll',
    {
      config: { public: true },
      schema: {
        tags: ['agent'],
        summary: 'Enroll a device with an enrollment secret; returns its per-device credential (shown once)',
        security: [],
        body: EnrollRequest,
        response: { 201: EnrollResponse, ...errorResponses, 426: Type.Ref('ErrorBody') },
      },
    },
    async (req, reply) => {
      assertApiVersion(req);
      const r = await d.enrollment.enroll(req.body, req.ip);
      return reply.code(201).send({
        message: 'Device enrolled successfully',
        ou_id: Number(r.ou_id),
        device_id: Number(r.device_id),
        device_credential: r.credential,
      });
    },
  );

  app.get(
    '/api/v1/enrollment/config',
    {
      config: { public: true },
      schema: {
        tags: ['agent'],
        summary: 'Config check-in: the effective config of the calling device',
        security: deviceSecurity,
        querystring: Type.Object({ device_serial: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: ConfigResponse, ...errorResponses, 426: Type.Ref('ErrorBody') },
      },
    },
    async (req) => {
      assertApiVersion(req);
      const device = await d.enrollment.authenticateDevice(bearerOf(req));
      return d.enrollment.checkIn(device, req.query.device_serial);
    },
  );

  app.post(
    '/api/v1/enrollment/devices/:device_id/heartbeat',
    {
      config: { public: true },
      schema: {
        tags: ['agent'],
        summary: 'Heartbeat of the calling device',
        security: deviceSecurity,
        params: Type.Object({ device_id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        body: Type.Optional(HeartbeatRequest),
        response: { 200: HeartbeatResponse, ...errorResponses, 426: Type.Ref('ErrorBody') },
      },
    },
    async (req) => {
      assertApiVersion(req);
      const device = await d.enrollment.authenticateDevice(bearerOf(req));
      await d.enrollment.heartbeat(device, req.params.device_id, req.body ?? {});
      return HEARTBEAT_RECORDED;
    },
  );
}
