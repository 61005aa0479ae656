// File layout of the spool directory: segment and ack-log names, ack logs, capped set-aside dirs, throttled logs.
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/** Segment file name for a sequence number: `00000042.seg`. */
export const segmentFile = (seq: number) => `${String(seq).padStart(8, '0')}.seg`;
/** Ack log beside a segment: `00000042.ack`, one acknowledged result id per line. */
export const ackFile = (seq: number) => `${String(seq).padStart(8, '0')}.ack`;
export const QUARANTINE_DIR = 'quarantine';
export const REJECTED_DIR = 'rejected';

/** Sequence numbers of the segments in `dir`, ascending. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .map((n) => /^(\d{8,})\.seg$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Ids in an ack log (missing file: none). A torn or damaged line matches no id, so its result is just uploaded again. */
export async function readAckLog(file: string): Promise<{ ids: Set<string>; bytes: number }> {
  const text = await readFile(file, 'latin1').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return { ids: new Set(text.split('\n').filter((l) => l.length > 0)), bytes: text.length };
}

/** fsyncs a directory so a created, renamed or deleted entry survives a power loss. Errors are ignored. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => undefined);
  await fh?.close().catch(() => undefined);
}

/** True for "no space left" (ENOSPC) and "quota exceeded" (EDQUOT). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * A directory of set-aside files (quarantined bytes, rejected batches) capped in total bytes:
 * after each write the oldest files (by name, which starts with a timestamp) are deleted until
 * the directory fits. Writes never throw: a failure (disk full) is returned as false.
 */
export class SetAsideDir {
  private sizes = new Map<string, number>();

  constructor(
    readonly dir: string,
    /** total bytes kept */
    private readonly capBytes: number,
  ) {}

  /** Creates the directory and learns the sizes of the files already there. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      const st = await stat(path.join(this.dir, name)).catch(() => undefined);
      if (st?.isFile()) this.sizes.set(name, st.size);
    }
  }

  /** Total bytes held. */
  get bytes(): number {
    let total = 0;
    for (const s of this.sizes.values()) total += s;
    return total;
  }

  /** Writes `name` (prefixed with a sortable timestamp), then prunes the oldest files over the cap. */
  async write(name: string, data: Buffer | string, nowMs: number): Promise<boolean> {
    const file = `${new Date(nowMs).toISOString().replace(/[:.]/g, '')}-${name}`;
    try {
      await writeFile(path.join(this.dir, file), data, { mode: 0o600 });
    } catch {
      await rm(path.join(this.dir, file), { force: true }).catch(() => undefined);
      return false;
    }
    this.sizes.set(file, Buffer.byteLength(data));
    const names = [...this.sizes.keys()].sort();
    for (const old of names) {
      if (this.bytes <= this.capBytes || old === file) break;
      await rm(path.join(this.dir, old), { force: true }).catch(() => undefined);
      this.sizes.delete(old);
    }
    return true;
  }
}

/** Logs one line per kind of event at most every `intervalMs`, with how many were folded into it. */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number; folded: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly intervalMs = 60_000,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const seen = this.last.get(kind);
    const now = this.now();
    if (seen && now - seen.at < this.intervalMs) {
      seen.folded++;
      return;
    }
    this.logger.warn({ ...fields, similar_events_folded: seen?.folded ?? 0 }, msg);
    this.last.set(kind, { at: now, folded: 0 });
  }
}
