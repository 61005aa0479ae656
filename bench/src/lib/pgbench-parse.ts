// Parses pgbench's summary output (PostgreSQL 15) for B3's single-row UPDATE reference.

/** `tps = N (without initial connection time)` from pgbench output; NaN when absent. */
export function parsePgbenchTps(out: string): number {
  const m = out.match(/tps = ([\d.]+) \(without initial connection time\)/);
  return m ? Number(m[1]) : Number.NaN;
}
