// Builds the manager's Fastify app: validation, OpenAPI, error shape, 404/405, auth, routes.
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '@rookery/protocol';
import { Ajv, type FormatDefinition } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import findMyWay from 'find-my-way';
import { AppError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { AuthService } from '../services/auth.js';
import type { AgentPath } from './agent-path.js';
import { errorHandler } from './errors.js';
import { dateTimeFormat } from './formats.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the auth hook on every route not marked `config: { public: true }` */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** route needs no user authentication */
    public?: boolean;
  }
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppOptions {
  /** pino logger; none when omitted */
  logger?: FastifyBaseLogger;
  /** largest accepted request body, bytes. @default DEFAULT_BODY_LIMIT */
  bodyLimit?: number;
  /** requests handled at once before new ones get 429 + Retry-After (queueing more only turns into timeouts; see bench B2). @default 256 */
  maxInFlight?: number;
  /** trust X-Forwarded-For from these proxies (Fastify trustProxy). @default false */
  trustProxy?: boolean | string | string[];
  auth: AuthService;
}

/** Largest request body accepted unless a route says otherwise, bytes (1 MiB). */
export const DEFAULT_BODY_LIMIT = 1_048_576;

/** What an app's raw request handler and `agentPath` share with it beyond Fastify's API. */
export interface AppBase {
  /** tried before Fastify for every request that is not shed (`buildServer` sets the agent path) */
  first?: AgentPath;
  /** compiles a body schema with the app's body Ajv (the one the routes' body validators come from) */
  compileBody: Ajv['compile'];
  /** set when `close()` begins */
  closing: boolean;
}

const bases = new WeakMap<object, AppBase>();

/** The app's `AppBase`. */
export const appBase = (app: App): AppBase => bases.get(app) as AppBase;

/** The token of an `Authorization: Bearer …` header (trimmed), if the request has one. */
export function bearerOf(req: { headers: IncomingHttpHeaders }): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

/** The request id: the caller's X-Request-Id when it is a short token, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

function ajvFor(coerce: boolean) {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats.default(ajv);
  ajv.addFormat('date-time', dateTimeFormat as FormatDefinition<string>);
  return ajv;
}

/** Idle keep-alive connections are closed after this, ms. */
const KEEP_ALIVE_MS = 60_000;

const OVERLOADED = JSON.stringify({
  error: 'overloaded',
  message: 'the manager is busy; retry shortly',
  details: { retry_after_seconds: 1 },
});

/**
 * Load shedding in front of the router: past `max` requests in flight a request is answered 429 +
 * Retry-After at once, before routing, body parsing or hooks (a refusal must cost far less than the
 * work it refuses, or an overload feeds on its own retries; see bench B2). `/healthz` is always served.
 * WebSocket upgrades do not pass here: an open agent stream never holds a slot.
 */
function shedding(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  max: number,
  base: Pick<AppBase, 'first'>,
): (req: IncomingMessage, res: ServerResponse) => void {
  let inFlight = 0;
  return (req, res) => {
    if (inFlight >= max && !req.url?.startsWith('/healthz')) {
      res.writeHead(429, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(OVERLOADED),
        'retry-after': '1',
      });
      res.end(OVERLOADED);
      // the body is not read; a keep-alive connection stays usable because Node discards it
      return;
    }
    inFlight++;
    // 'close' fires for finished and aborted requests alike
    res.once('close', () => inFlight--);
    if (!base.first?.(req, res)) handler(req, res);
  };
}

/** Creates the app with the cross-cutting behaviour; routes are added by the caller, then `ready()`. */
export async function createApp(o: AppOptions): Promise<App> {
  // body: exact types, unknown fields rejected; query/params: strings coerced to the declared types
  const bodyAjv = ajvFor(false);
  const paramAjv = ajvFor(true);
  const base: AppBase = { compileBody: bodyAjv.compile.bind(bodyAjv), closing: false };
  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    // why: Node's connection checker (every 30 s) closes a connection whose next request has not been
    // parsed within headersTimeout of the previous one's start; on a busy replica requests wait in
    // socket buffers, so with the defaults (60 s, below Fastify's 72 s keep-alive) a startup burst lost
    // thousands of in-flight requests at each check (bench B2). Idle connections now close at 60 s,
    // before the checker would count them; slow headers still time out.
    keepAliveTimeout: KEEP_ALIVE_MS,
    serverFactory: (handler) =>
      createServer(
        { keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 30_000, requestTimeout: 300_000 },
        shedding(handler, o.maxInFlight ?? 256, base),
      ),
    bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: o.trustProxy ?? false,
    genReqId: requestId,
    routerOptions: { maxParamLength: 200 },
    // router-level failures (over-long params, bad URL encoding) get the one error shape too
    frameworkErrors: (err, req, reply) => errorHandler(err, req as never, reply as never),
  }).withTypeProvider<TypeBoxTypeProvider>();
  bases.set(app, base);
  app.addHook('preClose', (done) => {
    base.closing = true;
    done();
  });

  app.setValidatorCompiler(
    ({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema as object) as never,
  );
  app.setErrorHandler(errorHandler);

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  // 405 needs to know which methods a path has: mirror every route into a bare router
  const methods = findMyWay();
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) {
      try {
        methods.on(m as never, route.url, () => {});
      } catch {
        // duplicate registrations (HEAD for GET) are fine
      }
    }
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => methods.find(m as never, path));
    if (allowed.length) {
      void reply.header('allow', allowed.join(', '));
      throw new AppError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`, { allowed });
    }
    throw new AppError(404, 'not_found', `no route ${req.method} ${path}`);
  });

  app.addSchema(ErrorBody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Rookery manager API', version: '1', description: 'Control plane for a fleet of network agents.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'JWT access token or API key' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          deviceCredential: {
            type: 'http',
            scheme: 'bearer',
            description: 'per-device credential rkd_… from enrollment',
          },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.public || !req.routeOptions.url || req.url.startsWith('/api/docs')) return;
    const apiKey = req.headers['x-api-key'];
    req.principal = await o.auth.authenticate(bearerOf(req), typeof apiKey === 'string' ? apiKey : undefined);
  });
  return app;
}
