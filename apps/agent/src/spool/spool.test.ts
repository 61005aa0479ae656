// Tests of the spool on a real directory: append/read/ack, restart, rotation, caps, corruption, set-aside.
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../testing/fakes.js';
import { Spool, type SpoolOptions } from './spool.js';
import { envelope, readSegment, segmentNames, tempSpoolDir } from './testing.js';

let dir: string;
const open: Spool[] = [];

beforeEach(async () => {
  dir = await tempSpoolDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openSpool(options: Partial<SpoolOptions> = {}) {
  const { logger, lines } = memoryLogger();
  const spool = await Spool.open({ dir, logger, ...options });
  open.push(spool);
  return { spool, lines };
}

async function reopen(spool: Spool, options: Partial<SpoolOptions> = {}) {
  await spool.close();
  return openSpool(options);
}

describe('Spool', () => {
  it('appends, reads back oldest first in batches, and deletes what was acknowledged', async () => {
    const { spool } = await openSpool();
    const envs = Array.from({ length: 25 }, (_, i) => envelope(i));
    expect(await Promise.all(envs.map((e) => spool.append(e)))).toEqual(envs.map(() => true));
    expect(spool.backlog).toBe(25);
    const first = await spool.readBatch(10, 1024 * 1024);
    expect(first.map((r) => r.envelope)).toEqual(envs.slice(0, 10));
    await spool.ack(first);
    expect(spool.backlog).toBe(15);
    const rest = await spool.readBatch(100, 1024 * 1024);
    expect(rest.map((r) => r.envelope.id)).toEqual(envs.slice(10).map((e) => e.id));
    await spool.ack(rest);
    expect(spool.counters()).toMatchObject({ appended: 25, uploaded: 25, backlog: 0 });
    await spool.close();
    expect(await segmentNames(dir)).toEqual([]); // the fully acknowledged segment went on close
  });

  it('limits a batch by bytes but always returns at least one record', async () => {
    const { spool } = await openSpool();
    for (let i = 0; i < 5; i++) await spool.append(envelope(i, 1000));
    expect(await spool.readBatch(100, 2500)).toHaveLength(2);
    expect(await spool.readBatch(100, 10)).toHaveLength(1);
  });

  it('keeps unacknowledged results across a restart and forgets acknowledged ones', async () => {
    const first = await openSpool();
    const envs = Array.from({ length: 6 }, (_, i) => envelope(i));
    for (const e of envs) await first.spool.append(e);
    const batch = await first.spool.readBatch(4, 1 << 20);
    await first.spool.ack([batch[0]!, batch[2]!]);
    const second = await reopen(first.spool);
    expect(second.spool.backlog).toBe(4);
    const ids = (await second.spool.readBatch(100, 1 << 20)).map((r) => r.envelope.id);
    expect(ids).toEqual([envs[1], envs[3], envs[4], envs[5]].map((e) => e!.id));
    expect(second.lines.find((l) => l.msg === 'spool recovered')).toMatchObject({ records: 6, backlog: 4 });
  });

  it('rotates segments and deletes each one once all its records are acknowledged', async () => {
    const { spool } = await openSpool({ segmentBytes: 4096 });
    for (let i = 0; i < 40; i++) await spool.append(envelope(i, 200));
    const segments = await segmentNames(dir);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const name of segments) expect((await readSegment(dir, name)).length).toBeLessThanOrEqual(4096);
    const batch = await spool.readBatch(15, 1 << 20);
    await spool.ack(batch);
    expect((await segmentNames(dir))[0]).not.toBe(segments[0]);
    expect(spool.counters().segments).toBe((await segmentNames(dir)).length);
  });

  it('over max bytes drops the oldest whole segments, counts them, and logs once per minute', async () => {
    const { spool, lines } = await openSpool({ maxBytes: 16 * 1024, segmentBytes: 4096 });
    const envs = Array.from({ length: 200 }, (_, i) => envelope(i, 100));
    for (const e of envs) expect(await spool.append(e)).toBe(true);
    const c = spool.counters();
    expect(c.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(c.dropped_overflow).toBeGreaterThan(0);
    expect(c.backlog + c.dropped_overflow).toBe(200);
    const kept = (await spool.readBatch(1000, 1 << 20)).map((r) => r.envelope.id);
    expect(kept).toEqual(envs.slice(200 - kept.length).map((e) => e.id)); // the newest survive
    const warnings = lines.filter((l) => l.msg === 'spool full: dropped the oldest results');
    expect(warnings).toHaveLength(1);
  });

  it('drops results older than max age, before appends and after a restart (segment mtime)', async () => {
    let now = 1_800_000_000_000;
    const { spool } = await openSpool({ maxAgeMs: 3600_000, segmentBytes: 4096, now: () => now });
    for (let i = 0; i < 30; i++) await spool.append(envelope(i, 200));
    const before = spool.backlog;
    now += 3600_001;
    await spool.append(envelope(99));
    expect(spool.counters()).toMatchObject({ dropped_expired: before, backlog: 1 });

    const again = await reopen(spool);
    expect(again.spool.backlog).toBe(1);
    const [name] = await segmentNames(dir);
    const old = new Date(Date.now() - 8 * 24 * 3600_000);
    await utimes(path.join(dir, name!), old, old);
    const third = await reopen(again.spool);
    expect(third.spool.counters()).toMatchObject({ backlog: 0, dropped_expired: 1 });
  });

  it('quarantines a record with a flipped byte, keeps the others, and does not count it again next start', async () => {
    const first = await openSpool();
    const envs = Array.from({ length: 10 }, (_, i) => envelope(i));
    for (const e of envs) await first.spool.append(e);
    await first.spool.close();
    const [name] = await segmentNames(dir);
    const buf = await readSegment(dir, name!);
    const at = buf.indexOf(envs[4]!.id) + 3;
    buf[at] = buf[at]! ^ 0x20;
    await writeFile(path.join(dir, name!), buf);

    const second = await openSpool();
    expect(second.spool.counters()).toMatchObject({ quarantined: 1, backlog: 9 });
    const ids = (await second.spool.readBatch(100, 1 << 20)).map((r) => r.envelope.id);
    expect(ids).toEqual(envs.filter((_, i) => i !== 4).map((e) => e.id));
    const q = await readdir(path.join(dir, 'quarantine'));
    expect(q).toHaveLength(1);
    expect((await readFile(path.join(dir, 'quarantine', q[0]!))).length).toBe(buf.length / 10);
    expect(second.lines.some((l) => l.msg === 'spool recovered; corrupt records quarantined')).toBe(true);

    const third = await reopen(second.spool);
    expect(third.spool.counters()).toMatchObject({ quarantined: 0, backlog: 9 });
  });

  it('keeps a repaired segment as old as it was (the max-age cap still applies)', async () => {
    const first = await openSpool();
    for (let i = 0; i < 3; i++) await first.spool.append(envelope(i));
    await first.spool.close();
    const [name] = await segmentNames(dir);
    const buf = await readSegment(dir, name!);
    await writeFile(path.join(dir, name!), Buffer.concat([buf, buf.subarray(0, 5)])); // torn tail
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(dir, name!), old, old);
    const second = await openSpool();
    expect(second.spool.counters()).toMatchObject({ torn_tails: 1, backlog: 3 });
    await second.spool.close();
    const third = await openSpool({ maxAgeMs: 3600_000 });
    expect(third.spool.counters()).toMatchObject({ dropped_expired: 3, backlog: 0 });
  });

  it('truncates a torn tail and keeps appending after it', async () => {
    const first = await openSpool();
    const envs = Array.from({ length: 5 }, (_, i) => envelope(i));
    for (const e of envs) await first.spool.append(e);
    await first.spool.close();
    const [name] = await segmentNames(dir);
    const buf = await readSegment(dir, name!);
    await writeFile(path.join(dir, name!), buf.subarray(0, buf.length - 7));

    const second = await openSpool();
    expect(second.spool.counters()).toMatchObject({ torn_tails: 1, quarantined: 0, backlog: 4 });
    await second.spool.append(envelope(5));
    const third = await reopen(second.spool);
    expect(third.spool.counters()).toMatchObject({ torn_tails: 0, backlog: 5 });
  });

  it('quarantines a record that went bad on disk while running', async () => {
    const { spool } = await openSpool();
    const envs = Array.from({ length: 3 }, (_, i) => envelope(i));
    for (const e of envs) await spool.append(e);
    const [name] = await segmentNames(dir);
    const buf = await readSegment(dir, name!);
    const at = buf.indexOf(envs[1]!.id);
    buf[at] = buf[at]! ^ 1;
    await writeFile(path.join(dir, name!), buf);
    const batch = await spool.readBatch(10, 1 << 20);
    expect(batch.map((r) => r.envelope.id)).toEqual([envs[0]!.id, envs[2]!.id]);
    expect(spool.counters()).toMatchObject({ quarantined: 1, backlog: 2 });
  });

  it('counts results as lost when their segment file vanished, and carries on with the others', async () => {
    const { spool, lines } = await openSpool({ segmentBytes: 4096 });
    for (let i = 0; i < 30; i++) await spool.append(envelope(i, 200));
    const [first, second] = await segmentNames(dir);
    const total = spool.counters().backlog;
    await rm(path.join(dir, first!));
    const batch = await spool.readBatch(1000, 1 << 20);
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.every((r) => `${String(r.seq).padStart(8, '0')}.seg` !== first)).toBe(true);
    expect(spool.counters().lost + batch.length).toBe(total);
    expect(second).toBeDefined();
    expect(lines.some((l) => l.msg === 'spool segment unreadable; its results are lost')).toBe(true);
  });

  it('sets rejected results aside in rejected/ with the reason', async () => {
    const { spool } = await openSpool();
    for (let i = 0; i < 4; i++) await spool.append(envelope(i));
    const batch = await spool.readBatch(2, 1 << 20);
    await spool.setAside(batch, { status: 422, error: 'validation_failed', message: 'bad batch' });
    expect(spool.counters()).toMatchObject({ rejected: 2, backlog: 2 });
    const [file] = await readdir(path.join(dir, 'rejected'));
    const doc = JSON.parse(await readFile(path.join(dir, 'rejected', file!), 'utf8')) as Record<string, unknown>;
    expect(doc).toMatchObject({ status: 422, error: 'validation_failed', results: batch.map((r) => r.envelope) });
  });

  it('drops a result it cannot frame without throwing, and refuses appends after close', async () => {
    const { spool, lines } = await openSpool();
    expect(await spool.append(envelope(1, 2 * 1024 * 1024))).toBe(false);
    await spool.close();
    expect(await spool.append(envelope(2))).toBe(false);
    expect(spool.counters().dropped_unwritable).toBe(2);
    expect(lines.filter((l) => l.msg === 'could not spool results; dropped')).toHaveLength(1);
  });

  it('ignores acks for records whose segment was dropped meanwhile', async () => {
    const { spool } = await openSpool({ maxBytes: 8192, segmentBytes: 4096 });
    for (let i = 0; i < 5; i++) await spool.append(envelope(i, 500));
    const batch = await spool.readBatch(2, 1 << 20);
    for (let i = 0; i < 20; i++) await spool.append(envelope(i, 500));
    await spool.ack(batch);
    expect(spool.counters().uploaded).toBe(0);
  });
});
