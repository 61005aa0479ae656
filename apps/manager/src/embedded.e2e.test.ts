// The real `./rookery manager` process on its embedded PostgreSQL: start, data-dir lock, restart, SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@rookery/lab/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RESTARTS, pidAlive } from './db/embedded.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;
const procs: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rk-embedded-e2e-'));
});
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function startManager(
  extraEnv: Record<string, string> = {},
): Promise<{ proc: ChildProcess; url: string | null; stderr: () => string; stdout: () => string }> {
  const proc = spawn(
    path.join(ROOT, 'rookery'),
    ['manager', '--data', dir, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
    {
      env: { ...process.env, ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'embedded-admin-password', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.push(proc);
  let err = '';
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const started = (url: string | null) => ({ proc, url, stderr: () => err, stdout: () => out });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(started(null)), 45_000);
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(started(m[1] ?? null));
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      resolve(started(null));
    });
  });
}

const postmasterPid = async () =>
  Number((await readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);

const exited = (p: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    p.exitCode !== null ? resolve(p.exitCode) : p.on('exit', (c) => resolve(c)),
  );

describe('manager on the embedded engine', () => {
  it('starts with no set-up, refuses a second manager on the same data dir, stops on SIGTERM, keeps data', async () => {
    const first = await startManager();
    expect(first.url, first.stderr()).not.toBeNull();
    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    const login = await fetch(`${first.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'embedded-admin-password' }),
    });
    expect(login.status).toBe(200);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const ou = await fetch(`${first.url}/api/v1/ous`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'Persisted' }),
    });
    expect(ou.status).toBe(201);
    expect((await stat(path.join(dir, 'secret-key'))).mode & 0o777).toBe(0o600);

    const second = await startManager();
    expect(second.url).toBeNull();
    expect(await exited(second.proc)).toBe(2);
    expect(second.stderr()).toMatch(/in use by another manager/);

    first.proc.kill('SIGTERM');
    expect(await exited(first.proc)).toBe(0);

    // restart on the same dir: same secret key (old token still verifies), data kept
    const third = await startManager();
    expect(third.url, third.stderr()).not.toBeNull();
    const list = await fetch(`${third.url}/api/v1/ous`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: { name: string }[] }).items.map((o) => o.name)).toContain('Persisted');
    third.proc.kill('SIGINT');
    expect(await exited(third.proc)).toBe(0);
  }, 120_000);

  it('drains before its PostgreSQL stops when a terminal’s Ctrl-C signals the whole process group', async () => {
    // detached: a process group of its own, as a shell's foreground job; stdout holds the JSON log lines
    const proc = spawn(
      path.join(ROOT, 'rookery'),
      ['manager', '--data', dir, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
      { env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    procs.push(proc);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const end = Date.now() + 45_000;
    while (!/listening on http/.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/listening on http/);
    process.kill(-(proc.pid as number), 'SIGINT');
    const code = await Promise.race([exited(proc), new Promise((r) => setTimeout(() => r('still running'), 25_000))]);
    let state = '';
    if (code === 'still running') {
      // what the process was doing, for the failure message; then out of the next test's way
      state = (await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => '')).replace(/\n/g, ' ');
      proc.kill('SIGKILL');
    }
    expect(code, `${state}\n${out}`).toBe(0);
    // before PostgreSQL had its own group it shut down at the same signal and cut the manager's connections
    expect(out).not.toMatch(/terminating connection|connection lost/);
  }, 60_000);

  it('starts again after being killed outright, stopping the PostgreSQL its killed run left behind', async () => {
    const first = await startManager();
    expect(first.url, first.stderr()).not.toBeNull();
    const orphan = Number((await readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    expect(() => process.kill(orphan, 0)).not.toThrow(); // SIGKILL gave the manager no chance to stop it

    const second = await startManager();
    expect(second.url, second.stderr()).not.toBeNull();
    expect(() => process.kill(orphan, 0)).toThrow();
    const health = await fetch(`${second.url}/healthz`);
    expect(health.status).toBe(200);
    second.proc.kill('SIGTERM');
    expect(await exited(second.proc)).toBe(0);
  }, 120_000);

  it('starts its PostgreSQL again when it dies, and stops with exit 1 when it keeps dying', async () => {
    const m = await startManager();
    expect(m.url, m.stderr()).not.toBeNull();
    const login = () =>
      fetch(`${m.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'embedded-admin-password' }),
      });
    const statuses = new Set<number>();
    let killed = 0;
    for (; killed < MAX_RESTARTS; killed++) {
      const pid = await postmasterPid();
      expect(pidAlive(pid)).toBe(true);
      process.kill(pid, 'SIGKILL');
      // a new server on the same data, and the manager uses it (a login reads and writes the database);
      // logins go on meanwhile, from the moment of the kill
      const inUse = async () => {
        const status = (await login()).status;
        statuses.add(status);
        const now = await postmasterPid();
        return now !== pid && pidAlive(now) && status === 200;
      };
      await waitFor(
        'a new server in use',
        () => inUse().catch(() => false),
        30_000,
        () => `${m.stdout()}\n${m.stderr()}`,
        100,
      );
    }
    // while the database was away the answer was 503 database_unavailable (retry), never a 500
    expect([...statuses].filter((x) => x !== 200 && x !== 503)).toEqual([]);
    expect(m.stdout().match(/exited unexpectedly \(signal SIGKILL\); starting it again/g)).toHaveLength(MAX_RESTARTS);
    expect(m.stdout()).toMatch(/started again \(pid \d+\)/);
    // one death more within the window: given up, the manager stops with exit 1 and says why
    process.kill(await postmasterPid(), 'SIGKILL');
    expect(await exited(m.proc)).toBe(1);
    expect(m.stderr()).toMatch(/embedded PostgreSQL exited 4 times within 60 s \(last: signal SIGKILL\); giving up/);
    // the data dir is free again: the next manager starts on it
    const next = await startManager();
    expect(next.url, next.stderr()).not.toBeNull();
    expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
    next.proc.kill('SIGTERM');
    expect(await exited(next.proc)).toBe(0);
  }, 120_000);

  it('refuses the seed’s sample admin password without --dev', async () => {
    const r = await startManager({ ADMIN_PASSWORD: 'admin123' });
    expect(r.url).toBeNull();
    expect(await exited(r.proc)).toBe(2);
    expect(r.stderr()).toMatch(/ADMIN_PASSWORD is a sample value/);
  });
});
