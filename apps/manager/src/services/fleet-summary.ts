// The fleet summary from every OU's direct counts, kept per replica for a few seconds: the counts read
// the whole fleet (bench B9), and every subtree's summary folds from the same counts.
import { foldSummary, type OuCounts, ouCountsQuery, type SummaryRow } from '../db/queries/fleet.js';
import type { Db } from '../db/database.js';

export class FleetSummaryService {
  private cached: { at: number; counts: OuCounts[] } | undefined;
  private loading: Promise<OuCounts[]> | undefined;

  /**
   * @param load every OU's direct counts
   * @param maxAgeMs how long counts are used after their read began (0: read for every summary)
   */
  constructor(
    private readonly load: () => Promise<OuCounts[]>,
    private readonly maxAgeMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  static forDb(db: Db, maxAgeMs?: number): FleetSummaryService {
    return new FleetSummaryService(async () => (await ouCountsQuery().execute(db)).rows, maxAgeMs);
  }

  /** The summary of `parentPath` ('/' for the roots), at most `maxAgeMs` old. */
  async summary(parentPath: string): Promise<SummaryRow[]> {
    return foldSummary(await this.counts(), parentPath);
  }

  /** Counts younger than `maxAgeMs`, or a fresh read shared by every caller that asks meanwhile. */
  private counts(): Promise<OuCounts[]> {
    const c = this.cached;
    if (c && this.now() - c.at < this.maxAgeMs) return Promise.resolve(c.counts);
    this.loading ??= (async () => {
      const at = this.now();
      try {
        const counts = await this.load();
        this.cached = { at, counts };
        return counts;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
