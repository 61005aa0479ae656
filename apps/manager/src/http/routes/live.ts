// GET /api/v1/stream: the console's live feed of new results and alert changes, scoped to the viewer.
// Browsers cannot set headers on a WebSocket: the access token may come as the subprotocol
// "bearer.<token>" next to "rookery.v1".
import { scopeOf } from '../../domain/principal.js';
import type { Principal } from '../../domain/principal.js';
import { unauthorized } from '../../domain/errors.js';
import { type App, bearerOf } from '../app.js';
import type { Deps } from '../deps.js';

export function liveRoutes(app: App, d: Deps): void {
  const principals = new WeakMap<object, Principal>();
  app.get(
    '/api/v1/stream',
    {
      websocket: true,
      config: { public: true },
      schema: {
        tags: ['results'],
        summary: 'Live feed (WebSocket): {type:"results"} and {type:"alert"} messages within your scope',
      },
      preValidation: async (req) => {
        let token = bearerOf(req);
        const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((s) => s.trim());
        token ??= protocols.find((p) => p.startsWith('bearer.'))?.slice(7);
        if (!token) throw unauthorized();
        principals.set(req, await d.auth.authenticate(token, undefined));
      },
    },
    (socket, req) => {
      const p = principals.get(req);
      if (!p) return socket.close(4401, 'unauthenticated');
      const remove = d.live.add(socket, scopeOf(p));
      socket.on('close', remove);
      socket.on('message', () => {
        // the feed is one-way; anything sent is ignored
      });
    },
  );
}
