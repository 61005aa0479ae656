import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parsePingSummary } from './parse/ping.js';
import { run } from './run.js';
import { listWireguardProcesses } from './teardown.js';
import { describeLab, useLab } from './testing.js';

describeLab('WireGuard through wireguard-go', () => {
  const lab = useLab({
    hosts: ['a', 'router', 'b'],
    routers: ['router'],
    links: [
      { name: 'left', hosts: ['a', 'router'] },
      { name: 'right', hosts: ['router', 'b'] },
    ],
  });

  it('carries ping between two hosts through a real tunnel, then comes down cleanly', async () => {
    const wg = await lab().wireguard({ hosts: ['a', 'b'], subnet: '10.99.0.0/24' });
    const [a, b] = wg.members;
    expect(a?.ifname).toMatch(new RegExp(`^rk${lab().id}w\\d+$`));
    expect(a?.ifname).not.toBe(b?.ifname);

    const r = await lab().exec('a', 'ping', ['-c', '3', '-i', '0.1', '-W', '2', wg.addr('b')], { timeoutMs: 15_000 });
    expect(parsePingSummary(r.stdout).received).toBe(3);

    // the tunnel really is WireGuard: wg sees a handshake and the keys we generated with node:crypto
    const dump = await run('wg', ['show', wg.ifname('a'), 'dump'], { timeoutMs: 5000 });
    const [iface, peer] = dump.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(iface?.[1]).toBe(a?.publicKey);
    expect(peer?.[0]).toBe(b?.publicKey);
    expect(peer?.[2]).toBe(`${lab().addr('b')}:51820`);
    expect(Number(peer?.[4])).toBeGreaterThan(0);
    // and the address lives on the wireguard interface inside the host
    const addr = await lab().exec('b', 'ip', ['-brief', 'addr', 'show', 'dev', wg.ifname('b')], { check: true });
    expect(addr.stdout).toContain(`${wg.addr('b')}/24`);

    await wg.down();
    const names = wg.members.map((m) => m.ifname);
    expect(listWireguardProcesses().filter((p) => names.includes(p.iface))).toEqual([]);
    for (const n of names) expect(existsSync(`/var/run/wireguard/${n}.sock`)).toBe(false);
    const after = await lab().exec('a', 'ip', ['link', 'show', wg.ifname('a')]);
    expect(after.code).not.toBe(0);
  });
});
