// Owner records of live labs (/run/rookery-lab/<id>.json) so a sweeper removes only labs whose owner died.
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { LabId } from './names.js';

/** Where owner records live; `ROOKERY_LAB_STATE_DIR` overrides it (tests). @default /run/rookery-lab */
export function stateDir(): string {
  return process.env.ROOKERY_LAB_STATE_DIR ?? '/run/rookery-lab';
}

/** What the sweeper needs to know about one lab. */
export interface LabRecord {
  id: LabId;
  /** PID of the process that owns the lab */
  ownerPid: number;
  /** start time of the owner (clock ticks since boot, /proc/PID/stat field 22), so a reused PID is not mistaken for it */
  ownerStart: number | null;
  /** ISO time of creation */
  createdAt: string;
  /** namespaces the lab creates (written before they exist) */
  namespaces: string[];
  /** WireGuard interfaces started by the lab */
  wireguard: string[];
}

/** Start time of a process in clock ticks since boot, or null when it does not exist. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/** True while the lab's owner process is running (same PID and same start time). */
export function ownerAlive(record: Pick<LabRecord, 'ownerPid' | 'ownerStart'>): boolean {
  const start = processStartTime(record.ownerPid);
  if (start === null) return false;
  return record.ownerStart === null || start === record.ownerStart;
}

function recordPath(id: LabId): string {
  return path.join(stateDir(), `${id}.json`);
}

/** Writes (atomically replaces) a lab's record, mode 0600. */
export function writeRecord(record: LabRecord): void {
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const file = recordPath(record.id);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes a lab's record; missing is fine. */
export function removeRecord(id: LabId): void {
  rmSync(recordPath(id), { force: true });
}

/** Every readable record; unreadable or malformed files are skipped. */
export function readRecords(): LabRecord[] {
  let files: string[];
  try {
    files = readdirSync(stateDir());
  } catch {
    return [];
  }
  const records: LabRecord[] = [];
  for (const f of files) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(path.join(stateDir(), f), 'utf8')) as LabRecord;
      if (typeof r.id === 'string' && typeof r.ownerPid === 'number' && Array.isArray(r.namespaces)) {
        records.push({ ...r, wireguard: Array.isArray(r.wireguard) ? r.wireguard : [] });
      }
    } catch {
      // a record being written or a foreign file: not ours to judge
    }
  }
  return records;
}
