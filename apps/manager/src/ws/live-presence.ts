// Whether any replica has a console viewer, so that uploads publish live messages (a NOTIFY with every
// result, parsed by every replica) only while someone watches. Replicas with viewers say so on a
// channel of their own: at the first viewer, every `everyMs` while they have any, and at the last
// viewer's leaving; a starting replica asks.
import { randomUUID } from 'node:crypto';
import type { LiveFeed } from './live-feed.js';

export const PRESENCE_CHANNEL = 'rookery_live_viewers';

export type PresenceMessage = { replica: string; viewers: boolean } | { replica: string; ask: true };

export class LivePresence {
  /** other replicas with viewers → when their word expires (ms since epoch) */
  private readonly remote = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param send publishes to every replica (this one included)
   * @param everyMs how often a replica with viewers repeats it; a replica's word lasts three times that
   */
  constructor(
    private readonly live: LiveFeed,
    private readonly send: (m: PresenceMessage) => Promise<void>,
    private readonly everyMs = 10_000,
    readonly replica: string = randomUUID(),
  ) {
    live.onWatched((viewers) => this.say({ replica: this.replica, viewers }));
  }

  /** Whether a viewer on this or another replica may want live messages. */
  watched(now = Date.now()): boolean {
    if (this.live.size > 0) return true;
    for (const [replica, until] of this.remote) {
      if (until > now) return true;
      this.remote.delete(replica);
    }
    return false;
  }

  /** Handles a message of `PRESENCE_CHANNEL` (malformed ones are ignored). */
  receive(m: unknown, now = Date.now()): void {
    const x = m as Partial<{ replica: unknown; viewers: unknown; ask: unknown }> | null;
    if (typeof x?.replica !== 'string' || x.replica === this.replica) return;
    if (x.ask === true) {
      if (this.live.size > 0) this.say({ replica: this.replica, viewers: true });
    } else if (x.viewers === true) this.remote.set(x.replica, now + 3 * this.everyMs);
    else if (x.viewers === false) this.remote.delete(x.replica);
  }

  /** Asks the other replicas who has viewers, and repeats our own word while we have any. */
  start(): void {
    this.say({ replica: this.replica, ask: true });
    this.timer = setInterval(() => {
      if (this.live.size > 0) this.say({ replica: this.replica, viewers: true });
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private say(m: PresenceMessage): void {
    // a lost word is repeated within everyMs (viewers) or expires (no viewers)
    void this.send(m).catch(() => undefined);
  }
}
