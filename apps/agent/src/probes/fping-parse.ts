// Pure parser of `fping -C N -q` output (stderr): per-target RTTs with "-" for lost; see fixtures/.

export interface FpingTarget {
  target: string;
  /** RTT in ms by sequence, null where no reply came */
  samplesMs: (number | null)[];
  duplicates: number;
}

const COUNT_LINE = /^(\S+)\s+:\s+((?:(?:[\d.]+|-)\s*)+)$/;
const DUPLICATE = /^(\S+)\s+:\s+duplicate for \[(\d+)\]/;

/** Parses fping's -C summary lines (and counts "duplicate for" lines), in target order. */
export function parseFpingCount(output: string): FpingTarget[] {
  const byTarget = new Map<string, FpingTarget>();
  const dups = new Map<string, number>();
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = DUPLICATE.exec(line))) {
      dups.set(m[1] as string, (dups.get(m[1] as string) ?? 0) + 1);
    } else if ((m = COUNT_LINE.exec(line))) {
      const samplesMs = (m[2] as string)
        .trim()
        .split(/\s+/)
        .map((t) => (t === '-' ? null : Number(t)));
      const target = m[1] as string;
      const prev = byTarget.get(target);
      // fping prints one line per target; the same target named twice gets two lines
      byTarget.set(prev ? `${target}#${byTarget.size}` : target, { target, samplesMs, duplicates: 0 });
    }
  }
  const out = [...byTarget.values()];
  for (const t of out) t.duplicates = dups.get(t.target) ?? 0;
  return out;
}
