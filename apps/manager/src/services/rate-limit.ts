// In-memory fixed-window rate limiter per key (per replica); bounded in memory.
import { tooManyRequests } from '../domain/errors.js';

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  /**
   * @param limit requests allowed per window per key
   * @param windowMs window length, milliseconds
   * @param maxKeys keys tracked at most; the oldest windows are dropped first. @default 100000
   */
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request. @throws AppError 429 with Retry-After when the key is over its limit */
  hit(key: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      if (!w && this.windows.size >= this.maxKeys) this.evict(t);
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > this.limit) throw tooManyRequests(Math.max(1, Math.ceil((w.start + this.windowMs - t) / 1000)));
  }

  private evict(t: number): void {
    for (const [k, w] of this.windows) {
      if (t - w.start >= this.windowMs) this.windows.delete(k);
    }
    // still full: drop the oldest insertion (Map keeps insertion order)
    while (this.windows.size >= this.maxKeys) {
      const first = this.windows.keys().next();
      if (first.done) break;
      this.windows.delete(first.value);
    }
  }
}
