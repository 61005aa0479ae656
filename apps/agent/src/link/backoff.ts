// Jittered exponential backoff: "equal" jitter (at least half the ceiling, no hot loop) or "full" jitter.
import type { Rng } from '@rookery/protocol';

export interface BackoffOptions {
  /** first ceiling, milliseconds; @default 1000 */
  initialMs?: number;
  /** largest ceiling, milliseconds; @default 300000 (5 min) */
  maxMs?: number;
  /** growth per attempt; @default 2 */
  factor?: number;
  /** random source in [0, 1); @default Math.random */
  rng?: Rng;
  /**
   * "equal": a delay in [c/2, c); "full": a delay in [0, c) (AWS "full jitter": spreads a fleet
   * best; callers add their own floor such as Retry-After); @default "equal"
   */
  jitter?: 'equal' | 'full';
}

/** Delays for successive failed attempts: attempt n waits in [c/2, c) (or [0, c) with full jitter), c = min(max, initial·factor^n). */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly rng: Rng;
  private readonly full: boolean;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 1000;
    this.maxMs = options.maxMs ?? 300_000;
    this.factor = options.factor ?? 2;
    this.rng = options.rng ?? Math.random;
    this.full = options.jitter === 'full';
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, milliseconds; counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(this.attempt, 64));
    this.attempt++;
    return this.full ? Math.round(this.rng() * ceiling) : Math.round(ceiling / 2 + (this.rng() * ceiling) / 2);
  }

  /** Call after a success. */
  reset(): void {
    this.attempt = 0;
  }
}
