// The agent's three frequent requests (heartbeat, config check-in, result upload) answered on node:http
// directly, without Fastify's per-request machinery (ADR 9). They use the routes' own validators (the
// app's body Ajv), response schemas, error shape (`toErrorResponse`), request ids, metrics and log lines.
// The Fastify routes stay registered: they document the API and answer every request this path declines,
// which is anything unusual (no device credential, another API version, an odd content type, query or
// path, a body without a length or over the limit, a closing server): those take the full path unchanged.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  AGENT_API_VERSION,
  AGENT_PATHS,
  ConfigResponse,
  DEVICE_CREDENTIAL_PREFIX,
  HeartbeatRequest,
  HeartbeatResponse,
  MAX_UPLOAD_BYTES,
  RESULTS_UPLOAD_PATH,
  UploadRequest,
  UploadResponse,
} from '@rookery/protocol';
import type { TSchema } from '@sinclair/typebox';
import type { ErrorObject } from 'ajv';
import fastJson from 'fast-json-stringify';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../domain/errors.js';
import { bearerOf } from './app.js';
import type { Deps } from './deps.js';
import { toErrorResponse } from './errors.js';

/** Answers `req` and returns true, or returns false and leaves it untouched for Fastify. */
export type AgentPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What the app gives the path: the same parsers, validators, ids and metrics its routes use. */
export interface AgentPathOptions {
  deps: Deps;
  log?: FastifyBaseLogger;
  /** the app's body limit, bytes (uploads have their own, MAX_UPLOAD_BYTES) */
  bodyLimit: number;
  /** Fastify's JSON body parser (`getDefaultJsonParser`), so bad bodies fail with the same errors */
  parseJson(req: IncomingMessage, body: string, done: (err: Error | null, value?: unknown) => void): void;
  /** the app's body validator compiler */
  compileBody(schema: TSchema): ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
  /** the app's request id (X-Request-Id when valid, else a UUID) */
  requestId(req: IncomingMessage): string;
  /** records a finished request as the metrics hooks do */
  observe(method: string, route: string, status: number, seconds: number): void;
  /** counts an answered upload as the metrics hooks do */
  countUpload(received: number, stored: number): void;
  /** true once the app is closing: every request goes to Fastify, which answers 503 */
  closing(): boolean;
}

const HEARTBEAT = /^\/api\/v1\/enrollment\/devices\/([1-9][0-9]{0,15})\/heartbeat$/;
const HEARTBEAT_ROUTE = '/api/v1/enrollment/devices/:device_id/heartbeat';
const CONFIG_ROUTE = AGENT_PATHS.config;
const CONFIG_PREFIX = `${CONFIG_ROUTE}?device_serial=`;
/** a serial that needs no URL decoding; any other goes through Fastify's query parser */
const PLAIN_SERIAL = /^[A-Za-z0-9._~-]{1,256}$/;
const UPLOAD_ROUTE = RESULTS_UPLOAD_PATH;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

/** The message Fastify gives a failed schema (its `defaultSchemaErrorFormatter`). */
function schemaErrorMessage(errors: readonly ErrorObject[], dataVar: string): string {
  return errors.map((e) => `${dataVar}${e.instancePath || ''} ${e.message ?? ''}`).join(', ');
}

/** 422 for an upload batch that fails the schema: the agent sets it aside instead of retrying it. */
export const invalidBatch = (schemaMessage: string) =>
  new AppError(422, 'invalid_batch', `batch does not match the upload schema: ${schemaMessage}`);

/** The answer to a recorded heartbeat. */
export const HEARTBEAT_RECORDED = { message: 'Heartbeat recorded' } as const;

/** Whether the request names an agent API version other than this manager's (no header: the seed's clients, fine). */
export function speaksOtherApiVersion(req: { headers: IncomingHttpHeaders }): boolean {
  const v = req.headers['x-api-version'];
  return v !== undefined && String(v) !== String(AGENT_API_VERSION);
}

/** Whether the headers announce a JSON body of known length within `limit`. */
function jsonBodyWithin(req: IncomingMessage, limit: number): boolean {
  const h = req.headers;
  const length = h['content-length'];
  return (
    JSON_TYPE.test(h['content-type'] ?? '') &&
    h['transfer-encoding'] === undefined &&
    length !== undefined &&
    /^[1-9][0-9]{0,9}$/.test(length) &&
    Number(length) <= limit
  );
}

const INFO_OR_FINER = new Set(['trace', 'debug', 'info']);

/**
 * The path. Written for a low cost per request: the work per request kind is one async function, and
 * no closures are made per request beyond the body's two stream listeners.
 */
export function agentPath(o: AgentPathOptions): AgentPath {
  const { enrollment, results } = o.deps;
  const validHeartbeat = o.compileBody(HeartbeatRequest);
  const validUpload = o.compileBody(UploadRequest);
  const heartbeatJson = fastJson(HeartbeatResponse);
  const configJson = fastJson(ConfigResponse);
  const uploadJson = fastJson(UploadResponse);

  // Fastify's parser answers through a callback, synchronously
  let parsed: unknown;
  let parseError: Error | null = null;
  const onParsed = (err: Error | null, value?: unknown) => {
    parseError = err;
    parsed = value;
  };
  function parse(req: IncomingMessage, text: string): unknown {
    parseError = null;
    o.parseJson(req, text, onParsed);
    if (parseError) throw parseError;
    return parsed;
  }

  async function heartbeat(req: IncomingMessage, bearer: string, deviceId: number, text: string): Promise<string> {
    const body = parse(req, text);
    if (!validHeartbeat(body)) {
      const errors = validHeartbeat.errors ?? [];
      throw Object.assign(new Error(schemaErrorMessage(errors, 'body')), {
        validation: errors,
        validationContext: 'body',
      });
    }
    await enrollment.heartbeat(await enrollment.authenticateDevice(bearer), deviceId, body as HeartbeatRequest);
    return heartbeatJson(HEARTBEAT_RECORDED);
  }

  async function upload(req: IncomingMessage, bearer: string, text: string): Promise<string> {
    const body = parse(req, text);
    const device = await enrollment.authenticateDevice(bearer);
    if (!validUpload(body)) throw invalidBatch(schemaErrorMessage(validUpload.errors ?? [], 'body'));
    const batch = body as UploadRequest;
    const r = await results.upload(device, batch.results);
    o.countUpload(batch.results.length, r.stored);
    return uploadJson(r);
  }

  async function config(bearer: string, serial: string): Promise<string> {
    return configJson(await enrollment.checkIn(await enrollment.authenticateDevice(bearer), serial));
  }

  /** Sends what `pending` gives (or its error in the one shape), with the request id, metrics and log lines. */
  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    route: string,
    t0: number,
    pending: Promise<string>,
  ) {
    const id = o.requestId(req);
    const log = o.log && INFO_OR_FINER.has(o.log.level) ? o.log.child({ reqId: id }) : undefined;
    log?.info(
      {
        req: {
          method: req.method,
          url: req.url,
          host: req.headers.host,
          remoteAddress: req.socket.remoteAddress,
          remotePort: req.socket.remotePort,
        },
      },
      'incoming request',
    );
    let status = 200;
    let body: string;
    let headers: Record<string, string> | undefined;
    try {
      body = await pending;
    } catch (err) {
      const r = toErrorResponse(err);
      if (r.status >= 500) (log ?? o.log?.child({ reqId: id }))?.error({ err }, 'request failed');
      else log?.info({ code: r.body.error, status: r.status }, 'request rejected');
      status = r.status;
      headers = r.headers;
      body = JSON.stringify({ ...r.body, details: { ...r.body.details, request_id: id } });
    }
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': id,
    });
    res.end(body);
    const ms = performance.now() - t0;
    o.observe(req.method as string, route, status, ms / 1000);
    log?.info({ res: { statusCode: status }, responseTime: ms }, 'request completed');
  }

  /** A failure while sending (not of the request: those are answered): logged, never an unhandled rejection. */
  const lost = (err: unknown) => o.log?.error({ err }, 'agent path: could not send the answer');

  return (req, res) => {
    if (o.closing()) return false;
    const t0 = performance.now();
    const bearer = bearerOf(req);
    if (!bearer?.startsWith(DEVICE_CREDENTIAL_PREFIX) || speaksOtherApiVersion(req)) return false;
    const url = req.url ?? '';

    if (req.method === 'GET') {
      if (!url.startsWith(CONFIG_PREFIX)) return false;
      const serial = url.slice(CONFIG_PREFIX.length);
      if (!PLAIN_SERIAL.test(serial)) return false;
      answer(req, res, CONFIG_ROUTE, t0, config(bearer, serial)).catch(lost);
      return true;
    }
    if (req.method !== 'POST') return false;

    let deviceId = 0;
    if (url === UPLOAD_ROUTE) {
      if (!jsonBodyWithin(req, MAX_UPLOAD_BYTES)) return false;
    } else {
      const m = HEARTBEAT.exec(url);
      deviceId = Number(m?.[1]);
      if (!m || deviceId > Number.MAX_SAFE_INTEGER || !jsonBodyWithin(req, o.bodyLimit)) return false;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (deviceId === 0) answer(req, res, UPLOAD_ROUTE, t0, upload(req, bearer, text)).catch(lost);
      else answer(req, res, HEARTBEAT_ROUTE, t0, heartbeat(req, bearer, deviceId, text)).catch(lost);
    });
    return true;
  };
}
