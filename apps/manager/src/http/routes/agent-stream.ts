// GET /api/v1/agent/stream: the agent's WebSocket (device credential): heartbeats, config nudges, ping/pong.
import websocket from '@fastify/websocket';
import type { DeviceRow } from '../../db/queries/devices.js';
import { touchDevice } from '../../db/queries/devices.js';
import { type App, bearerOf } from '../app.js';
import type { Deps } from '../deps.js';
import { assertApiVersion } from './enrollment.js';
import { sha256 } from '../../services/crypto.js';
import { credentialTag } from '../../ws/agent-gateway.js';
import { handleAgentMessage } from '../../ws/agent-messages.js';
import type { HeartbeatFields } from '../../services/heartbeats.js';

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
        summary: 'Agent WebSocket: heartbeats (acked), hello, config nudges, ping/pong (device credential)',
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
      const target = { heartbeat: (f: HeartbeatFields) => d.enrollment.recordHeartbeat(device, f) };
      socket.on('message', (raw) => {
        // why: a stream being closed (revoked, re-enrolled) no longer speaks for its device
        if (socket.readyState !== socket.OPEN) return;
        const outcome = handleAgentMessage(String(raw), target);
        if ('close' in outcome) return socket.close(outcome.close.code, outcome.close.reason);
        socket.send(JSON.stringify(outcome.reply));
      });
      socket.on('close', remove);
    },
  );
}
