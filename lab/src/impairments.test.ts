import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImpairmentError, nftScript, parseDroppedPackets, tbfArgs } from './impairments.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('tbfArgs', () => {
  it('shapes with a bucket of 4 ms of traffic, at least 16 KiB, and 50 ms of queue', () => {
    expect(tbfArgs('rk-right', 100)).toEqual([
      'qdisc',
      'replace',
      'dev',
      'rk-right',
      'root',
      'tbf',
      'rate',
      '100mbit',
      'burst',
      '50000',
      'latency',
      '50ms',
    ]);
    expect(tbfArgs('rk-x', 1000)[9]).toBe('500000');
    expect(tbfArgs('rk-x', 1)[9]).toBe('16384');
  });

  it('rejects rates out of range', () => {
    expect(() => tbfArgs('rk-x', 0)).toThrow(ImpairmentError);
    expect(() => tbfArgs('rk-x', Number.NaN)).toThrow('rate must be');
  });
});

describe('nftScript', () => {
  it('drops exactly one in N at prerouting with numgen inc', () => {
    const script = nftScript({ loss: { every: 10 }, partitioned: false });
    expect(script).toContain('table ip rklab {');
    expect(script).toContain('hook prerouting');
    expect(script).toContain('numgen inc mod 10 0 counter drop');
    expect(script).not.toContain('partition_in');
  });

  it('drops randomly with numgen random at 1e-4 resolution, optionally on one interface', () => {
    expect(nftScript({ loss: { random: 0.2, iface: 'rk-left' }, partitioned: false })).toContain(
      'iifname "rk-left" numgen random mod 10000 < 2000 counter drop',
    );
  });

  it('partitions every non-loopback packet in and out', () => {
    const script = nftScript({ partitioned: true });
    expect(script).toContain('iifname != "lo" counter drop');
    expect(script).toContain('oifname != "lo" counter drop');
    expect(script).not.toContain('numgen');
  });

  it('always replaces the previous tables, even with nothing to add', () => {
    expect(nftScript({ partitioned: false }).trim().split('\n')).toEqual([
      'table inet rklab',
      'delete table inet rklab',
      'table ip rklab',
      'delete table ip rklab',
    ]);
  });

  it.each([
    [{ every: 1 }, 'loss.every'],
    [{ every: 2.5 }, 'loss.every'],
    [{ random: 1.5 }, 'loss.random'],
    [{ random: -0.1 }, 'loss.random'],
    [{ every: 10, iface: 'bad name; drop' }, 'bad interface name'],
  ])('rejects %j', (loss, message) => {
    expect(() => nftScript({ loss, partitioned: false })).toThrow(message);
  });
});

describe('parseDroppedPackets', () => {
  it('reads the counter of the loss rule', () => {
    expect(parseDroppedPackets(fixture('nft-loss-table.txt'))).toBe(2);
    expect(parseDroppedPackets('')).toBe(0);
  });
});
