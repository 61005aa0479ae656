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

/** Every process: pid → parent pid, command name (as /proc/PID/comm shows it, from field 2 of stat) and CPU ms. */
export function processTable(): Map<number, { ppid: number; comm: string; ownMs: number; childrenMs: number }> {
  const out = new Map<number, { ppid: number; comm: string; ownMs: number; childrenMs: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      // fields counted from the last ')', as in parseProcStat: field 4 is the parent pid
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.set(Number(d), { ppid, comm: stat.slice(stat.indexOf('(') + 1, close), ...parseProcStat(stat) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * CPU ms of every process named `comm` (as /proc/PID/comm shows it, e.g. "postgres"), summed, plus what
 * the exited ones used: the reaped children's time of each such process whose parent has another name
 * (a postmaster reaps its backends). Without that a backend that exits between two readings (a pool
 * closing an idle connection) took its CPU out of the sum, and a difference could come out negative.
 */
export function commandCpu(comm: string): number {
  let ms = 0;
  const table = processTable();
  for (const p of table.values()) {
    if (p.comm === comm) ms += p.ownMs + (table.get(p.ppid)?.comm === comm ? 0 : p.childrenMs);
  }
  return ms;
}

/**
 * CPU ms of process `pid` and of its descendants named `node`: a manager and its `--workers` processes
 * (not its embedded PostgreSQL, which `commandCpu('postgres')` counts).
 */
export function nodeTreeCpu(pid: number): number {
  const table = processTable();
  const inTree = (p: number): boolean => {
    for (let q: number | undefined = p, hops = 0; q !== undefined && q > 1 && hops < 64; hops++) {
      if (q === pid) return true;
      q = table.get(q)?.ppid;
    }
    return false;
  };
  let ms = 0;
  for (const [p, info] of table) if (p === pid || (info.comm === 'node' && inTree(p))) ms += info.ownMs;
  return ms;
}

/** The machine's CPU time so far, ms summed over its cores, from /proc/stat's `cpu` line. */
export interface MachineCpu {
  /** user, nice, system, irq and softirq: every process and the kernel (guest time is inside user) */
  busyMs: number;
  /** time the hypervisor ran something else while this machine had work */
  stealMs: number;
  /** all of it, idle and iowait included */
  totalMs: number;
}

/** Parses /proc/stat's first line: `cpu  user nice system idle iowait irq softirq steal guest guest_nice`. */
export function parseCpuLine(text: string): MachineCpu {
  const line = text.split('\n', 1)[0] ?? '';
  const [label, ...fields] = line.trim().split(/\s+/);
  if (label !== 'cpu' || fields.length < 8) throw new Error(`not /proc/stat's cpu line: ${line}`);
  // ticks of field i: 0 user, 1 nice, 2 system, 3 idle, 4 iowait, 5 irq, 6 softirq, 7 steal
  const ms = (...i: number[]) => (i.reduce((sum, k) => sum + Number(fields[k]), 0) * 1000) / CLOCK_TICKS;
  return { busyMs: ms(0, 1, 2, 5, 6), stealMs: ms(7), totalMs: ms(0, 1, 2, 3, 4, 5, 6, 7) };
}

/** The machine's CPU time so far (`parseCpuLine` of /proc/stat). */
export const machineCpu = (): MachineCpu => parseCpuLine(readFileSync('/proc/stat', 'utf8'));

/** Between two readings: how busy the whole machine was and how much was stolen from it, % of all its cores' time. */
export function machineShare(a: MachineCpu, b: MachineCpu): { busy: number; steal: number } {
  const total = Math.max(1, b.totalMs - a.totalMs);
  return { busy: ((b.busyMs - a.busyMs) * 100) / total, steal: ((b.stealMs - a.stealMs) * 100) / total };
}
