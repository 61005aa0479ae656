// Named errors of the agent's link to the manager.

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
