// Results: batch upload from agents (seed 003 path) and the query API (series, latest, multi-vantage).
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { DEVICE_CREDENTIAL_PREFIX, MAX_UPLOAD_BYTES, UploadRequest, UploadResponse } from '@rookery/protocol';
import type { FastifyRequest } from 'fastify';
import { type DeviceRow, findDevice } from '../../db/queries/devices.js';
import { badRequest, notFound } from '../../domain/errors.js';
import {
  acceptsGzip,
  CSV_COLUMNS,
  EXPORT_MEDIA_TYPES,
  type ExportFormat,
  exportLines,
  exportPreamble,
} from '../../domain/result-export.js';
import { writeScope } from '../../services/ous.js';
import { LATEST_CURSOR_MAX } from '../../services/results.js';
import { Type } from '@sinclair/typebox';
import { invalidBatch } from '../agent-path.js';
import { type App, bearerOf } from '../app.js';
import type { Deps } from '../deps.js';
import { errorResponses, IdString, PageQuery, Timestamp } from '../schemas/common.js';
import { assertApiVersion } from './enrollment.js';

const Kind = Type.Union(['http', 'tcp', 'udp', 'dns', 'icmp', 'traceroute'].map((k) => Type.Literal(k)));
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
/** The parameters of a raw results query: listing and export. */
const RawFilters = {
  device_id: IdString,
  kind: Type.Optional(Kind),
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  ok: Type.Optional(Type.Boolean({ description: 'false: failed results only; true: succeeded only' })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
};

/**
 * The device an upload is for: the device credential's own, or for a user's JWT / API key the
 * `device_id` it names, which must lie in the user's write scope.
 */
async function uploader(d: Deps, req: FastifyRequest): Promise<DeviceRow> {
  const bearer = bearerOf(req);
  const apiKey = req.headers['x-api-key'];
  if (bearer?.startsWith(DEVICE_CREDENTIAL_PREFIX) || (bearer === undefined && apiKey === undefined)) {
    return d.enrollment.authenticateDevice(bearer);
  }
  const p = await d.auth.authenticate(bearer, typeof apiKey === 'string' ? apiKey : undefined);
  const deviceId = (req.query as { device_id?: string }).device_id;
  if (!deviceId) throw badRequest('a user upload names the device: ?device_id=', { field: 'device_id' });
  const device = await findDevice(d.ctx.db, writeScope(p), deviceId);
  if (!device) throw notFound('device');
  return device;
}

export function resultRoutes(app: App, d: Deps): void {
  app.post(
    '/api/v1/results/upload',
    {
      config: { public: true },
      bodyLimit: MAX_UPLOAD_BYTES,
      schema: {
        tags: ['agent'],
        summary:
          'Upload a batch of results; idempotent by result id. Agents use their device credential; user-run clients (seed 003) a JWT or API key plus ?device_id of a device they administer',
        security: [{ deviceCredential: [] }, { bearer: [] }, { apiKey: [] }],
        querystring: Type.Object({ device_id: Type.Optional(IdString) }, { additionalProperties: false }),
        body: UploadRequest,
        response: { 200: UploadResponse, ...errorResponses, 422: Type.Ref('ErrorBody'), 426: Type.Ref('ErrorBody') },
      },
      // a batch that fails the schema can never succeed: 422, so the agent sets it aside
      attachValidation: true,
    },
    async (req, reply) => {
      assertApiVersion(req);
      // a bad query string is the caller's mistake (400), not a batch to set aside (422)
      if (req.validationError?.validationContext === 'querystring') throw req.validationError;
      const device = await uploader(d, req);
      if (req.validationError) throw invalidBatch(req.validationError.message);
      const r = await d.results.upload(device, req.body.results);
      // read by the metrics hook
      (reply as unknown as { rkStored?: number }).rkStored = r.stored;
      return r;
    },
  );

  app.get(
    '/api/v1/results/series',
    {
      schema: {
        tags: ['results'],
        summary: 'Time series of one device × kind × target; granularity picked from the range unless given',
        querystring: Type.Object(
          {
            device_id: IdString,
            kind: Kind,
            target: Type.String({ minLength: 1, maxLength: 2048 }),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
            granularity: Type.Optional(Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            granularity: Type.String(),
            points: Type.Array(
              Type.Object({
                t: Timestamp,
                count: Type.Integer(),
                ok_ratio: Type.Number(),
                latency_avg_ms: NullableNumber,
                latency_min_ms: NullableNumber,
                latency_max_ms: NullableNumber,
                latency_p50_ms: NullableNumber,
                latency_p95_ms: NullableNumber,
                latency_p99_ms: NullableNumber,
                jitter_avg_ms: NullableNumber,
                loss_avg_pct: NullableNumber,
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => d.results.series(req.principal, req.query),
  );

  app.get(
    '/api/v1/results',
    {
      schema: {
        tags: ['results'],
        summary:
          'Raw results of one device, newest first: every field the agent reported, metrics included (traceroute hops, DNS answers, HTTP timings). Default range: the last 24 h',
        querystring: Type.Object(
          {
            ...PageQuery,
            ...RawFilters,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                device_id: Type.Integer(),
                kind: Type.String(),
                target: Type.String(),
                started_at: Timestamp,
                duration_ms: Type.Number(),
                ok: Type.Boolean(),
                error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
                latency_ms: NullableNumber,
                jitter_ms: NullableNumber,
                loss_pct: NullableNumber,
                metrics: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
            next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const page = await d.results.raw(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return {
        items: page.items.map(({ error_code, error_message, ...r }) => ({
          ...r,
          device_id: Number(r.device_id),
          started_at: r.started_at.toISOString(),
          error: error_code === null ? null : { code: error_code, message: error_message ?? '' },
        })),
        next_cursor: page.next_cursor,
      };
    },
  );

  app.get(
    '/api/v1/results/export',
    {
      schema: {
        tags: ['results'],
        summary:
          'Every raw result in a range (default: the last 24 h) of one device (device_id), oldest first, or of every device of an OU subtree in your scope (ou_id), device by device, streamed as NDJSON (one object per line, as the items of GET /api/v1/results) or CSV with a header. Filters as GET /api/v1/results',
        description: `At most 4 exports stream at once per manager process (429 with Retry-After beyond). A failure after the first rows leaves the response cut short (no final chunk), never a complete-looking file. Sent gzip-compressed when Accept-Encoding allows it. CSV columns: ${CSV_COLUMNS.join(', ')}; metrics as JSON text; text an agent reported that starts with = + - @ or a tab or carriage return gets a leading ' so that spreadsheets do not run it as a formula.`,
        querystring: Type.Object(
          {
            ...RawFilters,
            device_id: Type.Optional(IdString),
            ou_id: Type.Optional(IdString),
            format: Type.Optional(
              Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { description: 'default ndjson' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'the results, streamed',
            content: {
              'application/x-ndjson': { schema: Type.String() },
              'text/csv': { schema: Type.String() },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const format: ExportFormat = req.query.format ?? 'ndjson';
      const exp = await d.results.startExport(req.principal, req.query);
      async function* body() {
        const preamble = exportPreamble(format);
        if (preamble) yield preamble;
        for await (const page of exp.pages) yield exportLines(format, page);
      }
      const stream = Readable.from(body());
      // the turn ends with the stream: after the last row, or when the client went away or a page failed
      stream.once('close', exp.close);
      stream.once('error', (err) => req.log.error({ err }, 'results export cut short'));
      exp.signal.addEventListener('abort', () => stream.destroy(new Error('the manager is shutting down')), {
        once: true,
      });
      const gzip = acceptsGzip(req.headers['accept-encoding']);
      // level 1: compresses several times faster than the rows are read, and takes most of the size off; an
      // error on either side destroys both (pipeline), so a cut export stays cut when compressed
      const payload = gzip ? pipeline(stream, createGzip({ level: 1 }), () => {}) : stream;
      if (gzip) reply.header('content-encoding', 'gzip');
      const subject = req.query.device_id ? `device-${req.query.device_id}` : `ou-${req.query.ou_id}`;
      const stamp = (t: Date) => t.toISOString().replace(/[-:]|\.\d{3}/g, '');
      return reply
        .type(EXPORT_MEDIA_TYPES[format])
        .header(
          'content-disposition',
          `attachment; filename="results-${subject}-${stamp(exp.since)}-${stamp(exp.until)}.${format}"`,
        )
        .header('vary', 'accept-encoding')
        .send(payload);
    },
  );

  app.get(
    '/api/v1/results/latest',
    {
      schema: {
        tags: ['results'],
        summary: 'Latest result per device × kind × target in your scope; filter by target for the multi-vantage view',
        querystring: Type.Object(
          {
            ...PageQuery,
            // the cursor carries the last row's target (up to 2048 bytes, base64url)
            cursor: Type.Optional(
              Type.String({ maxLength: LATEST_CURSOR_MAX, description: 'next_cursor of the previous page' }),
            ),
            device_id: Type.Optional(IdString),
            ou_id: Type.Optional(IdString),
            kind: Type.Optional(Kind),
            target: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                device_id: Type.Integer(),
                hostname: Type.String(),
                kind: Type.String(),
                target: Type.String(),
                result_id: Type.String(),
                started_at: Timestamp,
                ok: Type.Boolean(),
                error_code: Type.Union([Type.String(), Type.Null()]),
                latency_ms: NullableNumber,
                jitter_ms: NullableNumber,
                loss_pct: NullableNumber,
              }),
            ),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const page = await d.results.latest(req.principal, { ...req.query, limit: req.query.limit ?? 50 });
      return {
        items: page.items.map((r) => ({
          ...r,
          device_id: Number(r.device_id),
          started_at: r.started_at.toISOString(),
        })),
        next_cursor: page.next_cursor,
      };
    },
  );
}
