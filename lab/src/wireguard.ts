// Real WireGuard tunnels between lab hosts: one wireguard-go per host, private keys set from 0600 files.
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatAddress, nthHost, parseSubnet } from './ipv4.js';
import type { ProcessHandle } from './process.js';
import { ipBatch, runChecked } from './run.js';
import { WIREGUARD_SOCKET_DIR } from './teardown.js';
import { generateKeyPair } from './wireguard-keys.js';

/** A full mesh of WireGuard interfaces between some lab hosts. */
export interface WireguardOptions {
  /** Hosts that get an interface; each peers with all the others. */
  hosts: string[];
  /** Tunnel subnet; hosts get `.1`, `.2`, … in the order of `hosts`. @default '10.99.0.0/24' */
  subnet?: string;
  /** UDP port every interface listens on (each host has its own namespace). @default 51820 */
  listenPort?: number;
  /** Tunnel MTU in bytes. @default 1420 */
  mtu?: number;
  /** Seconds between keepalives; 0 disables them. @default 0 */
  persistentKeepalive?: number;
}

/** One host's end of a WireGuard mesh. */
export interface WireguardMember {
  host: string;
  /** interface name, e.g. `rk4k2x9aw0` (unique on the machine) */
  ifname: string;
  /** tunnel address without prefix */
  address: string;
  publicKey: string;
  listenPort: number;
  /** the wireguard-go process */
  process: ProcessHandle;
}

/** What the WireGuard set-up needs from a lab. */
export interface WireguardLabContext {
  namespace(host: string): string;
  /** the underlay address of `to` as reached from `from` (same link preferred) */
  underlayAddress(from: string, to: string): string;
  spawn(host: string, cmd: string, args: string[]): ProcessHandle;
  /** allocates a new machine-unique interface name and records it for the sweeper */
  claimWireguardName(): string;
}

/** A running WireGuard mesh; `down()` stops it (the lab's destroy does too). */
export class WireguardNetwork {
  constructor(readonly members: WireguardMember[]) {}

  /** The member for a host; throws when the host is not in the mesh. */
  member(host: string): WireguardMember {
    const m = this.members.find((x) => x.host === host);
    if (!m) throw new Error(`host ${host} is not in this WireGuard mesh`);
    return m;
  }

  /** Tunnel address of a host (no prefix). */
  addr(host: string): string {
    return this.member(host).address;
  }

  /** WireGuard interface name of a host. */
  ifname(host: string): string {
    return this.member(host).ifname;
  }

  /** Stops every wireguard-go (SIGTERM, then SIGKILL after 2 s) and removes leftover sockets. */
  async down(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop()));
    for (const m of this.members) rmSync(path.join(WIREGUARD_SOCKET_DIR, `${m.ifname}.sock`), { force: true });
  }
}

/** Writes a secret to a 0600 file inside a fresh 0700 directory; `remove()` deletes both. */
async function writeSecret(name: string, content: string): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-secret-'));
  const file = path.join(dir, name);
  await writeFile(file, content, { mode: 0o600 });
  return { path: file, remove: () => rm(dir, { recursive: true, force: true }) };
}

async function waitForSocket(member: Omit<WireguardMember, 'publicKey'>, timeoutMs: number): Promise<void> {
  const socket = path.join(WIREGUARD_SOCKET_DIR, `${member.ifname}.sock`);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (!member.process.running) {
      throw new Error(
        `wireguard-go ${member.ifname} in ${member.host} exited: ${member.process.stderr.trim().slice(-300)}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`wireguard-go ${member.ifname} made no control socket in ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Starts wireguard-go on every host, sets keys and peers, and brings the interfaces up with addresses. */
export async function startWireguard(lab: WireguardLabContext, options: WireguardOptions): Promise<WireguardNetwork> {
  if (options.hosts.length < 2) throw new Error('a WireGuard mesh needs two hosts');
  const subnet = parseSubnet(options.subnet ?? '10.99.0.0/24');
  const listenPort = options.listenPort ?? 51820;
  const keys = options.hosts.map(() => generateKeyPair());
  const members: WireguardMember[] = options.hosts.map((host, i) => {
    const ifname = lab.claimWireguardName();
    return {
      host,
      ifname,
      address: formatAddress(nthHost(subnet, i + 1)),
      publicKey: keys[i]?.publicKey ?? '',
      listenPort,
      process: lab.spawn(host, 'wireguard-go', ['-f', ifname]),
    };
  });
  const network = new WireguardNetwork(members);
  try {
    await Promise.all(members.map((m) => waitForSocket(m, 5000)));
    await Promise.all(
      members.map(async (m, i) => {
        const keyFile = await writeSecret(`${m.ifname}.key`, `${keys[i]?.privateKey ?? ''}\n`);
        const args = ['set', m.ifname, 'listen-port', String(listenPort), 'private-key', keyFile.path];
        for (const peer of members) {
          if (peer === m) continue;
          args.push('peer', peer.publicKey, 'endpoint', `${lab.underlayAddress(m.host, peer.host)}:${peer.listenPort}`);
          args.push('allowed-ips', `${peer.address}/32`);
          if (options.persistentKeepalive) args.push('persistent-keepalive', String(options.persistentKeepalive));
        }
        // the private key goes through a 0600 file in a 0700 directory, never argv
        // (wg cannot open /dev/stdin when stdin is the socket pair Node gives a child)
        try {
          await runChecked('wg', args, { timeoutMs: 10_000 });
        } finally {
          await keyFile.remove();
        }
        await ipBatch(
          [
            `addr add ${m.address}/${subnet.prefixLen} dev ${m.ifname}`,
            `link set ${m.ifname} mtu ${options.mtu ?? 1420} up`,
          ],
          lab.namespace(m.host),
        );
      }),
    );
  } catch (err) {
    await network.down();
    throw err;
  }
  return network;
}
