// Heartbeats over the agent stream: sent with an id, answered by an ack; any doubt means "use HTTP".
import { randomUUID } from 'node:crypto';
import type { HeartbeatRequest, ServerStreamMessage } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { AgentStream } from './stream.js';

interface Pending {
  id: string;
  timer: NodeJS.Timeout;
  settle(acked: boolean): void;
}

/**
 * Sends heartbeats on the stream and matches their acks. After a refusal (an `error` answer, e.g. a
 * manager that does not know stream heartbeats) or a missing ack, the stream is not tried again
 * until it reconnects, so each later heartbeat goes straight to HTTP.
 */
export class StreamHeartbeats {
  private pending: Pending | undefined;
  private givenUp = false;

  /**
   * @param ackTimeoutMs how long to wait for the ack before falling back, milliseconds
   */
  constructor(
    private readonly stream: AgentStream,
    private readonly ackTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Sends a heartbeat on the stream. Resolves true once the manager acked it; false at once when the
   * stream is down or was given up on, and false when it is refused, the connection drops or no ack
   * comes within `ackTimeoutMs`. Never rejects. One heartbeat at a time: a new one settles the last as false.
   */
  send(fields: HeartbeatRequest): Promise<boolean> {
    this.settle(false);
    if (this.givenUp || !this.stream.connected) return Promise.resolve(false);
    const id = randomUUID();
    if (!this.stream.send({ type: 'heartbeat', id, ...fields })) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(
          { timeout_ms: this.ackTimeoutMs },
          'no ack for a stream heartbeat; using HTTP until reconnect',
        );
        this.givenUp = true;
        this.settle(false);
      }, this.ackTimeoutMs);
      this.pending = { id, timer, settle: resolve };
    });
  }

  /** Takes the server messages that answer a heartbeat; returns true when `m` was one. */
  onMessage(m: ServerStreamMessage): boolean {
    if (m.type !== 'heartbeat_ack' && m.type !== 'error') return false;
    const current = m.id !== undefined && m.id === this.pending?.id;
    if (m.type === 'error') {
      const what = current
        ? 'manager refused a stream heartbeat; using HTTP until reconnect'
        : 'manager error on the stream';
      this.logger.warn({ error: m.error, message: m.message }, what);
      if (current) this.givenUp = true;
    }
    // why: an ack for an older heartbeat (answered after its timeout) says nothing about this one
    if (current) this.settle(m.type === 'heartbeat_ack');
    return true;
  }

  /** A new connection gets a fresh chance; a lost one fails the heartbeat in flight. */
  onConnectionChange(connected: boolean): void {
    this.givenUp = false;
    if (!connected) this.settle(false);
  }

  /** Settles a heartbeat in flight as not acked (session closing). */
  cancel(): void {
    this.settle(false);
  }

  private settle(acked: boolean): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.settle(acked);
  }
}
