// Heartbeats over a real agent WebSocket: acked, written at the next flush; bad messages answered and change nothing.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createHarness, type Harness } from '../../testing/harness.js';

let h: Harness;
let base: string;
let secret: string;
beforeAll(async () => {
  h = await createHarness();
  base = (await h.app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws');
  secret = (await h.createSecret(await h.createOu('Stream HB'))).secret;
});
afterAll(() => h.close());

interface Device {
  id: number;
  credential: string;
}

async function enroll(serial: string): Promise<Device> {
  const r = await h.enroll(secret, serial);
  expect(r.status).toBe(201);
  await makeStale(r.body.device_id);
  return { id: r.body.device_id, credential: r.body.device_credential };
}

/** Sets the row to one a heartbeat visibly changes. */
async function makeStale(id: number): Promise<void> {
  await sql`UPDATE devices SET status = 'offline', last_seen_at = now() - interval '1 day',
    agent_state = NULL, config_version = NULL, spool_backlog = NULL WHERE id = ${String(id)}`.execute(h.tdb.db);
}

/** An open stream of `d` with every message it received, in order, and a way to await the next. */
async function connect(d: Device) {
  const ws = new WebSocket(`${base}/api/v1/agent/stream`, {
    headers: { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' },
  });
  const queue: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = (timeoutMs = 3000): Promise<any> =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
          waiters.push((m) => {
            clearTimeout(t);
            resolve(m);
          });
        });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  expect(await next()).toEqual({ type: 'hello', device_id: d.id });
  // why: opening the stream marks the device seen (asynchronously); wait for that, then start from stale
  for (let i = 0; i < 100 && (await row(d.id))?.status !== 'online'; i++) await new Promise((r) => setTimeout(r, 20));
  await makeStale(d.id);
  const send = (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  return { ws, next, send, closed };
}

const row = async (id: number) =>
  (
    await sql<{
      status: string;
      agent_state: string | null;
      config_version: number | null;
      spool_backlog: number | null;
      fresh: boolean;
    }>`SELECT status, agent_state, config_version, spool_backlog, last_seen_at > now() - interval '1 minute' AS fresh
       FROM devices WHERE id = ${String(id)}`.execute(h.tdb.db)
  ).rows[0];

const flush = () => h.deps.enrollment.heartbeats.flush();

describe('heartbeats on the agent stream', () => {
  it('acks a heartbeat and the next flush writes last_seen_at and the fields of the connected device', async () => {
    const d = await enroll('ws-hb-1');
    const other = await enroll('ws-hb-2');
    const s = await connect(d);
    s.send({ type: 'heartbeat', id: 'a1', agent_state: 'enrolled', config_version: 7, spool_backlog: 3 });
    expect(await s.next()).toEqual({ type: 'heartbeat_ack', id: 'a1' });
    expect(await row(d.id)).toMatchObject({ status: 'offline', fresh: false }); // coalesced: not yet written
    await flush();
    expect(await row(d.id)).toEqual({
      status: 'online',
      agent_state: 'enrolled',
      config_version: 7,
      spool_backlog: 3,
      fresh: true,
    });
    // a later heartbeat merges over the earlier fields
    s.send({ type: 'heartbeat', spool_backlog: 0 });
    expect(await s.next()).toEqual({ type: 'heartbeat_ack' });
    await flush();
    expect(await row(d.id)).toMatchObject({ agent_state: 'enrolled', config_version: 7, spool_backlog: 0 });
    expect(await row(other.id)).toMatchObject({ status: 'offline', fresh: false, agent_state: null });
    s.ws.close();
  });

  it('identity comes from the credential: a device_id in the message does not move the heartbeat', async () => {
    const d = await enroll('ws-hb-3');
    const victim = await enroll('ws-hb-4');
    const s = await connect(d);
    s.send({ type: 'heartbeat', id: 'x', device_id: victim.id, agent_state: 'stopping' });
    expect(await s.next()).toEqual({ type: 'heartbeat_ack', id: 'x' });
    await flush();
    expect(await row(d.id)).toMatchObject({ status: 'online', agent_state: 'stopping' });
    expect(await row(victim.id)).toMatchObject({ status: 'offline', fresh: false, agent_state: null });
    s.ws.close();
  });

  it('answers bad messages with errors, changes nothing, and keeps the stream usable', async () => {
    const d = await enroll('ws-hb-5');
    const s = await connect(d);
    s.send({ type: 'heartbeat', id: 'b1', agent_state: 'dancing' });
    expect(await s.next()).toMatchObject({
      type: 'error',
      error: 'invalid_message',
      id: 'b1',
      details: { field: '/agent_state' },
    });
    s.send({ type: 'heartbeat', config_version: 2 ** 31 });
    expect(await s.next()).toMatchObject({ type: 'error', error: 'invalid_message' });
    s.send({ type: 'reboot' });
    expect(await s.next()).toMatchObject({ type: 'error', error: 'unknown_message_type' });
    s.send([1, 2]);
    expect(await s.next()).toMatchObject({ type: 'error', error: 'invalid_message' });
    expect(h.deps.enrollment.heartbeats.size).toBe(0);
    await flush();
    expect(await row(d.id)).toMatchObject({ status: 'offline', fresh: false, agent_state: null, config_version: null });
    s.send({ type: 'ping' });
    expect(await s.next()).toEqual({ type: 'pong' });
    // not JSON at all: closed with 1003, still nothing recorded
    s.send('{not json');
    expect(await s.closed).toBe(1003);
    expect(h.deps.enrollment.heartbeats.size).toBe(0);
  });

  it('a heartbeat acked just before the device was deleted does not bring the device back', async () => {
    const d = await enroll('ws-hb-6');
    const s = await connect(d);
    s.send({ type: 'heartbeat', agent_state: 'enrolled' });
    expect(await s.next()).toEqual({ type: 'heartbeat_ack' });
    const del = await h.req('DELETE', `/api/v1/devices/${d.id}`, { token: await h.adminToken() });
    expect(del.status).toBe(204);
    expect(await s.closed).toBe(4401); // the gateway closes a deleted device's stream
    const before = await sql<{ n: string }>`SELECT count(*) AS n FROM devices`.execute(h.tdb.db);
    await flush();
    expect(await row(d.id)).toBeUndefined();
    const after = await sql<{ n: string }>`SELECT count(*) AS n FROM devices`.execute(h.tdb.db);
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
  });

  it('the HTTP heartbeat refuses an integer its 32-bit column cannot hold (one would fail the whole batch)', async () => {
    const d = await enroll('ws-hb-7');
    const r = await h.req('POST', `/api/v1/enrollment/devices/${d.id}/heartbeat`, {
      headers: { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' },
      body: { config_version: 2 ** 31 },
    });
    expect(r.status).toBe(400);
    expect(h.deps.enrollment.heartbeats.size).toBe(0);
  });
});
