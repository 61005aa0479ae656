// /api/v1/auth: login, refresh, logout, me, password change, TOTP MFA.
import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import type { Deps } from '../deps.js';
import { actorOf } from '../deps.js';
import { errorResponses } from '../schemas/common.js';
import { UserOut } from './users.js';
import { publicUser } from '../../services/users.js';

const Tokens = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds until the access token expires' }),
});
const Password = Type.String({ minLength: 1, maxLength: 1024 });

export function authRoutes(app: App, d: Deps): void {
  app.post(
    '/api/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in with username and password (and TOTP when enabled)',
        security: [],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 128 }),
            password: Password,
            totp: Type.Optional(Type.String({ maxLength: 16 })),
            recovery_code: Type.Optional(Type.String({ maxLength: 32 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Tokens, ...errorResponses },
      },
    },
    async (req) => d.auth.login(req.body, req.ip),
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for new tokens (rotates; a reused token revokes the login)',
        security: [],
        body: Type.Object(
          { refresh_token: Type.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 200: Tokens, ...errorResponses },
      },
    },
    async (req) => d.auth.refresh(req.body.refresh_token),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke this access token and its refresh tokens',
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.auth.logout(req.principal);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The calling user', response: { 200: Type.Ref(UserOut), ...errorResponses } },
    },
    async (req) => publicUser(await d.users.get(req.principal, req.principal.userId)),
  );

  app.post(
    '/api/v1/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change your password; every token issued before is revoked',
        body: Type.Object({ current_password: Password, new_password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.auth.changePassword(req.principal, req.body.current_password, req.body.new_password, actorOf(req));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/totp/setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start TOTP enrolment: secret, otpauth URI and QR code (inactive until verified)',
        response: {
          200: Type.Object({ otpauth_uri: Type.String(), qr_code_data_url: Type.String(), secret: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async (req) => d.auth.totpSetup(req.principal),
  );

  app.post(
    '/api/v1/auth/totp/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Activate TOTP with a first code; returns recovery codes once',
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ recovery_codes: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (req) => d.auth.totpVerify(req.principal, req.body.code, actorOf(req)),
  );

  app.post(
    '/api/v1/auth/totp/disable',
    {
      schema: {
        tags: ['auth'],
        summary: 'Disable TOTP (needs the password and a current code)',
        body: Type.Object(
          { password: Password, code: Type.String({ pattern: '^[0-9]{6}$' }) },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await d.auth.totpDisable(req.principal, req.body.password, req.body.code, actorOf(req));
      return reply.code(204).send(null);
    },
  );
}
