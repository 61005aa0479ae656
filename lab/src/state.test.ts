import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ownerAlive, processStartTime, readRecords, removeRecord, writeRecord } from './state.js';
import { sweep } from './sweep.js';

describe('lab records', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rk-state-test-'));
    process.env.ROOKERY_LAB_STATE_DIR = dir;
  });
  afterEach(() => {
    delete process.env.ROOKERY_LAB_STATE_DIR;
    rmSync(dir, { recursive: true, force: true });
  });

  const deadPid = () => spawnSync('true').pid ?? 0;
  const record = (id: string, ownerPid: number, ownerStart: number | null) => ({
    id,
    ownerPid,
    ownerStart,
    createdAt: new Date().toISOString(),
    namespaces: [`rk${id}-a`],
    wireguard: [],
  });

  it('tells a live owner from a dead one and from a reused PID', () => {
    const start = processStartTime(process.pid);
    expect(start).toBeTypeOf('number');
    expect(ownerAlive({ ownerPid: process.pid, ownerStart: start })).toBe(true);
    expect(ownerAlive({ ownerPid: process.pid, ownerStart: (start ?? 0) + 1 })).toBe(false);
    expect(ownerAlive({ ownerPid: deadPid(), ownerStart: null })).toBe(false);
  });

  it('writes, reads and removes records, skipping foreign files', () => {
    writeRecord(record('1aaaaa', process.pid, processStartTime(process.pid)));
    writeFileSync(path.join(dir, 'junk.json'), '{not json');
    expect(readRecords().map((r) => r.id)).toEqual(['1aaaaa']);
    removeRecord('1aaaaa');
    expect(readRecords()).toEqual([]);
  });

  it('sweeps only labs whose owner is dead', () => {
    writeRecord(record('1aaaaa', process.pid, processStartTime(process.pid)));
    writeRecord(record('2bbbbb', deadPid(), null));
    const report = sweep({ dryRun: true });
    expect(report.labs).toEqual(['2bbbbb']);
    expect(readRecords()).toHaveLength(2);
    expect(sweep().labs).toEqual(['2bbbbb']);
    expect(readRecords().map((r) => r.id)).toEqual(['1aaaaa']);
  });
});
