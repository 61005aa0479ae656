// In-process manager for tests: a fresh database, the real services and routes, requests injected into the
// HTTP server's own request handler (load shedding, the agent path, then Fastify), as a socket would deliver them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import inject from 'light-my-request';
import pino from 'pino';
import type { App } from '../http/app.js';
import type { Deps } from '../http/deps.js';
import { buildServer } from '../http/server.js';
import { type AuthSettings, DEFAULT_AUTH_SETTINGS } from '../services/context.js';
import { createServices, type ServiceOptions } from '../services/index.js';
import { createTestDatabase, type TestDatabase } from './test-db.js';

export const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };
export const TEST_SECRET_KEY = 'test-secret-key-0123456789-abcdefghijklmnop';

export interface Reply {
  status: number;
  body: any;
  /** the body as sent */
  text: string;
  headers: LightMyRequestResponse['headers'];
}

export interface Harness {
  app: App;
  /** the HTTP server's request handler: load shedding, the agent path, then Fastify (what `req` injects into) */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  deps: Deps;
  tdb: TestDatabase;
  /** JSON request; `token` goes into `Authorization: Bearer` */
  req(
    method: string,
    url: string,
    o?: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string },
  ): Promise<Reply>;
  /** logs in and returns the access token; throws when login fails */
  login(username: string, password: string, extra?: Record<string, string>): Promise<string>;
  adminToken(): Promise<string>;
  /** the manager's last 20 error-level log lines (pino JSON): why a request answered 5xx */
  loggedErrors(): string[];
  /** creates a user through the API as admin and returns its id */
  createUser(username: string, role: string, ouId: number | null, password?: string): Promise<number>;
  createOu(name: string, parentId?: number | null): Promise<number>;
  /** creates a secret for the OU (as admin) and returns it */
  createSecret(ouId: number, o?: { max_uses?: number; expires_at?: string }): Promise<{ id: number; secret: string }>;
  /** enrolls a device with the seed's body; returns the raw reply */
  enroll(secret: string, serial: string, extra?: Record<string, unknown>): Promise<Reply>;
  close(): Promise<void>;
}

export async function createHarness(auth: Partial<AuthSettings> = {}, services: ServiceOptions = {}): Promise<Harness> {
  const tdb = await createTestDatabase();
  const ctx = { db: tdb.db, secretKey: TEST_SECRET_KEY, auth: { ...DEFAULT_AUTH_SETTINGS, ...auth } };
  // tests read their own writes: no fleet-summary cache unless a test asks for one
  const deps = createServices(
    ctx,
    { database: async () => true, jobs: () => ({ leader: false, jobs: {} }) },
    { fleetSummaryMaxAgeMs: 0, ...services },
  );
  await deps.users.bootstrapAdmin(ADMIN.username, ADMIN.password);
  // the manager's errors, kept for a test to show when it meets a 5xx; ROOKERY_TEST_LOG=<pino level> also writes the
  // log to stderr
  const level = process.env.ROOKERY_TEST_LOG as pino.Level | undefined;
  const errors: string[] = [];
  const kept = {
    write(line: string) {
      errors.push(line.trimEnd());
      if (errors.length > 20) errors.shift();
    },
  };
  const streams: pino.StreamEntry[] = [{ level: 'error', stream: kept }];
  if (level) streams.push({ level, stream: process.stderr });
  const app = await buildServer(deps, { logger: pino({ level: level ?? 'error' }, pino.multistream(streams)) });
  const handler = app.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  let adminToken: string | undefined;

  const h: Harness = {
    app,
    handler,
    deps,
    tdb,
    async req(method, url, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let payload: string | undefined = o.rawBody;
      if (o.body !== undefined) {
        payload = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await inject(handler, { method: method as never, url, headers, payload });
      let body: unknown = res.body;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        // not JSON (metrics, docs)
      }
      return { status: res.statusCode, body, text: res.body, headers: res.headers };
    },
    async login(username, password, extra = {}) {
      const r = await h.req('POST', '/api/v1/auth/login', { body: { username, password, ...extra } });
      if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.access_token as string;
    },
    loggedErrors: () => [...errors],
    async adminToken() {
      adminToken ??= await h.login(ADMIN.username, ADMIN.password);
      return adminToken;
    },
    async createUser(username, role, ouId, password = `${username}-password-123`) {
      const r = await h.req('POST', '/api/v1/users', {
        token: await h.adminToken(),
        body: { username, password, role, ou_id: ouId === null ? null : String(ouId) },
      });
      if (r.status !== 201) throw new Error(`create user failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as number;
    },
    async createOu(name, parentId = null) {
      const r = await h.req('POST', '/api/v1/ous', {
        token: await h.adminToken(),
        body: { name, parent_id: parentId },
      });
      if (r.status !== 201) throw new Error(`create OU failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as number;
    },
    async createSecret(ouId, o = {}) {
      const r = await h.req('POST', '/api/v1/enrollment/secrets', {
        token: await h.adminToken(),
        body: { ou_id: ouId, name: `secret-${ouId}`, ...o },
      });
      if (r.status !== 201) throw new Error(`create secret failed: ${r.status} ${JSON.stringify(r.body)}`);
      return { id: r.body.id as number, secret: r.body.secret as string };
    },
    enroll(secret, serial, extra = {}) {
      return h.req('POST', '/api/v1/enrollment/enroll', {
        body: {
          secret,
          device_serial: serial,
          device_hostname: `host-${serial}`,
          device_os: 'Linux',
          device_os_version: '6.1.0',
          client_type: 'containerClient',
          client_version: '4.0.0',
          ...extra,
        },
      });
    },
    async close() {
      await app.close();
      await tdb.drop();
    },
  };
  return h;
}

/** Asserts the one error shape; returns the body for further checks. */
export function expectErrorShape(r: Reply): { error: string; message: string; details: Record<string, unknown> } {
  const b = r.body;
  if (
    !b ||
    typeof b.error !== 'string' ||
    typeof b.message !== 'string' ||
    typeof b.details !== 'object' ||
    b.details === null
  ) {
    throw new Error(`not the error shape (status ${r.status}): ${JSON.stringify(b)}`);
  }
  return b;
}
