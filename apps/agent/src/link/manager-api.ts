// The agent's HTTP calls to the manager (enroll, config, heartbeat, result upload) over fetch, checked against the contract.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AGENT_API_VERSION,
  AGENT_PATHS,
  ConfigResponse,
  EnrollResponse,
  type EnrollRequest,
  type HeartbeatRequest,
  HeartbeatResponse,
  RESULTS_UPLOAD_PATH,
  type UploadRequest,
  UploadResponse,
} from '@rookery/protocol';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  ApiVersionMismatchError,
  InvalidResponseError,
  ManagerHttpError,
  ManagerUnreachableError,
  parseRetryAfter,
  RateLimitedError,
  UnauthorizedError,
} from './errors.js';
import { registerContractFormats } from './formats.js';

registerContractFormats();

export interface CallOptions {
  /** aborts the call (agent stopping) */
  signal?: AbortSignal;
  /** reused across retries of the same logical call */
  idempotencyKey?: string;
}

/** The manager as the agent uses it (port; faked in unit tests). Errors are the classes in ./errors.ts. */
export interface ManagerApi {
  enroll(body: EnrollRequest, options: CallOptions): Promise<EnrollResponse>;
  getConfig(credential: string, deviceSerial: string, options: CallOptions): Promise<ConfigResponse>;
  heartbeat(
    credential: string,
    deviceId: number,
    body: HeartbeatRequest,
    options: CallOptions,
  ): Promise<HeartbeatResponse>;
  /**
   * `POST /api/v1/results/upload`, sent once: the result uploader owns retries and backoff (it
   * reuses `idempotencyKey` for the same batch).
   */
  uploadResults(credential: string, body: UploadRequest, options: CallOptions): Promise<UploadResponse>;
}

export interface HttpManagerApiOptions {
  /** per-request timeout, milliseconds; @default 10000 */
  timeoutMs?: number;
  /** extra attempts of a mutating call after a network error or 5xx, same Idempotency-Key; @default 2 */
  retries?: number;
  /** pause before retry n (1-based) is n × this, milliseconds; @default 250 */
  retryDelayMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** {@link ManagerApi} over HTTP(S). */
export class HttpManagerApi implements ManagerApi {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly baseUrl: string,
    options: HttpManagerApiOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  enroll(body: EnrollRequest, options: CallOptions): Promise<EnrollResponse> {
    return this.call('POST', AGENT_PATHS.enroll, EnrollResponse, { body, ...options });
  }

  getConfig(credential: string, deviceSerial: string, options: CallOptions): Promise<ConfigResponse> {
    const query = new URLSearchParams({ device_serial: deviceSerial });
    return this.call('GET', `${AGENT_PATHS.config}?${query}`, ConfigResponse, { credential, ...options });
  }

  heartbeat(credential: string, deviceId: number, body: HeartbeatRequest, options: CallOptions) {
    return this.call('POST', AGENT_PATHS.heartbeat(deviceId), HeartbeatResponse, { credential, body, ...options });
  }

  uploadResults(credential: string, body: UploadRequest, options: CallOptions): Promise<UploadResponse> {
    return this.call('POST', RESULTS_UPLOAD_PATH, UploadResponse, { credential, body, retries: 0, ...options });
  }

  private async call<T extends TSchema>(
    method: 'GET' | 'POST',
    pathAndQuery: string,
    schema: T,
    options: CallOptions & { credential?: string; body?: unknown; retries?: number },
  ): Promise<T['static']> {
    const headers: Record<string, string> = { 'x-api-version': String(AGENT_API_VERSION), accept: 'application/json' };
    if (options.credential) headers.authorization = `Bearer ${options.credential}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method === 'POST') headers['idempotency-key'] = options.idempotencyKey ?? crypto.randomUUID();
    const attempts = method === 'POST' ? (options.retries ?? this.retries) + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(method, pathAndQuery, schema, headers, options);
      } catch (err) {
        const transient =
          err instanceof ManagerUnreachableError || (err instanceof ManagerHttpError && err.status >= 500);
        if (!transient || attempt >= attempts || options.signal?.aborted) throw err;
        await sleep(this.retryDelayMs * attempt, undefined, { signal: options.signal }).catch(() => undefined);
      }
    }
  }

  private async once<T extends TSchema>(
    method: string,
    pathAndQuery: string,
    schema: T,
    headers: Record<string, string>,
    options: CallOptions & { body?: unknown },
  ): Promise<T['static']> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${pathAndQuery}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
      text = await res.text();
    } catch (err) {
      const reason = timeout.aborted ? `timed out after ${this.timeoutMs} ms` : (err as Error).message;
      throw new ManagerUnreachableError(`${method} ${pathAndQuery}: ${reason}`, { cause: err });
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) throw toHttpError(res, body, `${method} ${pathAndQuery.split('?')[0]}`);
    if (!Value.Check(schema, body)) {
      const first = [...Value.Errors(schema, body)][0];
      throw new InvalidResponseError(`${method} ${pathAndQuery}: ${first?.path || '(body)'} ${first?.message ?? ''}`);
    }
    return body as T['static'];
  }
}

function toHttpError(res: Response, body: unknown, what: string): ManagerHttpError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof b.error === 'string' ? b.error : `http_${res.status}`;
  const message = `${what} → ${res.status}: ${typeof b.message === 'string' ? b.message : res.statusText}`;
  const details = typeof b.details === 'object' && b.details !== null ? (b.details as Record<string, unknown>) : {};
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
  const Cls =
    res.status === 401
      ? UnauthorizedError
      : res.status === 426
        ? ApiVersionMismatchError
        : res.status === 429
          ? RateLimitedError
          : ManagerHttpError;
  return new Cls(res.status, code, message, details, retryAfterMs);
}
