// The stream load generator (bench/native/wsload.c) against a small ws server: every message answered counts once,
// errors and silence count as errors, and the frames it sends are what `ws` accepts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { WsFleet } from './ws-open-loop.js';

let server: Server;
let url: string;
/** how the server answers message `id` */
let answer: (id: string) => 'ack' | 'error' | 'none';
const auths: string[] = [];
const bodies: { id: string; type: string; agent_state: string }[] = [];

beforeEach(async () => {
  auths.length = 0;
  bodies.length = 0;
  answer = () => 'ack';
  server = createServer();
  const wss = new WebSocketServer({
    server,
    verifyClient: (info, done) => (info.req.headers.authorization === 'Bearer rkd_bad' ? done(false, 401) : done(true)),
  });
  wss.on('connection', (ws, req) => {
    auths.push(req.headers.authorization ?? '');
    ws.send(JSON.stringify({ type: 'hello', device_id: 1 }));
    ws.on('message', (raw) => {
      const body = JSON.parse(String(raw)) as { id: string; type: string; agent_state: string };
      bodies.push(body);
      const { id } = body;
      const a = answer(id);
      if (a === 'ack') ws.send(JSON.stringify({ type: 'heartbeat_ack', id }));
      if (a === 'error') ws.send(JSON.stringify({ type: 'error', error: 'invalid_message', message: 'no', id }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('WsFleet', () => {
  it('opens one stream per credential and counts every acked message once, on its device', async () => {
    const fleet = await WsFleet.open(url, ['rkd_a', 'rkd_b', 'rkd_c']);
    expect(auths.sort()).toEqual(['Bearer rkd_a', 'Bearer rkd_b', 'Bearer rkd_c']);
    const seen: [number, number][] = [];
    const s = await fleet.step(1000, 100, 1, (i, device, ok, sent, answered) => {
      if (ok) seen.push([i, device]);
      expect(answered).toBeGreaterThanOrEqual(sent);
    });
    expect(s).toMatchObject({ sent: 100, ok: 100, errors: 0, statuses: { ack: 100 } });
    expect(s.latency.n).toBe(100);
    expect(seen.map(([i]) => i).sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(seen.every(([i, device]) => device === i % 3)).toBe(true);
    expect(bodies.every((b) => b.type === 'heartbeat' && b.agent_state === 'enrolled' && b.id.length === 36)).toBe(
      true,
    );
    fleet.close();
  });

  it('counts error answers and unanswered messages as errors, and ignores their late answers later', async () => {
    const fleet = await WsFleet.open(url, ['rkd_a']);
    answer = (id) => {
      const i = Number(id.split('.')[1]);
      return i === 3 ? 'error' : i >= 8 ? 'none' : 'ack';
    };
    const s = await fleet.step(1000, 10, 0, undefined, 200);
    expect(s).toMatchObject({ sent: 10, ok: 7, errors: 3, statuses: { ack: 7, error: 1, timeout: 2 } });
    answer = () => 'ack';
    const next = await fleet.step(1000, 5);
    expect(next).toMatchObject({ sent: 5, ok: 5, errors: 0 });
    fleet.close();
  });

  it('fails to open when the server refuses a stream, naming its status', async () => {
    await expect(WsFleet.open(url, ['rkd_a', 'rkd_bad'])).rejects.toThrow(/stream 1 refused: 401/);
  });
});
