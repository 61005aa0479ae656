// A re-armable one-shot timer that remembers when it is due (for status) and never overlaps itself.

export class OneShotTimer {
  private handle: NodeJS.Timeout | undefined;
  private due: number | undefined;

  /** Epoch milliseconds of the pending fire, or undefined. */
  get dueAt(): number | undefined {
    return this.due;
  }

  /** (Re)arms the timer: `fn` runs once after `delayMs` (clamped to ≥ 0); any earlier arming is dropped. */
  schedule(delayMs: number, fn: () => void): void {
    this.cancel();
    const delay = Math.max(0, Math.round(delayMs));
    this.due = Date.now() + delay;
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.due = undefined;
      fn();
    }, delay);
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
    this.due = undefined;
  }
}
