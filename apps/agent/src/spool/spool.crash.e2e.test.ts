// Cross-process: a spool writer killed with SIGKILL mid-append, repeatedly, plus a flipped byte → recovery keeps every durable record.
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../testing/fakes.js';
import { Spool } from './spool.js';
import { segmentNames, tempSpoolDir } from './testing.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const WRITER = 'apps/agent/src/testing/spool-writer.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempSpoolDir();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the writer; kills it with SIGKILL once `killAfter` ids were durable (or lets "torn" kill itself). */
function runWriter(mode: 'run' | 'torn', killAfter: number) {
  const proc = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, mode], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ids: string[] = [];
  let ready: Record<string, number> | undefined;
  let buffered = '';
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise<{ ids: string[]; ready: Record<string, number>; signal: string | null }>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready ')) ready = JSON.parse(line.slice(6)) as Record<string, number>;
        else ids.push(line);
      }
      if (mode === 'run' && ids.length >= killAfter && proc.exitCode === null) proc.kill('SIGKILL');
    });
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`writer never got ready: ${stderr}`));
      else resolve({ ids, ready, signal });
    });
  });
}

describe('spool crash safety (kill -9)', () => {
  it('keeps every record acknowledged before a SIGKILL, over several crashes, a torn append and a flipped byte', async () => {
    const durable: string[] = [];
    for (const killAfter of [150, 40, 300, 90]) {
      const round = await runWriter('run', killAfter);
      expect(round.signal).toBe('SIGKILL');
      expect(round.ready.quarantined).toBe(0);
      durable.push(...round.ids);
    }
    const torn = await runWriter('torn', 0);
    expect(torn.signal).toBe('SIGKILL');
    durable.push(...torn.ids);
    expect(durable.length).toBeGreaterThan(580);

    // the half frame left by the torn round is cut off; every durable record is there, once
    const { logger } = memoryLogger();
    let spool = await Spool.open({ dir, logger });
    expect(spool.counters()).toMatchObject({ torn_tails: 1, quarantined: 0 });
    let ids = (await spool.readBatch(1_000_000, 1 << 30)).map((r) => r.envelope.id);
    expect(new Set(ids).size).toBe(ids.length);
    const recovered = new Set(ids);
    expect(durable.filter((id) => !recovered.has(id))).toEqual([]);
    await spool.close();

    // a flipped byte inside one record: that record is quarantined and counted, all others kept
    const names = await segmentNames(dir);
    const victimSegment = names[Math.floor(names.length / 2)]!;
    const buf = await readFile(path.join(dir, victimSegment));
    const victimId = durable.find((id) => buf.includes(id))!;
    const at = buf.indexOf(victimId) + 100;
    buf[at] = buf[at]! ^ 0x10;
    await writeFile(path.join(dir, victimSegment), buf);
    spool = await Spool.open({ dir, logger });
    expect(spool.counters()).toMatchObject({ quarantined: 1 });
    ids = (await spool.readBatch(1_000_000, 1 << 30)).map((r) => r.envelope.id);
    expect(ids).not.toContain(victimId);
    const after = new Set(ids);
    expect(durable.filter((id) => id !== victimId && !after.has(id))).toEqual([]);
    await spool.close();
  }, 120_000);
});
