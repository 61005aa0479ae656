// Named errors the HTTP layer turns into `{error, message, details}` responses.

export class AppError extends Error {
  constructor(
    /** HTTP status */
    readonly status: number,
    /** stable machine-readable code */
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** extra response headers, e.g. Retry-After */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new AppError(400, 'bad_request', message, details);
export const unauthorized = (message = 'authentication required') => new AppError(401, 'unauthorized', message);
export const forbidden = (message = 'not allowed') => new AppError(403, 'forbidden', message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError(409, 'conflict', message, details);
export const tooManyRequests = (
  retryAfterSeconds: number,
  message = `too many attempts; retry in ${retryAfterSeconds} s`,
) =>
  new AppError(
    429,
    'too_many_requests',
    message,
    {
      retry_after_seconds: retryAfterSeconds,
    },
    { 'retry-after': String(retryAfterSeconds) },
  );

/**
 * A `date-time` field or parameter as a Date. The format admits a leap second (`23:59:60`), which no
 * Date holds: that is a 400 naming the field, not an Invalid Date sent on to PostgreSQL.
 */
export function timeOf(value: string, field: string): Date {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`${field} is not a time that can be used (a leap second?)`, { field });
  return new Date(t);
}

/** An expiry: `timeOf`, and a 400 naming the field unless it lies in the future. */
export function expiryOf(value: string, field: string): Date {
  const d = timeOf(value, field);
  if (d.getTime() <= Date.now()) throw badRequest(`${field} must be in the future`, { field });
  return d;
}
