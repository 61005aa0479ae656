// Connected agents on this replica, and the config nudges that reach them from any replica.
import type { ServerStreamMessage } from '@rookery/protocol';
import type { WebSocket } from 'ws';

/** What changed, as broadcast on the `rookery_config` channel. */
export type ConfigChange =
  | { scope: 'global'; version: number }
  | { scope: 'ou'; ou_path: string; version: number; /** set when the OU moved: its path before */ moved_from?: string }
  | { scope: 'device'; device_id: string; version: number /** set when the device moved */; ou_path?: string }
  | { scope: 'revoke'; device_id: string; /** connections made with this credential (tag) stay open */ keep?: string };

interface Connection {
  socket: WebSocket;
  deviceId: string;
  ouPath: string;
  /** short digest of the credential the connection authenticated with */
  credentialTag: string;
}

export const CONFIG_CHANNEL = 'rookery_config';

/** The tag of a credential as connections and revocations name it (never the credential itself). */
export const credentialTag = (credentialHash: string) => credentialHash.slice(0, 16);

export class AgentGateway {
  private readonly byDevice = new Map<string, Set<Connection>>();

  add(socket: WebSocket, deviceId: string, ouPath: string, credentialTag: string): () => void {
    const c: Connection = { socket, deviceId, ouPath, credentialTag };
    const set = this.byDevice.get(deviceId) ?? new Set();
    set.add(c);
    this.byDevice.set(deviceId, set);
    this.send(c, { type: 'hello', device_id: Number(deviceId) });
    return () => {
      set.delete(c);
      if (set.size === 0) this.byDevice.delete(deviceId);
    };
  }

  /** Number of agent sockets on this replica. */
  get size(): number {
    let n = 0;
    for (const s of this.byDevice.values()) n += s.size;
    return n;
  }

  /** Applies a change broadcast by any replica to the agents connected here. */
  handle(change: ConfigChange): void {
    if (change.scope === 'revoke') {
      for (const c of this.byDevice.get(change.device_id) ?? []) {
        // a re-enrolled device keeps the stream it opened with its new credential
        if (change.keep !== undefined && c.credentialTag === change.keep) continue;
        c.socket.close(4401, 'credential revoked');
      }
      return;
    }
    if (change.scope === 'device' && change.ou_path) this.moved(change.device_id, change.ou_path);
    if (change.scope === 'ou' && change.moved_from) this.subtreeMoved(change.moved_from, change.ou_path);
    const nudge: ServerStreamMessage = { type: 'nudge', reason: 'config_changed', config_version: change.version };
    for (const set of this.byDevice.values()) {
      for (const c of set) {
        const hit =
          change.scope === 'global' ||
          (change.scope === 'ou' && c.ouPath.startsWith(change.ou_path)) ||
          (change.scope === 'device' && c.deviceId === change.device_id);
        if (hit) this.send(c, nudge);
      }
    }
  }

  /** Updates the OU paths of connections in a subtree that moved from `from` to `to`. */
  subtreeMoved(from: string, to: string): void {
    for (const set of this.byDevice.values())
      for (const c of set) if (c.ouPath.startsWith(from)) c.ouPath = to + c.ouPath.slice(from.length);
  }

  /** Updates the OU path of a device's connections after a move. */
  moved(deviceId: string, ouPath: string): void {
    for (const c of this.byDevice.get(deviceId) ?? []) c.ouPath = ouPath;
  }

  private send(c: Connection, m: ServerStreamMessage): void {
    if (c.socket.readyState === c.socket.OPEN) c.socket.send(JSON.stringify(m));
  }

  closeAll(): void {
    for (const set of this.byDevice.values()) for (const c of set) c.socket.close(1001, 'manager shutting down');
  }
}
