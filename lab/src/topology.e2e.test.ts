import { afterAll, expect, it } from 'vitest';
import { createLab } from './lab.js';
import type { Lab } from './lab.js';
import { parsePingSummary } from './parse/ping.js';
import { describeLab, useLab } from './testing.js';
import { run } from './run.js';
import { listNamespaces } from './teardown.js';

const timings: string[] = [];
afterAll(() => {
  if (timings.length) process.stdout.write(`[lab timings] ${timings.join('; ')}\n`);
});

async function ping(lab: Lab, from: string, to: string, count = 3) {
  const r = await lab.exec(from, 'ping', ['-c', String(count), '-i', '0.05', '-W', '1', to], { timeoutMs: 15_000 });
  return parsePingSummary(r.stdout);
}

describeLab('two hosts on a veth pair', () => {
  const lab = useLab({ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'] }] });

  it('pings across, each host in its own rk namespace with loopback up', async () => {
    expect(lab().namespace('a')).toMatch(/^rk[0-9][0-9a-z]{5}-a$/);
    expect(listNamespaces()).toEqual(expect.arrayContaining([lab().namespace('a'), lab().namespace('b')]));
    expect((await ping(lab(), 'a', lab().addr('b'))).received).toBe(3);
    expect((await ping(lab(), 'b', '127.0.0.1', 1)).received).toBe(1);
    timings.push(`two-host setup ${lab().setupMs.toFixed(0)} ms`);
  });

  it('keeps hosts sealed: no default route out, nothing added to the root namespace', async () => {
    // a route lookup only; no packet is sent
    const out = await lab().exec('a', 'ip', ['route', 'get', '192.0.2.1']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('unreachable');
    const root = await run('ip', ['-o', 'link', 'show'], { timeoutMs: 5000 });
    expect(root.stdout).not.toContain(lab().id);
    expect(root.stdout).not.toMatch(/\brk-l0\b/);
  });

  it('runs commands inside the host, not in the root namespace', async () => {
    const r = await lab().exec('b', 'ip', ['-brief', 'addr', 'show', 'dev', lab().ifname('b', 'a')], { check: true });
    expect(r.stdout).toContain(`${lab().addr('b')}/24`);
    const identify = await lab().exec('a', 'ip', ['netns', 'identify'], { check: true });
    expect(identify.stdout.trim()).toBe(lab().namespace('a'));
  });
});

describeLab('three hosts with a router between two segments', () => {
  const lab = useLab({
    hosts: ['client', 'router', 'server'],
    routers: ['router'],
    links: [
      { name: 'left', hosts: ['client', 'router'] },
      { name: 'right', hosts: ['router', 'server'] },
    ],
  });

  it('pings across the router (TTL decremented once)', async () => {
    const r = await lab().exec('client', 'ping', ['-c', '3', '-i', '0.05', '-W', '1', lab().addr('server')]);
    expect(parsePingSummary(r.stdout).received).toBe(3);
    expect(r.stdout).toContain('ttl=63');
    timings.push(`three-host setup ${lab().setupMs.toFixed(0)} ms`);
  });

  it('does not route through a host that is not a router', async () => {
    const plain = await createLab({
      hosts: ['x', 'mid', 'y'],
      links: [{ hosts: ['x', 'mid'] }, { hosts: ['mid', 'y'] }],
    });
    try {
      const r = await plain.exec('x', 'ping', ['-c', '1', '-W', '1', plain.addr('y')]);
      expect(r.code).not.toBe(0);
    } finally {
      await plain.destroy();
    }
    timings.push(`teardown ${plain.teardownMs.toFixed(0)} ms`);
    expect(listNamespaces().filter((n) => n.startsWith(`rk${plain.id}`))).toEqual([]);
  });
});

describeLab('three hosts on one bridged segment', () => {
  const lab = useLab({ hosts: ['a', 'b', 'c'], links: [{ name: 'lan', hosts: ['a', 'b', 'c'] }] });

  it('pings every pair through the bridge', async () => {
    for (const [from, to] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'a'],
    ] as const) {
      expect((await ping(lab(), from, lab().addr(to))).received).toBe(3);
    }
  });
});
