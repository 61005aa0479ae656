// A value this replica reads at most every `ms` (a copy shared by concurrent callers); a failed read
// is not kept, and `clear` drops the copy at once (on a change message).
export class Recent<T> {
  private cur: { at: number; p: Promise<T> } | undefined;

  constructor(
    private readonly ms: number,
    private readonly load: () => Promise<T>,
  ) {}

  get(): Promise<T> {
    const now = Date.now();
    if (!this.cur || now - this.cur.at > this.ms) {
      const p = this.load();
      this.cur = { at: now, p };
      p.catch(() => {
        if (this.cur?.p === p) this.cur = undefined;
      });
    }
    return this.cur.p;
  }

  clear(): void {
    this.cur = undefined;
  }
}
