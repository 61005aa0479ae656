// Spool: append throughput with its fsync policy (one at a time and group commit) and recovery time for 100k
// records, each beside a raw reference in the same run (write+fdatasync per record; readFile+crc32 of the bytes).
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { createLogger } from '../../apps/agent/src/log.js';
import { encodeFrame } from '../../apps/agent/src/spool/frame.js';
import { Spool } from '../../apps/agent/src/spool/spool.js';
import { newResultId } from '../../apps/agent/src/tasks/result-id.js';
import type { ResultEnvelope } from '@rookery/protocol';
import { machineLine, publish } from './lib/results.js';

/** A typical TCP result as the agent spools it (~330 bytes of JSON). */
function typical(n: number): ResultEnvelope {
  return {
    id: newResultId(),
    result: {
      kind: 'tcp',
      target: `10.20.${n % 250}.${n % 200}:443`,
      ok: true,
      startedAt: new Date().toISOString(),
      durationMs: 1.734,
      metrics: {
        connect_ms: 1.734,
        local_address: '10.0.0.5',
        local_port: 40000 + (n % 20000),
        remote_address: '10.20.1.1',
      },
    },
  };
}

export interface SpoolBenchRow {
  what: string;
  records: number;
  ms: number;
  perSecond: number;
}

const logger = createLogger('silent');
const rate = (what: string, records: number, ms: number): SpoolBenchRow => ({
  what,
  records,
  ms,
  perSecond: (records / ms) * 1000,
});

async function rawAppendFsync(dir: string, n: number): Promise<SpoolBenchRow> {
  const frames = Array.from({ length: n }, (_, i) => encodeFrame(Buffer.from(JSON.stringify(typical(i)))));
  const fh = await open(path.join(dir, 'raw.bin'), 'a');
  const t0 = performance.now();
  for (const f of frames) {
    await fh.write(f);
    await fh.datasync();
  }
  const ms = performance.now() - t0;
  await fh.close();
  return rate('reference: raw write + fdatasync per record', n, ms);
}

async function spoolAppends(dir: string, n: number, inFlight: number): Promise<SpoolBenchRow> {
  const spool = await Spool.open({ dir, logger });
  const envs = Array.from({ length: n }, (_, i) => typical(i));
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < envs.length) if (!(await spool.append(envs[next++]!))) throw new Error('append dropped');
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - t0;
  await spool.close();
  const what =
    inFlight === 1
      ? 'spool.append, one at a time (fdatasync each)'
      : `spool.append, ${inFlight} in flight (group commit)`;
  return rate(what, n, ms);
}

async function recovery(dir: string, n: number): Promise<SpoolBenchRow[]> {
  const spool = await Spool.open({ dir, logger });
  let next = 0;
  const worker = async () => {
    while (next < n) await spool.append(typical(next++));
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  await spool.close();
  const t0 = performance.now();
  let bytes = 0;
  for (const name of (await readdir(dir)).filter((x) => x.endsWith('.seg'))) {
    const buf = await readFile(path.join(dir, name));
    bytes += buf.length;
    crc32(buf);
  }
  const rawMs = performance.now() - t0;
  const t1 = performance.now();
  const reopened = await Spool.open({ dir, logger });
  const ms = performance.now() - t1;
  if (reopened.backlog !== n) throw new Error(`recovered ${reopened.backlog} of ${n}`);
  await reopened.close();
  return [
    rate(`reference: readFile + crc32 of the ${(bytes / 2 ** 20).toFixed(1)} MiB of segments`, n, rawMs),
    rate('Spool.open recovery (scan, CRC, ids, ack logs)', n, ms),
  ];
}

/** Runs the spool benchmark in a temp dir on the disk that holds `os.tmpdir()`. */
export async function runSpoolBench(): Promise<SpoolBenchRow[]> {
  const base = await mkdtemp(path.join(tmpdir(), 'rk-spool-bench-'));
  try {
    const rows: SpoolBenchRow[] = [];
    rows.push(await rawAppendFsync(base, 2000));
    rows.push(await spoolAppends(path.join(base, 'seq'), 2000, 1));
    rows.push(await spoolAppends(path.join(base, 'group'), 50_000, 64));
    rows.push(...(await recovery(path.join(base, 'recovery'), 100_000)));
    return rows;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

export async function spoolBench(command: string): Promise<void> {
  const rows = await runSpoolBench();
  const lines = [
    '## Spool — append throughput and recovery',
    '',
    `Command: \`${command}\` · ${machineLine()} · spool in \`${tmpdir()}\``,
    '',
    'Typical TCP result envelopes (~330 B of JSON). Appends resolve after write + fdatasync; appends',
    'arriving during a sync share the next one (group commit). Recovery = `Spool.open` on 100k unacknowledged',
    'records (scan, CRC-32, id per record, ack logs), beside reading and CRC-ing the same bytes.',
    '',
    '| what | records | ms | records/s |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.what} | ${r.records} | ${r.ms.toFixed(0)} | ${r.perSecond.toFixed(0)} |`),
    '',
  ];
  const [raw, seq, group, rawRead, recover] = rows;
  if (raw && seq && group && rawRead && recover) {
    lines.push(
      `- one at a time ÷ raw write+fdatasync: **${(seq.perSecond / raw.perSecond).toFixed(2)}×**; group commit ÷ raw: **${(group.perSecond / raw.perSecond).toFixed(1)}×**`,
      `- recovery of 100k records: **${recover.ms.toFixed(0)} ms** (${(recover.ms / rawRead.ms).toFixed(1)}× reading + CRC-ing the bytes)`,
    );
  }
  await publish('SPOOL', lines.join('\n'), rows);
  process.stdout.write(`${lines.join('\n')}\n`);
}
