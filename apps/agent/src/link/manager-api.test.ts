// Tests of the HTTP client against a scripted node:http server on 127.0.0.1: headers, retries, error mapping.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApiVersionMismatchError,
  InvalidResponseError,
  ManagerHttpError,
  ManagerUnreachableError,
  parseRetryAfter,
  RateLimitedError,
  UnauthorizedError,
} from './errors.js';
import { HttpManagerApi } from './manager-api.js';

type Reply = { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number };
let replies: Reply[];
let seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
let server: Server;
let base: string;

beforeEach(async () => {
  replies = [];
  seen = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const r = replies.shift() ?? { status: 500 };
      setTimeout(() => {
        res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body === undefined ? '' : JSON.stringify(r.body));
      }, r.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const credential = `rkd_${'a'.repeat(32)}`;
const enrollBody = {
  secret: 's',
  device_serial: 'd',
  device_hostname: 'h',
  device_os: 'Linux',
  device_os_version: '6',
  client_type: 'rookeryAgent',
  client_version: '0.1.0',
};
const error = (code: string) => ({ error: code, message: `${code} happened`, details: { why: 1 } });

describe('HttpManagerApi', () => {
  it('sends the contract headers and parses a valid enrollment', async () => {
    replies.push({
      status: 201,
      body: { message: 'Device enrolled successfully', ou_id: 3, device_id: 42, device_credential: credential },
    });
    const api = new HttpManagerApi(base);
    const res = await api.enroll(enrollBody, { idempotencyKey: 'key-1' });
    expect(res.device_id).toBe(42);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/enrollment/enroll' });
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual(enrollBody);
    expect(seen[0]?.headers).toMatchObject({
      'x-api-version': '1',
      'idempotency-key': 'key-1',
      'content-type': 'application/json',
    });
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('retries a mutating call after 5xx answers with the same Idempotency-Key', async () => {
    replies.push(
      { status: 503, body: error('unavailable') },
      { status: 502 },
      { status: 200, body: { message: 'Heartbeat recorded' } },
    );
    const api = new HttpManagerApi(base, { retryDelayMs: 1 });
    await api.heartbeat(credential, 42, { agent_state: 'enrolled' }, {});
    expect(seen).toHaveLength(3);
    const keys = new Set(seen.map((s) => s.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0]).toMatchObject({ url: '/api/v1/enrollment/devices/42/heartbeat' });
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${credential}`);
  });

  it('does not retry GETs or 4xx, and maps 401/426/429 to named errors with details and Retry-After', async () => {
    const api = new HttpManagerApi(base, { retryDelayMs: 1 });
    replies.push({ status: 401, body: error('unauthorized') });
    const e401 = await api.getConfig(credential, 'serial 1', {}).catch((e: unknown) => e);
    expect(e401).toBeInstanceOf(UnauthorizedError);
    expect(e401).toMatchObject({ status: 401, code: 'unauthorized', details: { why: 1 } });
    expect(seen[0]?.url).toBe('/api/v1/enrollment/config?device_serial=serial+1');
    replies.push({ status: 426, body: error('api_version') });
    await expect(api.heartbeat(credential, 1, {}, {})).rejects.toBeInstanceOf(ApiVersionMismatchError);
    replies.push({ status: 429, body: error('too_many_requests'), headers: { 'retry-after': '7' } });
    await expect(api.enroll(enrollBody, {})).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterMs: 7000 });
    replies.push({ status: 500, body: error('internal') });
    await expect(api.getConfig(credential, 's', {})).rejects.toBeInstanceOf(ManagerHttpError);
    expect(seen).toHaveLength(4);
    expect(RateLimitedError.name).toBe('RateLimitedError');
  });

  it('rejects a 2xx body that breaks the contract', async () => {
    replies.push({
      status: 201,
      body: { message: 'ok', ou_id: 3, device_id: 42, device_credential: 'not-a-credential' },
    });
    await expect(new HttpManagerApi(base).enroll(enrollBody, {})).rejects.toThrow(InvalidResponseError);
    replies.push({ status: 200, body: { config: {} } });
    await expect(new HttpManagerApi(base).getConfig(credential, 's', {})).rejects.toThrow(/\/config/);
  });

  it('reports a timeout and an unreachable manager as ManagerUnreachableError', async () => {
    replies.push({ status: 200, body: { message: 'late' }, delayMs: 500 });
    const api = new HttpManagerApi(base, { timeoutMs: 50, retries: 0 });
    await expect(api.heartbeat(credential, 1, {}, {})).rejects.toThrow(/timed out after 50 ms/);
    const closed = new HttpManagerApi('http://127.0.0.1:9', { retries: 0 });
    await expect(closed.getConfig(credential, 's', {})).rejects.toBeInstanceOf(ManagerUnreachableError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
