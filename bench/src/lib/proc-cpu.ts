// CPU time of a process from /proc/PID/stat (utime + stime, and children's when asked).
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/PID/stat times (USER_HZ; 100 on Linux). */
export const CLOCK_TICKS = 100;

/**
 * Parses /proc/PID/stat text into CPU ms: own user+system, and children's (waited-for) user+system.
 * The command name (field 2) may contain spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): { ownMs: number; childrenMs: number } {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime = field 14 → rest[11], stime 15, cutime 16, cstime 17
  const f = (field: number) => Number(rest[field - 3]);
  const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
  return { ownMs: ms(f(14) + f(15)), childrenMs: ms(f(16) + f(17)) };
}

/** CPU ms of process `pid` ('self' for this one). */
export function processCpu(pid: number | 'self'): { ownMs: number; childrenMs: number } {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU ms of every process named `comm` (as /proc/PID/comm shows it, e.g. "postgres"), summed. */
export function commandCpu(comm: string): number {
  let ms = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) ms += processCpu(Number(d)).ownMs;
    } catch {
      // exited meanwhile
    }
  }
  return ms;
}
