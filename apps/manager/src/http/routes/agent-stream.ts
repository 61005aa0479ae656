// GET /api/v1/agent/stream: the agent's WebSocket (device credential); config nudges arrive here.
import websocket from '@fastify/websocket';
import type { DeviceRow } from '../../db/queries/devices.js';
import { touchDevice } from '../../db/queries/devices.js';
import type { App } from '../app.js';
import type { Deps } from '../deps.js';
import { assertApiVersion, bearerOf } from './enrollment.js';
import { sha256 } from '../../services/crypto.js';
import { credentialTag } from '../../ws/agent-gateway.js';

export async function agentStreamRoutes(app: App, d: Deps): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  const devices = new WeakMap<object, DeviceRow>();
  app.get(
    '/api/v1/agent/stream',
    {
      websocket: true,
      config: { public: true },
      schema: {
        tags: ['agent'],
        summary: 'Agent WebSocket: hello, config nudges, ping/pong (device credential)',
        hide: false,
      },
      preValidation: async (req) => {
        assertApiVersion(req);
        devices.set(req, await d.enrollment.authenticateDevice(bearerOf(req)));
      },
    },
    (socket, req) => {
      const device = devices.get(req);
      if (!device) return socket.close(4401, 'unauthenticated');
      const remove = d.gateway.add(socket, device.id, device.ou_path, credentialTag(sha256(bearerOf(req) ?? '')));
      void touchDevice(d.ctx.db, device.id).catch(() => undefined);
      socket.on('message', (raw) => {
        let msg: { type?: unknown };
        try {
          msg = JSON.parse(String(raw));
        } catch {
          return socket.close(1003, 'messages are JSON');
        }
        if (msg.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      });
      socket.on('close', remove);
    },
  );
}
