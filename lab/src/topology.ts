// Declarative lab topology (hosts, links, routers) and its validated plan: names, addresses, routes.
import { formatAddress, formatSubnet, isHostAddress, nthHost, overlaps, parseAddress, parseSubnet } from './ipv4.js';
import type { Subnet } from './ipv4.js';
import {
  HOST_NAME_PATTERN,
  LINK_NAME_PATTERN,
  hostInterfaceName,
  namespaceName,
  switchNamespaceName,
  switchPortName,
} from './names.js';
import type { LabId } from './names.js';

/** What a lab should look like; the JSON file of `./rookery lab up` has the same shape. */
export interface Topology {
  /** Host names: a lowercase letter then up to 15 lowercase letters/digits; each becomes a namespace. */
  hosts: string[];
  /** Hosts that forward IPv4 between their links (`net.ipv4.ip_forward=1`). @default [] */
  routers?: string[];
  /** Links between hosts. Two hosts: a veth pair; three or more: a bridge in a switch namespace. */
  links: LinkSpec[];
}

/** One link (a layer-2 segment) of a topology. */
export interface LinkSpec {
  /** Link name (a lowercase letter then up to 7 letters/digits); the hosts' interface is `rk-NAME`. @default `l0`, `l1`, … */
  name?: string;
  /** Hosts attached to this link, at least two. */
  hosts: string[];
  /** IPv4 subnet of the link. @default `10.77.<link index>.0/24` */
  subnet?: string;
  /** Fixed addresses per host; other hosts get `.1`, `.2`, … in the order of `hosts`, skipping taken ones. */
  addresses?: Record<string, string>;
  /** MTU in bytes of every interface on the link. @default 1500 */
  mtu?: number;
}

/** A host interface in a plan. */
export interface PlannedInterface {
  link: string;
  ifname: string;
  address: string;
  prefixLen: number;
}

/** A static route in a plan: `dest` reached through the router at `via`. */
export interface PlannedRoute {
  dest: string;
  via: string;
}

export interface PlannedHost {
  name: string;
  namespace: string;
  router: boolean;
  interfaces: PlannedInterface[];
  routes: PlannedRoute[];
}

export interface PlannedLink {
  name: string;
  kind: 'veth' | 'bridge';
  subnet: string;
  mtu: number;
  hosts: string[];
}

/** Everything needed to build (and later remove) one lab; computed without side effects. */
export interface LabPlan {
  id: LabId;
  hosts: PlannedHost[];
  links: PlannedLink[];
  /** Namespace holding the bridges, present only when some link has three or more hosts. */
  switchNamespace?: string;
}

/** Thrown when a topology is not valid; the message names the offending host or link. */
export class TopologyError extends Error {
  override name = 'TopologyError';
}

/** Validates a topology and computes names, addresses and routes. Throws `TopologyError`. */
export function planLab(id: LabId, topology: Topology): LabPlan {
  if (!Array.isArray(topology.hosts) || topology.hosts.length === 0) throw new TopologyError('topology needs hosts');
  if (!Array.isArray(topology.links)) throw new TopologyError('topology needs links (may be empty)');
  const hostSet = new Set<string>();
  for (const h of topology.hosts) {
    if (typeof h !== 'string' || !HOST_NAME_PATTERN.test(h) || h === 'sw') {
      throw new TopologyError(`bad host name ${JSON.stringify(h)}: use ${HOST_NAME_PATTERN} (not "sw")`);
    }
    if (hostSet.has(h)) throw new TopologyError(`host ${h} is listed twice`);
    hostSet.add(h);
  }
  const routers = new Set(topology.routers ?? []);
  for (const r of routers) if (!hostSet.has(r)) throw new TopologyError(`router ${r} is not a host`);

  const hosts = new Map<string, PlannedHost>(
    topology.hosts.map((name) => [
      name,
      { name, namespace: namespaceName(id, name), router: routers.has(name), interfaces: [], routes: [] },
    ]),
  );
  const links: PlannedLink[] = [];
  const subnets: { name: string; subnet: Subnet }[] = [];
  topology.links.forEach((spec, index) => {
    const name = spec.name ?? `l${index}`;
    if (!LINK_NAME_PATTERN.test(name)) throw new TopologyError(`bad link name ${JSON.stringify(name)}`);
    if (links.some((l) => l.name === name)) throw new TopologyError(`link ${name} is listed twice`);
    if (!Array.isArray(spec.hosts) || spec.hosts.length < 2) throw new TopologyError(`link ${name} needs two hosts`);
    if (new Set(spec.hosts).size !== spec.hosts.length) throw new TopologyError(`link ${name} lists a host twice`);
    for (const h of spec.hosts) if (!hostSet.has(h)) throw new TopologyError(`link ${name}: unknown host ${h}`);
    const mtu = spec.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new TopologyError(`link ${name}: bad mtu ${mtu}`);
    let subnet: Subnet;
    try {
      subnet = parseSubnet(spec.subnet ?? `10.77.${index}.0/24`);
    } catch (err) {
      throw new TopologyError(`link ${name}: ${(err as Error).message}`);
    }
    const clash = subnets.find((s) => overlaps(s.subnet, subnet));
    if (clash) throw new TopologyError(`link ${name}: subnet overlaps link ${clash.name}`);
    subnets.push({ name, subnet });
    for (const [host, address] of assignAddresses(name, subnet, spec)) {
      hosts.get(host)?.interfaces.push({
        link: name,
        ifname: hostInterfaceName(name),
        address: formatAddress(address),
        prefixLen: subnet.prefixLen,
      });
    }
    links.push({
      name,
      kind: spec.hosts.length === 2 ? 'veth' : 'bridge',
      subnet: formatSubnet(subnet),
      mtu,
      hosts: [...spec.hosts],
    });
  });
  for (const host of hosts.values()) host.routes = planRoutes(host, hosts, links);
  const plan: LabPlan = { id, hosts: [...hosts.values()], links };
  if (links.some((l) => l.kind === 'bridge')) plan.switchNamespace = switchNamespaceName(id);
  return plan;
}

function assignAddresses(link: string, subnet: Subnet, spec: LinkSpec): Map<string, number> {
  const result = new Map<string, number>();
  const taken = new Set<number>();
  for (const [host, text] of Object.entries(spec.addresses ?? {})) {
    if (!spec.hosts.includes(host)) throw new TopologyError(`link ${link}: address for ${host}, which is not on it`);
    let address: number;
    try {
      address = parseAddress(text);
    } catch (err) {
      throw new TopologyError(`link ${link}: ${(err as Error).message}`);
    }
    if (!isHostAddress(subnet, address)) throw new TopologyError(`link ${link}: ${text} is not a host address of it`);
    if (taken.has(address)) throw new TopologyError(`link ${link}: ${text} is used twice`);
    taken.add(address);
    result.set(host, address);
  }
  let next = 1;
  for (const host of spec.hosts) {
    if (result.has(host)) continue;
    while (taken.has(nthHost(subnet, next))) next++;
    const address = nthHost(subnet, next);
    taken.add(address);
    result.set(host, address);
  }
  return result;
}

/** Shortest paths over links, crossing only router hosts; one route per link the host is not on. */
function planRoutes(host: PlannedHost, hosts: Map<string, PlannedHost>, links: PlannedLink[]): PlannedRoute[] {
  const addressOn = (h: string, link: string) => hosts.get(h)?.interfaces.find((i) => i.link === link)?.address;
  // first hop (gateway address) for every link reached, breadth-first from the host's own links
  const gateway = new Map<string, string | undefined>();
  const queue: PlannedLink[] = [];
  for (const l of links) {
    if (l.hosts.includes(host.name)) {
      gateway.set(l.name, undefined);
      queue.push(l);
    }
  }
  for (let current = queue.shift(); current; current = queue.shift()) {
    for (const r of current.hosts) {
      if (r === host.name || !hosts.get(r)?.router) continue;
      for (const next of links) {
        if (gateway.has(next.name) || !next.hosts.includes(r)) continue;
        gateway.set(next.name, gateway.get(current.name) ?? addressOn(r, current.name));
        queue.push(next);
      }
    }
  }
  const routes: PlannedRoute[] = [];
  for (const l of links) {
    const via = gateway.get(l.name);
    if (via) routes.push({ dest: l.subnet, via });
  }
  return routes;
}

/** The namespace of every host (and the switch), in creation order. */
export function planNamespaces(plan: LabPlan): string[] {
  const names = plan.hosts.map((h) => h.namespace);
  if (plan.switchNamespace) names.push(plan.switchNamespace);
  return names;
}

/**
 * `ip -batch` lines, run in the root namespace, that create the veth pairs and switch ports.
 * Every end gets its own interface index: when both ends of a veth share one (each namespace
 * counts from 1), the kernel treats their carrier change as non-urgent and reports it up to a
 * second late, and a lab would start with links that look down.
 */
export function linkCommands(plan: LabPlan): string[] {
  const nsOf = (h: string) => plan.hosts.find((x) => x.name === h)?.namespace ?? '';
  const lines: string[] = [];
  let index = 10;
  const end = (name: string, namespace: string | undefined, mtu: number) =>
    `${name} index ${index++} netns ${namespace} mtu ${mtu}`;
  for (const link of plan.links) {
    const ifname = hostInterfaceName(link.name);
    if (link.kind === 'veth') {
      const [a = '', b = ''] = link.hosts;
      lines.push(`link add ${end(ifname, nsOf(a), link.mtu)} type veth peer name ${end(ifname, nsOf(b), link.mtu)}`);
    } else {
      link.hosts.forEach((h, i) => {
        const port = switchPortName(link.name, i);
        lines.push(
          `link add ${end(ifname, nsOf(h), link.mtu)} type veth peer name ${end(port, plan.switchNamespace, link.mtu)}`,
        );
      });
    }
  }
  return lines;
}

/** `ip -n NS -batch` lines that configure one host: loopback, addresses, links up, routes. */
export function hostCommands(host: PlannedHost): string[] {
  const lines = ['link set lo up'];
  for (const i of host.interfaces) {
    lines.push(`addr add ${i.address}/${i.prefixLen} dev ${i.ifname}`, `link set ${i.ifname} up`);
  }
  for (const r of host.routes) lines.push(`route add ${r.dest} via ${r.via}`);
  return lines;
}

/** `ip -n SWITCH -batch` lines that build the bridges and attach their ports. */
export function switchCommands(plan: LabPlan): string[] {
  const lines = ['link set lo up'];
  for (const link of plan.links) {
    if (link.kind !== 'bridge') continue;
    const bridge = hostInterfaceName(link.name);
    lines.push(`link add ${bridge} mtu ${link.mtu} type bridge forward_delay 0`, `link set ${bridge} up`);
    link.hosts.forEach((_h, i) => {
      const port = switchPortName(link.name, i);
      lines.push(`link set ${port} master ${bridge}`, `link set ${port} up`);
    });
  }
  return lines;
}
