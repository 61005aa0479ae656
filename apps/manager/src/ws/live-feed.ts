// Console viewers on this replica and the live results/alerts that reach them, filtered by each
// viewer's OU scope.
import type { WebSocket } from 'ws';
import { type Scope, scopeContains } from '../domain/principal.js';

/** A live message; `ou_path` decides who may see it and is not sent to viewers. */
export type LiveMessage =
  | { type: 'results'; ou_path: string; device_id: number; items: Record<string, unknown>[] }
  | { type: 'alert'; ou_path: string; event: Record<string, unknown> };

export const LIVE_CHANNEL = 'rookery_live';

interface Viewer {
  socket: WebSocket;
  scope: Scope;
}

export class LiveFeed {
  private readonly viewers = new Set<Viewer>();
  private readonly watchers = new Set<(watched: boolean) => void>();

  /** Adds a viewer; returns its removal. */
  add(socket: WebSocket, scope: Scope): () => void {
    const v = { socket, scope };
    this.viewers.add(v);
    if (this.viewers.size === 1) for (const w of this.watchers) w(true);
    return () => {
      if (this.viewers.delete(v) && this.viewers.size === 0) for (const w of this.watchers) w(false);
    };
  }

  /** Calls `w(true)` when the first viewer arrives and `w(false)` when the last one leaves. */
  onWatched(w: (watched: boolean) => void): void {
    this.watchers.add(w);
  }

  get size(): number {
    return this.viewers.size;
  }

  /** Sends to every viewer whose scope covers the message's OU; slow viewers are skipped, not queued. */
  deliver(m: LiveMessage): void {
    const { ou_path, ...rest } = m;
    const text = JSON.stringify(rest);
    for (const v of this.viewers) {
      if (!scopeContains(v.scope, ou_path)) continue;
      if (v.socket.readyState !== v.socket.OPEN) continue;
      // a viewer more than 1 MiB behind misses messages rather than growing our memory
      if (v.socket.bufferedAmount > 1_048_576) continue;
      v.socket.send(text);
    }
  }

  closeAll(): void {
    for (const v of this.viewers) v.socket.close(1001, 'manager shutting down');
  }
}
