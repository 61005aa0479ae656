// Admission control: a per-client token bucket for request rates and a gate for concurrent tests.

/** Token bucket per key; `now` is injectable (ms) so tests run on fake time. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
    b.at = now;
    if (this.#buckets.size > 10_000) this.#buckets.clear(); // bound memory under address churn
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.ratePerSecond;
  }
}

/** Counts running tests; `tryEnter` refuses beyond `max`. */
export class ConcurrencyGate {
  #running = 0;

  constructor(readonly max: number) {}

  get running(): number {
    return this.#running;
  }

  /** Returns a release function, or null when `max` tests already run. Release is idempotent. */
  tryEnter(): (() => void) | null {
    if (this.#running >= this.max) return null;
    this.#running++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.#running--;
      }
    };
  }
}
