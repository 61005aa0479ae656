// Named errors of the agent's link to the manager.
import type { Logger } from 'pino';

/** The manager could not be reached (DNS, connect, reset, timeout). */
export class ManagerUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ManagerUnreachableError';
  }
}

/** The manager answered with a non-success status; `code` and `details` come from its error body when present. */
export class ManagerHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** from Retry-After, milliseconds */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ManagerHttpError';
  }
}

/** 401: the enrollment secret was refused, or the device credential is unknown or revoked. */
export class UnauthorizedError extends ManagerHttpError {
  override name = 'UnauthorizedError';
}

/** 426: the manager speaks another X-API-Version. */
export class ApiVersionMismatchError extends ManagerHttpError {
  override name = 'ApiVersionMismatchError';
}

/** 429: slow down; wait at least `retryAfterMs`. */
export class RateLimitedError extends ManagerHttpError {
  override name = 'RateLimitedError';
}

/** The manager answered 2xx with a body that does not match the contract. */
export class InvalidResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidResponseError';
  }
}

/** Parses Retry-After (delta seconds or HTTP date) into milliseconds from `nowMs`; undefined when absent/invalid. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The wait an error asks for, if any (Retry-After). */
export function requestedDelayMs(err: unknown): number | undefined {
  return err instanceof ManagerHttpError ? err.retryAfterMs : undefined;
}

/** Logs a failed manager call: 426 and 401 at error level with the operator's next step, others at warn. */
export function logLinkError(logger: Logger, err: unknown, what: string, retryInMs: number): void {
  const e = err as Error & { status?: number; code?: string };
  const fields = { err: e.message, status: e.status, code: e.code, retry_in_ms: retryInMs };
  if (err instanceof ApiVersionMismatchError) {
    logger.error(fields, `${what}: manager requires another API version (426); upgrade the agent`);
  } else if (err instanceof UnauthorizedError) {
    logger.error(fields, `${what}: refused (401)`);
  } else logger.warn(fields, what);
}
