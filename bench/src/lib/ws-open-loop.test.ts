// The stream load generator against a small ws server: every message answered counts once, errors and silence count as errors.
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

beforeEach(async () => {
  auths.length = 0;
  answer = () => 'ack';
  server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    auths.push(req.headers.authorization ?? '');
    ws.send(JSON.stringify({ type: 'hello', device_id: 1 }));
    ws.on('message', (raw) => {
      const { id } = JSON.parse(String(raw)) as { id: string };
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
    const s = await fleet.step(
      1000,
      100,
      (_i, id) => JSON.stringify({ type: 'heartbeat', id }),
      (i, device, ok) => {
        if (ok) seen.push([i, device]);
      },
    );
    expect(s).toMatchObject({ sent: 100, ok: 100, errors: 0, statuses: { ack: 100 } });
    expect(seen.map(([i]) => i).sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(seen.every(([i, device]) => device === i % 3)).toBe(true);
    fleet.close();
  });

  it('counts error answers and unanswered messages as errors, and ignores their late answers later', async () => {
    const fleet = await WsFleet.open(url, ['rkd_a']);
    answer = (id) => {
      const i = Number(id.split('.')[1]);
      return i === 3 ? 'error' : i >= 8 ? 'none' : 'ack';
    };
    const s = await fleet.step(1000, 10, (_i, id) => JSON.stringify({ type: 'heartbeat', id }), undefined, 200);
    expect(s).toMatchObject({ sent: 10, ok: 7, errors: 3, statuses: { ack: 7, error: 1, timeout: 2 } });
    answer = () => 'ack';
    const next = await fleet.step(1000, 5, (_i, id) => JSON.stringify({ type: 'heartbeat', id }));
    expect(next).toMatchObject({ sent: 5, ok: 5, errors: 0 });
    fleet.close();
  });
});
