// Turns every failure (ours, Fastify's, PostgreSQL's) into `{error, message, details}` with a 4xx
// where the client is at fault; never leaks a stack trace.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.js';

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
}

const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request'],
};

/** node-pg's messages when a connection broke or cannot be made (they carry no code). */
const LOST_CONNECTION = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];
/** headers that describe a body (an export's) rather than the error, always JSON, that may go out in its place */
const STREAM_BODY_HEADERS = ['content-type', 'content-encoding', 'content-disposition'];
const UNREACHABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * Whether `e` says the database cannot be reached or is restarting (not that it refused this input):
 * SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down, starting up, in recovery),
 * 53300 (too many connections), a socket error, or node-pg's lost-connection messages.
 */
export function isDatabaseUnavailable(e: { code?: unknown; message?: unknown }): boolean {
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  if (UNREACHABLE_SOCKET.has(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return LOST_CONNECTION.some((m) => message.startsWith(m));
}

export function toErrorResponse(err: unknown): {
  status: number;
  body: { error: string; message: string; details: Record<string, unknown> };
  headers: Record<string, string>;
} {
  if (err instanceof AppError) {
    return {
      status: err.status,
      body: { error: err.code, message: err.message, details: err.details },
      headers: err.headers,
    };
  }
  const fe = err as FastifyError & PgError;
  if (fe.validation) {
    return {
      status: 400,
      body: {
        error: 'validation_failed',
        message:
          `${fe.validationContext ?? 'request'} ${fe.validation[0]?.instancePath || ''} ${fe.validation[0]?.message ?? 'is invalid'}`
            .replace(/\s+/g, ' ')
            .trim(),
        details: {
          part: fe.validationContext,
          errors: fe.validation.map((v) => ({ path: v.instancePath, message: v.message, params: v.params })),
        },
      },
      headers: {},
    };
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return { status: known[0], body: { error: known[1], message: fe.message, details: {} }, headers: {} };
  if (err instanceof SyntaxError)
    return {
      status: 400,
      body: { error: 'invalid_json', message: 'body is not valid JSON', details: {} },
      headers: {},
    };
  // PostgreSQL: input the schema let through but the database refuses
  if (typeof fe.code === 'string' && /^[0-9A-Z]{5}$/.test(fe.code)) {
    if (fe.code === '23505')
      return {
        status: 409,
        body: { error: 'conflict', message: 'already exists', details: { constraint: fe.constraint } },
        headers: {},
      };
    if (fe.code === '23503')
      return {
        status: 409,
        body: {
          error: 'conflict',
          message: 'still referenced or refers to a missing object',
          details: { constraint: fe.constraint },
        },
        headers: {},
      };
    if (fe.code.startsWith('22'))
      return {
        status: 400,
        body: { error: 'bad_request', message: 'value out of range or malformed', details: {} },
        headers: {},
      };
    if (fe.code === '40001' || fe.code === '40P01')
      return {
        status: 409,
        body: { error: 'conflict', message: 'concurrent change; retry', details: {} },
        headers: { 'retry-after': '1' },
      };
  }
  // overload, not a fault: the pool had no free connection in time
  if (fe.message?.startsWith('timeout exceeded when trying to connect')) {
    return {
      status: 429,
      body: { error: 'overloaded', message: 'the manager is busy; retry shortly', details: { retry_after_seconds: 2 } },
      headers: { 'retry-after': '2' },
    };
  }
  // a fault of ours, not of the request: said plainly, and retryable (agents keep their spool and back off)
  if (isDatabaseUnavailable(fe)) {
    return {
      status: 503,
      body: {
        error: 'database_unavailable',
        message: 'the database cannot be reached right now; retry shortly',
        details: { retry_after_seconds: 2 },
      },
      headers: { 'retry-after': '2' },
    };
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
  if (status < 500) return { status, body: { error: 'bad_request', message: fe.message, details: {} }, headers: {} };
  return {
    status: 500,
    body: { error: 'internal_error', message: 'internal error; see the manager log for this request id', details: {} },
    headers: {},
  };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const r = toErrorResponse(err);
  if (r.status >= 500) req.log.error({ err }, 'request failed');
  else req.log.info({ code: r.body.error, status: r.status }, 'request rejected');
  // a streamed body that failed before its first byte: Fastify set its headers on the response already, and the
  // error that goes out instead is plain JSON, not the compressed attachment they announce
  for (const name of STREAM_BODY_HEADERS) {
    reply.removeHeader(name);
    if (!reply.raw.headersSent) reply.raw.removeHeader(name);
  }
  void reply
    .code(r.status)
    .headers(r.headers)
    .send({ ...r.body, details: { ...r.body.details, request_id: req.id } });
}
