// Tests: the one error shape for failures that are not the request's fault.
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { errorHandler, toErrorResponse } from './errors.js';

const withCode = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('toErrorResponse', () => {
  it('answers 503 database_unavailable with Retry-After when the database cannot be reached or restarts', () => {
    for (const err of [
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      withCode('read ECONNRESET', 'ECONNRESET'),
      withCode('Connection terminated unexpectedly'),
      withCode('Connection terminated due to connection timeout'),
      withCode('Client has encountered a connection error and is not queryable'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('the database system is in recovery mode', '57P03'),
      withCode('connection failure', '08006'),
      withCode('sorry, too many clients already', '53300'),
    ]) {
      const r = toErrorResponse(err);
      expect({ message: err.message, status: r.status, error: r.body.error, retry: r.headers['retry-after'] }).toEqual({
        message: err.message,
        status: 503,
        error: 'database_unavailable',
        retry: '2',
      });
    }
  });

  it('keeps other database errors as they were: refusals of the input 4xx, the rest 500', () => {
    expect(toErrorResponse(withCode('duplicate key', '23505')).status).toBe(409);
    expect(toErrorResponse(withCode('value too long', '22001')).status).toBe(400);
    expect(toErrorResponse(withCode('deadlock detected', '40P01')).status).toBe(409);
    expect(toErrorResponse(withCode('timeout exceeded when trying to connect')).status).toBe(429);
    const internal = toErrorResponse(withCode('column "x" does not exist', '42703'));
    expect([internal.status, internal.body.error]).toEqual([500, 'internal_error']);
    expect(toErrorResponse(new TypeError('x is undefined')).status).toBe(500);
  });
});

describe('errorHandler', () => {
  it('answers a streamed body that failed before its first byte as plain JSON, without the headers of that body', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(errorHandler);
    app.get('/export', (_req, reply) =>
      reply
        .header('content-encoding', 'gzip')
        .header('content-disposition', 'attachment; filename="x.ndjson"')
        .type('application/x-ndjson')
        .send(
          new Readable({
            read() {
              this.destroy(new Error('the first page failed'));
            },
          }),
        ),
    );
    const res = await app.inject({ method: 'GET', url: '/export' });
    await app.close();
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: 'internal_error', details: { request_id: expect.any(String) } });
  });
});
