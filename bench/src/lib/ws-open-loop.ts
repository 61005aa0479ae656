// Open-loop load over agent WebSockets: one stream per device, opened with its credential; messages start on
// a fixed schedule round-robin over the streams whatever the server does; latency runs from each message's
// scheduled send time to its answer (no coordinated omission). Bounded in count and time.
import WebSocket from 'ws';
import { type StepResult, stepResult } from './open-loop.js';

interface InFlight {
  /** `<step>.<i>` padded to a UUID's 36 chars (what the agent sends): unique across steps */
  id: string;
  i: number;
  scheduled: number;
}

interface Stream {
  ws: WebSocket;
  /** messages sent and not answered yet, oldest first (a stream answers in order) */
  inFlight: InFlight[];
}

/** What a step's caller learns about each answered message. */
export type OnAnswer = (i: number, device: number, ok: boolean, answeredAtMs: number) => void;

/** Open streams of a fleet of devices. */
export class WsFleet {
  private stepNo = 0;
  private onAnswerOf: (m: { ok: boolean; inFlight: InFlight; device: number }) => void = () => {};

  private constructor(private readonly streams: Stream[]) {}

  /**
   * Opens one stream per credential at `wsUrl` (`concurrency` handshakes at a time) and waits for each
   * stream's `hello`. Throws when a stream is refused.
   */
  static async open(wsUrl: string, credentials: string[], concurrency = 64): Promise<WsFleet> {
    const streams: Stream[] = new Array(credentials.length);
    let next = 0;
    const openOne = async (d: number): Promise<void> => {
      const ws = new WebSocket(wsUrl, {
        headers: { authorization: `Bearer ${credentials[d]}`, 'x-api-version': '1' },
        perMessageDeflate: false,
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`stream ${d} refused: ${res.statusCode}`)));
        ws.once('error', reject);
      });
      streams[d] = { ws, inFlight: [] };
    };
    await Promise.all(
      Array.from({ length: Math.min(concurrency, credentials.length) }, async () => {
        while (next < credentials.length) await openOne(next++);
      }),
    );
    const fleet = new WsFleet(streams);
    streams.forEach((s, d) => s.ws.on('message', (raw) => fleet.answered(d, String(raw))));
    return fleet;
  }

  get size(): number {
    return this.streams.length;
  }

  private answered(device: number, text: string): void {
    const s = this.streams[device] as Stream;
    const head = s.inFlight[0];
    if (!head) return; // a late answer of an earlier step
    let m: { type?: string; id?: string };
    try {
      m = JSON.parse(text) as { type?: string; id?: string };
    } catch {
      return;
    }
    if (m.id !== head.id) return;
    s.inFlight.shift();
    this.onAnswerOf({ ok: m.type === 'heartbeat_ack', inFlight: head, device });
  }

  /**
   * Sends `rate × durationMs/1000` messages at `rate` per second, message i on stream i mod size, made by
   * `make(i, id)` (`id` must be echoed in the answer). An answer other than `heartbeat_ack`, or none
   * within `timeoutMs` after the last send, counts as an error.
   */
  async step(
    rate: number,
    durationMs: number,
    make: (i: number, id: string) => string,
    onAnswer?: OnAnswer,
    timeoutMs = 10_000,
  ): Promise<StepResult> {
    const step = ++this.stepNo;
    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    const interval = 1000 / rate;
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let ok = 0;
    let answered = 0;
    let lastDone = 0;
    let allAnswered: () => void = () => {};
    const done = new Promise<void>((resolve) => (allAnswered = resolve));
    this.onAnswerOf = ({ ok: good, inFlight, device }) => {
      const end = performance.now();
      lastDone = Math.max(lastDone, end);
      latencies.push(end - inFlight.scheduled);
      const key = good ? 'ack' : 'error';
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (good) ok++;
      onAnswer?.(inFlight.i, device, good, Date.now());
      if (++answered === total) allAnswered();
    };
    const t0 = performance.now();
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        const device = i % this.streams.length;
        const s = this.streams[device] as Stream;
        const id = `${step}.${i}`.padStart(36, '0');
        s.inFlight.push({ id, i, scheduled: t0 + i * interval });
        s.ws.send(make(i, id));
        i++;
      }
      // wake up about once a millisecond; late wake-ups are charged to latency via the schedule
      await new Promise((res) => setTimeout(res, 1));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((res) => (timer = setTimeout(res, timeoutMs)))]);
    clearTimeout(timer);
    const missing = total - answered;
    if (missing > 0) statuses.timeout = missing;
    for (const s of this.streams) s.inFlight.length = 0;
    this.onAnswerOf = () => {};
    return stepResult({ rate, total, ok, statuses, t0, lastDone, latencies });
  }

  close(): void {
    for (const s of this.streams) s.ws.terminate();
  }
}
