// Bench fleet set-up on a manager: admin login, an OU, devices enrolled over HTTP and (past the enrollment
// rate limit) inserted with SQL using the manager's credential hashing (SHA-256 hex of `rkd_…`).
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { BENCH_ADMIN } from './bench-db.js';

export interface BenchDevice {
  id: string;
  serial: string;
  credential: string;
}

/** JSON call to the manager; throws on a non-2xx answer. */
export async function api<T = any>(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<T> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      'x-api-version': '1',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Logs in as the bench admin; returns the access token. */
export async function adminToken(base: string): Promise<string> {
  return (await api<{ access_token: string }>(base, 'POST', '/api/v1/auth/login', undefined, BENCH_ADMIN)).access_token;
}

/**
 * Creates OU `name`, enrolls `viaHttp` devices through `POST /api/v1/enrollment/enroll` (≤ 100: the
 * per-IP limit is 120/min) and inserts `viaSql` more directly. Returns every device with its credential.
 */
export async function makeFleet(
  base: string,
  /** for `viaSql` devices; none needed without them */
  pool: pg.Pool | undefined,
  o: { name: string; viaHttp: number; viaSql: number },
): Promise<{ ouId: string; devices: BenchDevice[] }> {
  const token = await adminToken(base);
  const ouId = (await api<{ id: string }>(base, 'POST', '/api/v1/ous', token, { name: o.name })).id;
  const secret = (
    await api<{ secret: string }>(base, 'POST', '/api/v1/enrollment/secrets', token, { ou_id: ouId, name: 'bench' })
  ).secret;
  const devices: BenchDevice[] = [];
  for (let i = 0; i < Math.min(o.viaHttp, 100); i++) {
    const serial = `${o.name}-http-${i}`;
    const r = await api<{ device_id: string; device_credential: string }>(
      base,
      'POST',
      '/api/v1/enrollment/enroll',
      undefined,
      {
        secret,
        device_serial: serial,
        device_hostname: serial,
        device_os: 'Linux',
        device_os_version: '6',
        client_type: 'bench',
        client_version: '1',
      },
    );
    devices.push({ id: String(r.device_id), serial, credential: r.device_credential });
  }
  const sqlDevices = Array.from({ length: o.viaSql }, (_, i) => ({
    serial: `${o.name}-sql-${i}`,
    credential: `rkd_${randomBytes(32).toString('base64url')}`,
  }));
  if (sqlDevices.length) {
    if (!pool) throw new Error('makeFleet: devices inserted with SQL need a pool');
    const r = await pool.query<{ id: string; serial: string }>(
      `INSERT INTO devices (ou_id, serial, hostname, os, os_version, client_type, client_version, credential_hash)
       SELECT $1::bigint, s, s, 'Linux', '6', 'bench', '1', h FROM unnest($2::text[], $3::text[]) AS t(s, h)
       RETURNING id, serial`,
      [
        ouId,
        sqlDevices.map((d) => d.serial),
        sqlDevices.map((d) => createHash('sha256').update(d.credential).digest('hex')),
      ],
    );
    const bySerial = new Map(r.rows.map((x) => [x.serial, String(x.id)]));
    for (const d of sqlDevices) devices.push({ id: bySerial.get(d.serial) as string, ...d });
  }
  return { ouId, devices };
}
