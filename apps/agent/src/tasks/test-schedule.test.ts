// Tests of timer 1 (test runs) with fake time: first run, per-run jitter, schedule changes, no overlap.
import { type ConfigValues, DEFAULT_CONFIG_VALUES } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemorySink, memoryLogger } from '../testing/fakes.js';
import type { ProbeRunner } from './probe-runner.js';
import { type ActiveConfig, TestSchedule } from './test-schedule.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
function config(interval: number, offset: number, version: number | null = null): ActiveConfig {
  const values: ConfigValues = structuredClone(DEFAULT_CONFIG_VALUES);
  values.tests.tcp.targets = ['127.0.0.1:1'];
  values.schedule = { interval_seconds: interval, offset_percent: offset };
  return { values, source: version === null ? 'local' : 'manager', version, name: null };
}

function setup(runMs = 0) {
  const starts: number[] = [];
  const ends: number[] = [];
  const runner: ProbeRunner = {
    async run() {
      starts.push(Date.now());
      await new Promise((r) => setTimeout(r, runMs));
      ends.push(Date.now());
      return { ok: true, data: {} };
    },
  };
  const ac = new AbortController();
  let finished = 0;
  const schedule = new TestSchedule(config(300, 0), {
    runner,
    sink: new MemorySink(),
    logger: memoryLogger().logger,
    signal: ac.signal,
    rng: () => 0.5,
    onRunFinished: () => Promise.resolve(void finished++),
  });
  return { schedule, starts, ends, ac, finished: () => finished };
}

beforeEach(() => vi.useFakeTimers({ now: T0 }));
afterEach(() => vi.useRealTimers());

describe('TestSchedule', () => {
  it('runs at once on the first config, then every interval', async () => {
    const t = setup();
    expect(t.schedule.started).toBe(false);
    t.schedule.apply(config(300, 0));
    expect(t.schedule.nextRunAt).toBe(T0);
    await vi.advanceTimersByTimeAsync(900_001);
    expect(t.starts).toEqual([T0, T0 + 300_000, T0 + 600_000, T0 + 900_000]);
    expect(t.finished()).toBe(4);
    expect(t.schedule.lastRunAt).toBe(T0 + 900_000);
  });

  it('moves the next run to last run + the new interval when the schedule changes, never into the past', async () => {
    const t = setup();
    t.schedule.apply(config(300, 0));
    await vi.advanceTimersByTimeAsync(100_000);
    t.schedule.apply(config(600, 0, 2), 590);
    expect(t.schedule.nextRunAt).toBe(T0 + 590_000);
    t.schedule.apply(config(600, 0, 3));
    expect(t.schedule.nextRunAt).toBe(T0 + 590_000); // same schedule: timer untouched
    await vi.advanceTimersByTimeAsync(500_000);
    t.schedule.apply(config(60, 0, 4)); // last run at T0 + 590 s; +60 s is already past
    expect(t.schedule.nextRunAt).toBe(T0 + 650_000);
    await vi.advanceTimersByTimeAsync(50_000);
    expect(t.starts).toEqual([T0, T0 + 590_000, T0 + 650_000]);
  });

  it('never overlaps runs when a run outlasts the interval', async () => {
    const t = setup(400_000);
    t.schedule.apply(config(300, 0));
    await vi.advanceTimersByTimeAsync(1_300_000);
    expect(t.starts).toHaveLength(4);
    // each run starts right after the previous one ended (Node turns a 0 ms timer into 1 ms)
    for (let i = 1; i < t.starts.length; i++) {
      expect((t.starts[i] as number) - (t.ends[i - 1] as number)).toBeGreaterThanOrEqual(0);
      expect((t.starts[i] as number) - (t.ends[i - 1] as number)).toBeLessThanOrEqual(1);
    }
  });

  it('stop cancels the timer and waits for the run in flight', async () => {
    const t = setup(10_000);
    t.schedule.apply(config(300, 0));
    await vi.advanceTimersByTimeAsync(1);
    const stopped = t.schedule.stop();
    t.ac.abort();
    await vi.advanceTimersByTimeAsync(10_000);
    await stopped;
    expect(t.schedule.nextRunAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(t.starts).toEqual([T0]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
