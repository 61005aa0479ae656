// Tests of the reconnecting WebSocket against a ws server on 127.0.0.1.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerStreamMessage } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { memoryLogger } from '../testing/fakes.js';
import { streamUrl, WsAgentStream } from './stream.js';

let server: Server;
let wss: WebSocketServer;
let url: string;
let accept: (auth: string | undefined) => boolean;
let answerPings: boolean;
const upgrades: { auth: string | undefined; version: string | undefined; path: string | undefined }[] = [];
const sockets: WebSocket[] = [];
const received: string[] = [];

beforeEach(async () => {
  upgrades.length = 0;
  sockets.length = 0;
  received.length = 0;
  accept = () => true;
  answerPings = true;
  server = createServer();
  wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ auth: req.headers.authorization, version: req.headers['x-api-version'] as string, path: req.url });
    if (!accept(req.headers.authorization)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      ws.on('message', (d) => {
        received.push(String(d));
        if (answerPings) ws.send(JSON.stringify({ type: 'pong' }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function waitFor(cond: () => boolean, timeoutMs = 3000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function makeStream(pingIntervalMs = 60_000, pongTimeoutMs = 10_000) {
  const { logger, lines } = memoryLogger();
  const backoff = { initialMs: 50, maxMs: 100 };
  const stream = new WsAgentStream(url, { logger, backoff, pingIntervalMs, pongTimeoutMs });
  const messages: ServerStreamMessage[] = [];
  let unauthorized = 0;
  const handlers = { onMessage: (m: ServerStreamMessage) => messages.push(m), onUnauthorized: () => unauthorized++ };
  return { stream, messages, handlers, lines, unauthorized: () => unauthorized };
}

describe('WsAgentStream', () => {
  it('maps the manager URL to the stream URL', () => {
    expect(streamUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/api/v1/agent/stream');
    expect(streamUrl('https://m.example.test/base')).toBe('wss://m.example.test/base/api/v1/agent/stream');
  });

  it('authenticates, delivers contract messages, ignores others, pings, and reconnects after a close', async () => {
    const s = makeStream(30);
    s.stream.start('rkd_cred', s.handlers);
    await waitFor(() => sockets.length === 1 && s.stream.connected);
    expect(upgrades[0]).toEqual({ auth: 'Bearer rkd_cred', version: '1', path: '/api/v1/agent/stream' });
    sockets[0]?.send(JSON.stringify({ type: 'nudge', reason: 'config_changed', config_version: 5 }));
    sockets[0]?.send('not json');
    sockets[0]?.send(JSON.stringify({ type: 'nudge', reason: 'other', config_version: 5 }));
    await waitFor(() => received.length >= 1);
    expect(received[0]).toBe('{"type":"ping"}');
    await waitFor(() => s.lines.filter((l) => String(l.msg).startsWith('agent stream: ignored')).length === 2);
    expect(s.messages).toContainEqual({ type: 'nudge', reason: 'config_changed', config_version: 5 });
    sockets[0]?.close();
    await waitFor(() => sockets.length === 2 && s.stream.connected);
    s.stream.stop();
    expect(s.stream.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(sockets).toHaveLength(2);
  });

  it('sends agent messages only while connected', async () => {
    answerPings = false;
    const s = makeStream();
    expect(s.stream.send({ type: 'heartbeat', id: 'h0' })).toBe(false);
    s.stream.start('rkd_cred', s.handlers);
    await waitFor(() => s.stream.connected);
    expect(s.stream.send({ type: 'heartbeat', id: 'h1', agent_state: 'enrolled' })).toBe(true);
    await waitFor(() => received.length === 1);
    expect(JSON.parse(received[0] as string)).toEqual({ type: 'heartbeat', id: 'h1', agent_state: 'enrolled' });
    s.stream.stop();
    expect(s.stream.send({ type: 'heartbeat', id: 'h2' })).toBe(false);
  });

  it('reconnects when the manager stops answering pings', async () => {
    answerPings = false;
    const s = makeStream(30, 50);
    s.stream.start('rkd_cred', s.handlers);
    await waitFor(() => sockets.length >= 2);
    expect(s.lines.some((l) => l.msg === 'agent stream: no pong, reconnecting')).toBe(true);
    s.stream.stop();
  });

  it('reports a 401 upgrade once and stops retrying that credential', async () => {
    accept = () => false;
    const s = makeStream();
    s.stream.start('rkd_revoked', s.handlers);
    await waitFor(() => s.unauthorized() === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(upgrades).toHaveLength(1);
    accept = () => true;
    s.stream.start('rkd_new', s.handlers);
    await waitFor(() => s.stream.connected);
    expect(upgrades.at(-1)?.auth).toBe('Bearer rkd_new');
    s.stream.stop();
  });

  it('keeps retrying with backoff while the manager is down', async () => {
    const s = makeStream();
    const port = Number(new URL(url).port);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    s.stream.start('rkd_cred', s.handlers);
    await new Promise((r) => setTimeout(r, 400));
    const closes = s.lines.filter((l) => l.msg === 'agent stream closed').length;
    expect(closes).toBeGreaterThanOrEqual(3);
    expect(closes).toBeLessThanOrEqual(12);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await waitFor(() => s.stream.connected);
    s.stream.stop();
  });
});
