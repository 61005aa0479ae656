// Result ids: time-ordered UUIDv7 (RFC 9562) made on the agent, strictly increasing within one process.
import { randomFillSync } from 'node:crypto';

/** Matches any RFC 9562 version-7 UUID in lower-case text form. */
export const UUIDV7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUIDv7 generator: 48-bit Unix milliseconds, a 12-bit counter in `rand_a` (RFC 9562 §6.2
 * method 1, seeded randomly each new millisecond with headroom), 62 random bits in `rand_b`.
 * Ids are strictly increasing (as strings too) even when the clock stalls or steps back: the
 * generator then keeps the last timestamp and counts on, borrowing the next millisecond when the
 * counter runs out.
 */
export class UuidV7Generator {
  private lastMs = -1;
  private counter = 0;
  private readonly bytes = new Uint8Array(16);

  /** @param now clock in epoch milliseconds; @default Date.now */
  constructor(private readonly now: () => number = Date.now) {}

  /** The next id. */
  next(): string {
    const b = this.bytes;
    randomFillSync(b);
    const now = Math.floor(this.now());
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = (b[6]! & 0x07) * 256 + b[7]!; // 11 random bits: at least 2048 ids left in this ms
    } else if (++this.counter > 0xfff) {
      this.lastMs++;
      this.counter = 0;
    }
    const ms = this.lastMs;
    const high = Math.floor(ms / 2 ** 16);
    b[0] = (high >>> 24) & 0xff;
    b[1] = (high >>> 16) & 0xff;
    b[2] = (high >>> 8) & 0xff;
    b[3] = high & 0xff;
    b[4] = (ms >>> 8) & 0xff;
    b[5] = ms & 0xff;
    b[6] = 0x70 | (this.counter >>> 8);
    b[7] = this.counter & 0xff;
    b[8] = 0x80 | (b[8]! & 0x3f);
    const h = Array.from(b, (x) => HEX[x]!);
    return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
  }
}

/** Epoch milliseconds stored in a UUIDv7. */
export function uuidV7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const shared = new UuidV7Generator();

/** A new result id (UUIDv7) from the process-wide generator. */
export function newResultId(): string {
  return shared.next();
}
