// Tests: fping -C parser on captured output.
import { describe, expect, it } from 'vitest';
import { fixture } from './fixtures.js';
import { parseFpingCount } from './fping-parse.js';

describe('parseFpingCount', () => {
  it('reads per-sequence RTTs with null for "-"', () => {
    const [t] = parseFpingCount(fixture('fping-C-loss.txt'));
    expect(t?.target).toBe('10.250.2.2');
    expect(t?.samplesMs).toHaveLength(12);
    expect(t?.samplesMs.filter((s) => s === null)).toHaveLength(3);
    expect(t?.samplesMs[0]).toBeNull();
    expect(t?.samplesMs[1]).toBe(0.062);
  });

  it('keeps one line per target, even for a repeated target', () => {
    const out = parseFpingCount(fixture('fping-C-ok.txt'));
    expect(out).toHaveLength(2);
    expect(out[1]?.samplesMs).toEqual([0.089, 0.053, 0.059]);
  });

  it('reads padded IPv6 targets', () => {
    const [t] = parseFpingCount(fixture('fping-C-ipv6.txt'));
    expect(t).toEqual({ target: '::1', samplesMs: [0.036, 0.051, 0.046], duplicates: 0 });
  });

  it('counts duplicate lines and does not take them as samples', () => {
    const [t] = parseFpingCount(fixture('fping-C-duplicates.txt'));
    expect(t?.duplicates).toBe(3);
    expect(t?.samplesMs).toEqual([0.064, 0.069, 0.102]);
  });
});
