// The HTTP request handler: CORS, preflight, /healthz, rate limit, authentication, routing.
import { type AuthConfig, authenticate } from '../auth.js';
import type { ConcurrencyGate, RateLimiter } from '../limits.js';
import type { Limits } from '../options.js';
import { applyCors, type Req, type Res, sendError, sendJson } from './respond.js';
import { delayed, download, echo, redirect, type Route, type RouteContext, status, upload } from './routes.js';
import { info, ping, speedtestDownload, speedtestUpload } from './speedtest.js';

export interface AppOptions {
  limits: Limits;
  gate: ConcurrencyGate;
  rate: RateLimiter;
  auth?: AuthConfig;
  corsOrigins: readonly string[];
  shutdown: AbortSignal;
  version: string;
  startedAt: number;
}

const GET = ['GET', 'HEAD'];
const ANY = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Builds the (req, res) handler used by both the HTTP/1.1 and the h2 server. */
export function createHandler(opts: AppOptions): (req: Req, res: Res) => void {
  const routes = new Map<string, { methods: string[]; route: Route }>([
    ['/echo', { methods: ANY, route: echo }],
    ['/download', { methods: GET, route: download }],
    ['/upload', { methods: ['POST', 'PUT'], route: upload }],
    ['/delay', { methods: ANY, route: delayed }],
    ['/status', { methods: ANY, route: status }],
    ['/redirect', { methods: ANY, route: redirect }],
    ['/speedtest/download', { methods: GET, route: speedtestDownload }],
    ['/speedtest/upload', { methods: ['POST', 'PUT'], route: speedtestUpload }],
    ['/speedtest/ping', { methods: GET, route: ping }],
    ['/speedtest/info', { methods: GET, route: info(opts.version, opts.startedAt) }],
  ]);
  const ctx: RouteContext = { limits: opts.limits, gate: opts.gate, shutdown: opts.shutdown };

  async function handle(req: Req, res: Res): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://testserver.invalid');
    applyCors(req, res, opts.corsOrigins);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return;
    }
    if (url.pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok', runningTests: opts.gate.running });
      return;
    }
    const wait = opts.rate.take(req.socket.remoteAddress ?? 'unknown');
    if (wait > 0) {
      const retry = String(Math.max(1, Math.ceil(wait)));
      sendError(res, 429, 'rate_limited', 'too many requests', {}, { 'retry-after': retry });
      return;
    }
    if (opts.auth) {
      const outcome = authenticate(opts.auth, req.headers);
      if (!outcome.ok) {
        sendError(res, 401, 'unauthorized', outcome.reason, {}, { 'www-authenticate': 'Bearer' });
        return;
      }
    }
    const key = url.pathname.startsWith('/status/') ? '/status' : url.pathname;
    const entry = routes.get(key);
    if (!entry) {
      sendError(res, 404, 'not_found', `no route ${url.pathname}`);
      return;
    }
    if (!entry.methods.includes(req.method ?? 'GET')) {
      sendError(res, 405, 'method_not_allowed', `${req.method} not allowed on ${url.pathname}`);
      return;
    }
    await entry.route(req, res, url, ctx);
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof RangeError) sendError(res, 400, 'validation_failed', err.message);
      else sendError(res, 500, 'internal', 'internal error');
    });
  };
}
