// The spool on a real 256 KiB tmpfs (root only): disk-full overflow policy, no throw, restart on a full disk.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../testing/fakes.js';
import { canMount, fillDisk, mountTmpfs, type Tmpfs } from '../testing/tmpfs.js';
import { Spool } from './spool.js';
import { envelope, readSegment, segmentNames } from './testing.js';

let disk: Tmpfs;
let spoolDir: string;
const open: Spool[] = [];

describe.skipIf(!canMount)('spool on a 256 KiB tmpfs', () => {
  beforeEach(async () => {
    disk = await mountTmpfs(256);
    spoolDir = path.join(disk.dir, 'spool');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await disk.unmount();
  });

  async function openSpool() {
    const { logger, lines } = memoryLogger();
    const spool = await Spool.open({ dir: spoolDir, logger }); // default cap: 64 MiB, far over the disk
    open.push(spool);
    return { spool, lines };
  }

  it('a cap larger than the disk: a full disk drops the oldest segments, keeps the newest, never fails an append', async () => {
    const { spool, lines } = await openSpool();
    expect(spool.segmentBytes).toBe(16 * 1024); // sized from the 256 KiB file system, not the 64 MiB cap
    expect(lines.filter((l) => l.msg?.toString().startsWith('spool cap exceeds the free disk space'))).toHaveLength(1);
    const envs = Array.from({ length: 3000 }, (_, i) => envelope(i, 100));
    for (const e of envs) expect(await spool.append(e)).toBe(true);
    const c = spool.counters();
    expect(c).toMatchObject({ appended: 3000, dropped_unwritable: 0 });
    expect(c.dropped_overflow).toBeGreaterThan(1000);
    expect(c.backlog + c.dropped_overflow).toBe(3000);
    const kept = await spool.readBatch(5000, 64 * 1024 * 1024);
    expect(kept.map((r) => r.envelope.id)).toEqual(envs.slice(3000 - c.backlog).map((e) => e.id));
    // one warning line per minute, however many segments were dropped
    expect(lines.filter((l) => l.msg === 'spool full: dropped the oldest results')).toHaveLength(1);

    // a restart on the full disk recovers everything that was kept
    await spool.close();
    const again = await openSpool();
    expect(again.spool.backlog).toBe(c.backlog);
    expect(await again.spool.append(envelope(3000, 100))).toBe(true);
  });

  it('a disk filled by something else: new results are dropped and counted, and spooling resumes once there is room', async () => {
    const { spool, lines } = await openSpool();
    const filler = path.join(disk.dir, 'filler');
    await fillDisk(filler);
    for (let i = 1; i <= 50; i++) expect(await spool.append(envelope(i))).toBe(false);
    expect(spool.counters()).toMatchObject({ dropped_unwritable: 50, backlog: 0, appended: 0 });
    expect(lines.filter((l) => l.msg === 'could not spool results; dropped')).toHaveLength(1);
    await rm(filler);
    expect(await spool.append(envelope(51))).toBe(true);
    expect(spool.backlog).toBe(1);
  });

  it('squeezed by other data into its last pages: still keeps the newest results, dropping older ones', async () => {
    const { spool } = await openSpool();
    for (let i = 0; i < 5; i++) expect(await spool.append(envelope(i))).toBe(true);
    await fillDisk(path.join(disk.dir, 'filler'));
    const envs = Array.from({ length: 200 }, (_, i) => envelope(100 + i));
    for (const e of envs) expect(await spool.append(e)).toBe(true);
    const c = spool.counters();
    expect(c).toMatchObject({ appended: 205, dropped_unwritable: 0 });
    expect(c.backlog + c.dropped_overflow).toBe(205);
    const kept = await spool.readBatch(1000, 1 << 20);
    expect(kept.map((r) => r.envelope.id)).toEqual(envs.slice(200 - c.backlog).map((e) => e.id));
  });

  it('recovers on a completely full disk with a corrupt record: counted, opens, the rest kept', async () => {
    const first = await openSpool();
    const envs = Array.from({ length: 20 }, (_, i) => envelope(i));
    for (const e of envs) await first.spool.append(e);
    await first.spool.close();
    const [name] = await segmentNames(spoolDir);
    const buf = await readSegment(spoolDir, name!);
    const at = buf.indexOf(envs[7]!.id);
    buf[at] = buf[at]! ^ 0x04;
    await writeFile(path.join(spoolDir, name!), buf);
    await fillDisk(path.join(disk.dir, 'filler'));

    const second = await openSpool();
    expect(second.spool.counters()).toMatchObject({ quarantined: 1, backlog: 19 });
    const ids = (await second.spool.readBatch(100, 1 << 20)).map((r) => r.envelope.id);
    expect(ids).toEqual(envs.filter((_, i) => i !== 7).map((e) => e.id));
  });
});
