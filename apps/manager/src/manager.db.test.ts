// Two managers starting at the same moment against one empty PostgreSQL database: migrations once.
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagerConfig } from './config.js';
import { loadMigrations } from './db/migrate.js';
import { WebSocket } from 'ws';
import { startManager } from './manager.js';
import { tcpEnvelope } from './testing/result-rows.js';
import { createEmptyDatabase } from './testing/test-db.js';

let empty: Awaited<ReturnType<typeof createEmptyDatabase>>;
let dbUrl = '';

beforeAll(async () => {
  empty = await createEmptyDatabase('mig');
  dbUrl = empty.url;
});
afterAll(() => empty.drop());

const config = (): ManagerConfig => ({
  host: '127.0.0.1',
  port: 0,
  dataDir: '/nonexistent',
  databaseUrl: dbUrl,
  dev: false,
  secretKey: 'k'.repeat(40),
  adminUsername: 'admin',
  adminPassword: 'first-admin-password',
  logLevel: 'silent',
  outboundAllow: [],
  ingestLingerMs: 5,
  workers: 1,
  pgOptions: undefined,
});

describe('concurrent start', () => {
  it("runs each migration once and bootstraps one admin; PGOPTIONS set the replica's sessions", async () => {
    const logB: string[] = [];
    const [a, b] = await Promise.all([
      startManager(config()),
      // its sessions not counted for autovacuum: it says so at start
      startManager(
        { ...config(), pgOptions: '-c application_name=rk-replica-b -c track_counts=off', logLevel: 'warn' },
        { logStream: new Writable({ write: (c, _e, done) => done(void logB.push(String(c))) }) },
      ),
    ]);
    try {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      const mig = await c.query('SELECT id FROM schema_migrations ORDER BY id');
      const users = await c.query('SELECT username FROM users');
      const named = await c.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rk-replica-b'`,
      );
      await c.end();
      expect(named.rows[0].n).toBeGreaterThan(0);
      const warned = logB
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((l) => /track_counts (is|are) off: nothing vacuums/.test(l.msg));
      expect(warned).toHaveLength(1);
      expect(warned[0].level).toBe(40);
      expect(mig.rows.map((r) => r.id)).toEqual((await loadMigrations()).map((m) => m.id));
      expect(users.rows).toEqual([{ username: 'admin' }]);
      for (const m of [a, b]) {
        const r = await fetch(`${m.url}/healthz`);
        expect(r.status).toBe(200);
      }
      // exactly one replica leads the background jobs
      await new Promise((r) => setTimeout(r, 1500));
      const leaders = await Promise.all(
        [a, b].map(async (m) => ((await (await fetch(`${m.url}/healthz`)).json()) as any).jobs.leader),
      );
      expect(leaders.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

async function api(base: string, method: string, path: string, token?: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json().catch(() => null)) as any };
}

/** Enrolls a device through `url` with an enrollment secret. */
async function enroll(url: string, secret: string, serial: string) {
  return (
    await api(url, 'POST', '/api/v1/enrollment/enroll', undefined, {
      secret,
      device_serial: serial,
      device_hostname: 'h',
      device_os: 'Linux',
      device_os_version: '6',
      client_type: 't',
      client_version: '1',
    })
  ).body;
}

/** Collects every message from the start, so none is missed while the test awaits something else. */
function inbox(ws: WebSocket) {
  const queue: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  ws.on('message', (m) => {
    const msg = JSON.parse(String(m));
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  return (timeoutMs: number): Promise<any> =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
          waiters.push((m) => {
            clearTimeout(t);
            resolve(m);
          });
        });
}

describe('two replicas', () => {
  it('a config change on replica A nudges an agent connected to replica B within seconds; deletion on A closes its stream on B; silent devices go offline', async () => {
    const [a, b] = await Promise.all([
      startManager(config(), { offlineCheckMs: 200 }),
      startManager(config(), { offlineCheckMs: 200 }),
    ]);
    try {
      const token = (
        await api(a.url, 'POST', '/api/v1/auth/login', undefined, {
          username: 'admin',
          password: 'first-admin-password',
        })
      ).body.access_token;
      const ou = (await api(a.url, 'POST', '/api/v1/ous', token, { name: 'Replicated' })).body.id;
      const secret = (await api(a.url, 'POST', '/api/v1/enrollment/secrets', token, { ou_id: ou, name: 's' })).body
        .secret;
      const enrolled = await enroll(b.url, secret, 'replica-dev');
      const ws = new WebSocket(`${b.url.replace('http', 'ws')}/api/v1/agent/stream`, {
        headers: { authorization: `Bearer ${enrolled.device_credential}` },
      });
      const nextMessage = inbox(ws);
      const hello = await nextMessage(5000);
      expect(hello).toEqual({ type: 'hello', device_id: enrolled.device_id });
      ws.send(JSON.stringify({ type: 'ping' }));
      expect(await nextMessage(2000)).toEqual({ type: 'pong' });

      const t0 = Date.now();
      const put = await api(a.url, 'PUT', `/api/v1/ous/${ou}/config`, token, {
        doc: { tests: { udp: { enabled: true } } },
      });
      expect(put.status).toBe(200);
      const nudge = await nextMessage(5000);
      expect(nudge).toMatchObject({ type: 'nudge', reason: 'config_changed', config_version: put.body.layer.version });
      expect(Date.now() - t0).toBeLessThan(2000);

      // an unauthenticated stream is refused before the upgrade
      const bad = new WebSocket(`${b.url.replace('http', 'ws')}/api/v1/agent/stream`, {
        headers: { authorization: 'Bearer rkd_nope' },
      });
      const refused = await new Promise<number>((resolve) =>
        bad.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
      );
      expect(refused).toBe(401);

      // silent device → offline (the leader's job), whichever replica leads
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      await c.query("UPDATE devices SET last_seen_at = now() - interval '1 hour' WHERE serial = 'replica-dev'");
      await new Promise((r) => setTimeout(r, 1500));
      const status = (await c.query("SELECT status FROM devices WHERE serial = 'replica-dev'")).rows[0]?.status;
      await c.end();
      expect(status).toBe('offline');

      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      expect((await api(a.url, 'DELETE', `/api/v1/devices/${enrolled.device_id}`, token)).status).toBe(204);
      expect(await closed).toBe(4401);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('live feed', () => {
  it('a result uploaded to replica B reaches a console viewer on replica A, only within its scope', async () => {
    const [a, b] = await Promise.all([startManager(config()), startManager(config())]);
    try {
      const admin = (
        await api(a.url, 'POST', '/api/v1/auth/login', undefined, {
          username: 'admin',
          password: 'first-admin-password',
        })
      ).body.access_token;
      const ou = (await api(a.url, 'POST', '/api/v1/ous', admin, { name: 'LiveA' })).body.id;
      const other = (await api(a.url, 'POST', '/api/v1/ous', admin, { name: 'LiveB' })).body.id;
      for (const [name, ouId] of [
        ['viewer', ou],
        ['outsider', other],
      ] as const) {
        expect(
          (
            await api(a.url, 'POST', '/api/v1/users', admin, {
              username: name,
              password: `${name}-password-1`,
              role: 'ou_reporter',
              ou_id: ouId,
            })
          ).status,
        ).toBe(201);
      }
      const tok = async (n: string) =>
        (await api(a.url, 'POST', '/api/v1/auth/login', undefined, { username: n, password: `${n}-password-1` })).body
          .access_token;
      const open = async (t: string) => {
        const ws = new WebSocket(`${a.url.replace('http', 'ws')}/api/v1/stream`, ['rookery.v1', `bearer.${t}`]);
        await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
        return ws;
      };
      const viewer = await open(await tok('viewer'));
      const outsider = await open(await tok('outsider'));
      const seenByViewer = inbox(viewer);
      const seenByOutsider = inbox(outsider);
      const secret = (await api(a.url, 'POST', '/api/v1/enrollment/secrets', admin, { ou_id: ou, name: 's' })).body
        .secret;
      const dev = await enroll(b.url, secret, 'live-dev');
      const r = await fetch(`${b.url}/api/v1/results/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${dev.device_credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ results: [tcpEnvelope({ target: '192.0.2.7:22', connectMs: 0.7 })] }),
      });
      expect(r.status).toBe(200);
      const msg = await seenByViewer(5000);
      expect(msg).toMatchObject({
        type: 'results',
        device_id: dev.device_id,
        items: [{ kind: 'tcp', target: '192.0.2.7:22', latency_ms: 0.7 }],
      });
      expect(msg.ou_path).toBeUndefined();
      await expect(seenByOutsider(500)).rejects.toThrow(/no message/);
      // no token, no feed
      const anon = new WebSocket(`${a.url.replace('http', 'ws')}/api/v1/stream`);
      expect(
        await new Promise<number>((resolve) =>
          anon.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)),
        ),
      ).toBe(401);
      viewer.close();
      outsider.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
