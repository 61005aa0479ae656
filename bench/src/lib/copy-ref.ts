// The COPY reference of the ingest benchmarks: text-format `COPY … FROM STDIN` of result rows into a
// plain table with the columns, primary key and start-time index of `results`.
import type { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { commandCpu } from './proc-cpu.js';

/** Columns of a COPY line, tab-separated, in this order (`\N` for NULL). */
export const COPY_COLUMNS =
  'id, device_id, ou_id, kind, target, started_at, duration_ms, ok, error_code, latency_ms, jitter_ms, loss_pct, metrics';

/** A text value for a COPY line: backslashes doubled (the rows here hold no tabs or newlines). */
export const copyText = (s: string) => s.replace(/\\/g, '\\\\');

function* chunks(lines: string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += 1000) yield `${lines.slice(i, i + 1000).join('\n')}\n`;
}

/**
 * Creates `copy_ref` and COPYs `lines` into it on one connection of `pool`.
 * @returns rows in the table afterwards, wall ms of the COPY, and CPU µs per row of every postgres process
 */
export async function copyReference(
  pool: pg.Pool,
  lines: string[],
): Promise<{ rows: number; ms: number; postgresUsPerRow: number }> {
  await pool.query('CREATE TABLE copy_ref (LIKE results INCLUDING DEFAULTS, PRIMARY KEY (device_id, started_at, id))');
  await pool.query('CREATE INDEX ON copy_ref (started_at)');
  const client = await pool.connect();
  try {
    const c0 = commandCpu('postgres');
    const t0 = performance.now();
    const stream = client.query(copyFrom(`COPY copy_ref (${COPY_COLUMNS}) FROM STDIN`));
    await pipeline(Readable.from(chunks(lines)), stream as unknown as Writable);
    const ms = performance.now() - t0;
    const pgMs = commandCpu('postgres') - c0;
    const rows = Number((await client.query('SELECT count(*) AS n FROM copy_ref')).rows[0].n);
    return { rows, ms, postgresUsPerRow: (pgMs * 1000) / Math.max(1, rows) };
  } finally {
    client.release();
    await pool.query('DROP TABLE IF EXISTS copy_ref');
  }
}
