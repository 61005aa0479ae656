import { describe, expect, it } from 'vitest';
import { TopologyError, hostCommands, linkCommands, planLab, planNamespaces, switchCommands } from './topology.js';
import type { Topology } from './topology.js';

const threeHosts: Topology = {
  hosts: ['client', 'router', 'server'],
  routers: ['router'],
  links: [
    { name: 'left', hosts: ['client', 'router'] },
    { name: 'right', hosts: ['router', 'server'], subnet: '10.1.2.0/24', addresses: { server: '10.1.2.10' } },
  ],
};

describe('planLab', () => {
  it('names everything with rk and the lab id', () => {
    const plan = planLab('1abcde', threeHosts);
    expect(planNamespaces(plan)).toEqual(['rk1abcde-client', 'rk1abcde-router', 'rk1abcde-server']);
    expect(plan.switchNamespace).toBeUndefined();
    expect(plan.links.map((l) => [l.name, l.kind, l.subnet])).toEqual([
      ['left', 'veth', '10.77.0.0/24'],
      ['right', 'veth', '10.1.2.0/24'],
    ]);
  });

  it('assigns addresses in order, skipping fixed ones', () => {
    const plan = planLab('1abcde', threeHosts);
    const byHost = Object.fromEntries(
      plan.hosts.map((h) => [h.name, h.interfaces.map((i) => `${i.ifname}=${i.address}`)]),
    );
    expect(byHost).toEqual({
      client: ['rk-left=10.77.0.1'],
      router: ['rk-left=10.77.0.2', 'rk-right=10.1.2.1'],
      server: ['rk-right=10.1.2.10'],
    });
  });

  it('routes through routers, and only through routers', () => {
    const plan = planLab('1abcde', threeHosts);
    const routes = Object.fromEntries(plan.hosts.map((h) => [h.name, h.routes]));
    expect(routes.client).toEqual([{ dest: '10.1.2.0/24', via: '10.77.0.2' }]);
    expect(routes.server).toEqual([{ dest: '10.77.0.0/24', via: '10.1.2.1' }]);
    expect(routes.router).toEqual([]);
    const noRouter = planLab('1abcde', { ...threeHosts, routers: [] });
    expect(noRouter.hosts.every((h) => h.routes.length === 0)).toBe(true);
  });

  it('follows chains of routers with the first hop as gateway', () => {
    const plan = planLab('1abcde', {
      hosts: ['a', 'r1', 'r2', 'b'],
      routers: ['r1', 'r2'],
      links: [
        { name: 'x', hosts: ['a', 'r1'] },
        { name: 'y', hosts: ['r1', 'r2'] },
        { name: 'z', hosts: ['r2', 'b'] },
      ],
    });
    const a = plan.hosts.find((h) => h.name === 'a');
    expect(a?.routes).toEqual([
      { dest: '10.77.1.0/24', via: '10.77.0.2' },
      { dest: '10.77.2.0/24', via: '10.77.0.2' },
    ]);
    const r1 = plan.hosts.find((h) => h.name === 'r1');
    expect(r1?.routes).toEqual([{ dest: '10.77.2.0/24', via: '10.77.1.2' }]);
  });

  it('uses a bridge in a switch namespace for three or more hosts', () => {
    const plan = planLab('1abcde', {
      hosts: ['a', 'b', 'c'],
      links: [{ name: 'lan', hosts: ['a', 'b', 'c'], mtu: 9000 }],
    });
    expect(plan.switchNamespace).toBe('rk1abcde-sw');
    expect(planNamespaces(plan)).toContain('rk1abcde-sw');
    expect(linkCommands(plan)).toEqual([
      'link add rk-lan index 10 netns rk1abcde-a mtu 9000 type veth peer name rk0-lan index 11 netns rk1abcde-sw mtu 9000',
      'link add rk-lan index 12 netns rk1abcde-b mtu 9000 type veth peer name rk1-lan index 13 netns rk1abcde-sw mtu 9000',
      'link add rk-lan index 14 netns rk1abcde-c mtu 9000 type veth peer name rk2-lan index 15 netns rk1abcde-sw mtu 9000',
    ]);
    expect(switchCommands(plan)).toContain('link set rk2-lan master rk-lan');
  });

  it('gives every veth end its own interface index', () => {
    const plan = planLab('1abcde', threeHosts);
    const indexes = linkCommands(plan).flatMap((l) => [...l.matchAll(/index (\d+)/g)].map((m) => m[1]));
    expect(indexes).toEqual(['10', '11', '12', '13']);
  });

  it('builds the per-host ip batch: loopback, addresses, links up, routes', () => {
    const plan = planLab('1abcde', threeHosts);
    const client = plan.hosts[0];
    expect(client && hostCommands(client)).toEqual([
      'link set lo up',
      'addr add 10.77.0.1/24 dev rk-left',
      'link set rk-left up',
      'route add 10.1.2.0/24 via 10.77.0.2',
    ]);
    expect(linkCommands(plan)[0]).toBe(
      'link add rk-left index 10 netns rk1abcde-client mtu 1500 type veth peer name rk-left index 11 netns rk1abcde-router mtu 1500',
    );
  });

  it.each([
    [{ hosts: [], links: [] }, 'needs hosts'],
    [{ hosts: ['A'], links: [] }, 'bad host name'],
    [{ hosts: ['sw'], links: [] }, 'bad host name'],
    [{ hosts: ['a', 'a'], links: [] }, 'listed twice'],
    [{ hosts: ['a'], routers: ['b'], links: [] }, 'router b is not a host'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a'] }] }, 'needs two hosts'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a', 'c'] }] }, 'unknown host c'],
    [{ hosts: ['a', 'b'], links: [{ name: 'much-too-long', hosts: ['a', 'b'] }] }, 'bad link name'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'], subnet: '10.0.0.0/33' }] }, 'subnet'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'], addresses: { a: '10.9.9.9' } }] }, 'not a host address'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'], addresses: { c: '10.77.0.5' } }] }, 'not on it'],
    [{ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'], mtu: 100 }] }, 'bad mtu'],
    [
      {
        hosts: ['a', 'b'],
        links: [
          { hosts: ['a', 'b'], subnet: '10.0.0.0/16' },
          { hosts: ['a', 'b'], subnet: '10.0.1.0/24' },
        ],
      },
      'overlaps link l0',
    ],
  ] as [Topology, string][])('rejects %j (%s)', (topology, message) => {
    expect(() => planLab('1abcde', topology)).toThrow(TopologyError);
    expect(() => planLab('1abcde', topology)).toThrow(message);
  });
});
