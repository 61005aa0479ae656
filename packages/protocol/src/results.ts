// Result upload contract: agent-generated ids (UUIDv7) make retries idempotent; per-record verdicts.
import { Type, type Static } from '@sinclair/typebox';

/** Path of the batch upload (seed 003). */
export const RESULTS_UPLOAD_PATH = '/api/v1/results/upload';
/** Most results one upload may carry. */
export const MAX_RESULTS_PER_UPLOAD = 1000;
/** Largest upload body the manager accepts, bytes. */
export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

/**
 * One measurement as the agent spools and uploads it: `id` is a UUIDv7 made on the agent when the
 * result is appended, so a retried upload never creates a second row. `result` is a probe result
 * (`ProbeResult` of the probe contract: kind, target, ok, startedAt, durationMs, error?, metrics).
 */
export const ResultEnvelope = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'UUIDv7 generated on the agent' }),
    result: Type.Object(
      {
        kind: Type.String({ minLength: 1, maxLength: 32 }),
        target: Type.String({ minLength: 1, maxLength: 2048 }),
        ok: Type.Boolean(),
        startedAt: Type.String({ format: 'date-time' }),
        durationMs: Type.Number({ minimum: 0 }),
        error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
        metrics: Type.Record(Type.String(), Type.Unknown()),
      },
      { description: 'a probe result; validated per kind by the manager' },
    ),
  },
  { title: 'ResultEnvelope' },
);
export type ResultEnvelope = Static<typeof ResultEnvelope>;

export const UploadRequest = Type.Object(
  { results: Type.Array(ResultEnvelope, { minItems: 1, maxItems: MAX_RESULTS_PER_UPLOAD }) },
  { title: 'UploadRequest' },
);
export type UploadRequest = Static<typeof UploadRequest>;

/**
 * 200 answer: every id is either accepted (stored now or earlier: delete it from the spool) or
 * rejected (will never be accepted: set it aside). A whole batch that fails the schema is a 422.
 * 429 with Retry-After means back off and retry the same batch.
 */
export const UploadResponse = Type.Object(
  {
    accepted: Type.Array(Type.String({ format: 'uuid' })),
    rejected: Type.Array(Type.Object({ id: Type.String(), error: Type.String(), message: Type.String() })),
    /** results stored by this call (the rest of `accepted` were duplicates of earlier uploads) */
    stored: Type.Integer({ minimum: 0 }),
  },
  { title: 'UploadResponse' },
);
export type UploadResponse = Static<typeof UploadResponse>;
