// `./rookery manager --workers 2` as a real process tree on its embedded PostgreSQL: workers share the port,
// the secret key and the database; /metrics sums every worker; a killed worker is replaced; SIGTERM stops all.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor as poll } from '@rookery/lab/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive as alive } from './db/embedded.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;
let proc: ChildProcess | undefined;
let stderr = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rk-cluster-e2e-'));
});
afterAll(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  for (const pid of workerPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const workerPids = () =>
  [...stderr.matchAll(/workers: ([\d, ]+)|worker (\d+) started/g)].flatMap((m) =>
    (m[1] ?? m[2] ?? '').split(', ').map(Number),
  );
const waitFor = (what: string, ok: () => boolean | Promise<boolean>, ms = 45_000) =>
  poll(what, ok, ms, () => stderr, 100);
const exited = (p: ChildProcess) =>
  new Promise<number | null>((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.on('exit', resolve)));

/** GET on a connection of its own (the primary hands connections to the workers in turn). */
function freshGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('manager with --workers 2', () => {
  it('serves from both workers on one port, sums metrics, replaces a killed worker and a killed database, stops on SIGTERM', async () => {
    proc = spawn(
      path.join(ROOT, 'rookery'),
      ['manager', '--data', dir, '--listen', '127.0.0.1:0', '--workers', '2', '--log-level', 'warn'],
      {
        env: { ...process.env, ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'cluster-admin-password' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor('listening line', () => /listening on http/.test(stderr));
    const url = /listening on (http:\/\/\S+) \(2 workers\)/.exec(stderr)?.[1] as string;
    const [a, b] = workerPids();
    expect(a && b && a !== b && alive(a) && alive(b)).toBe(true);

    // one login, then its token on fresh connections: every worker verifies it (one secret key, one database)
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'cluster-admin-password' }),
    });
    expect(login.status).toBe(200);
    const token = ((await login.json()) as { access_token: string }).access_token;
    for (let i = 0; i < 6; i++) {
      expect((await freshGet(`${url}/api/v1/auth/me`, { authorization: `Bearer ${token}` })).status).toBe(200);
    }
    // the admin was created once, though both workers had ADMIN_USERNAME
    expect(stderr.match(/created the first global admin/g)?.length ?? 0).toBeLessThanOrEqual(1);

    // one enrolled device, for a database gauge that is not 0
    const call = async (method: string, p: string, body: unknown, auth = true) => {
      const r = await fetch(`${url}${p}`, {
        method,
        headers: {
          'content-type': 'application/json',
          'x-api-version': '1',
          ...(auth ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      expect(r.status, p).toBeLessThan(300);
      return (await r.json()) as Record<string, string>;
    };
    const ou = await call('POST', '/api/v1/ous', { name: 'Workers' });
    const { secret } = await call('POST', '/api/v1/enrollment/secrets', { ou_id: ou.id, name: 'w' });
    await call(
      'POST',
      '/api/v1/enrollment/enroll',
      {
        secret,
        device_serial: 'w-1',
        device_hostname: 'w-1',
        device_os: 'Linux',
        device_os_version: '6',
        client_type: 'test',
        client_version: '1',
      },
      false,
    );

    // /metrics answered by either worker counts what both served, and database gauges once
    for (let i = 0; i < 10; i++) expect((await freshGet(`${url}/healthz`)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const m = (await freshGet(`${url}/metrics`)).body;
      expect(m).toMatch(
        /rookery_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="2xx"\} 10\n/,
      );
      const devices = [...m.matchAll(/^rookery_devices\{status="\w+"\} (\d+)$/gm)].reduce(
        (n, x) => n + Number(x[1]),
        0,
      );
      expect(devices).toBe(1);
    }

    // a worker killed outright is replaced; the other keeps serving meanwhile
    process.kill(a as number, 'SIGKILL');
    await waitFor('replacement', () => /worker \d+ started/.test(stderr));
    expect(stderr).toMatch(new RegExp(`worker ${a} exited \\(SIGKILL\\); starting another`));
    const c = workerPids().at(-1) as number;
    expect(alive(c) && c !== a && c !== b).toBe(true);
    for (let i = 0; i < 6; i++) expect((await freshGet(`${url}/healthz`)).status).toBe(200);

    // the primary's PostgreSQL killed outright: the primary starts it again, the workers carry on with it
    const postmaster = Number(readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    await waitFor('the database started again', () => /embedded PostgreSQL started again/.test(stderr));
    expect(stderr).toContain('embedded PostgreSQL exited unexpectedly (signal SIGKILL); starting it again');
    const relogin = async () =>
      (
        await fetch(`${url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: 'cluster-admin-password' }),
        })
      ).status;
    await waitFor('a login on the restarted database', async () => (await relogin().catch(() => 0)) === 200);
    expect(alive(b as number) && alive(c)).toBe(true);

    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    for (const pid of [b, c]) expect(alive(pid as number)).toBe(false);
    // the embedded PostgreSQL stopped too (after the workers: no "terminating connection" on the way out)
    expect(existsSync(path.join(dir, 'pg', 'postmaster.pid'))).toBe(false);
    expect(stderr).not.toMatch(/terminating connection/);
  }, 120_000);
});
