// A running lab: hosts in network namespaces, commands and processes inside them, impairments, clean-up.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { forget, track } from './cleanup.js';
import { nftScript, parseDroppedPackets, NFT_TABLE, tbfArgs, tbfClearArgs } from './impairments.js';
import type { LossSpec, NftState } from './impairments.js';
import { newLabId, wireguardInterfaceName } from './names.js';
import { ProcessHandle, WaitTimeoutError } from './process.js';
import type { SpawnOptions } from './process.js';
import { waitForLinks } from './readiness.js';
import { ipBatch, run, runChecked } from './run.js';
import type { RunOptions, RunResult } from './run.js';
import { processStartTime, removeRecord, writeRecord } from './state.js';
import type { LabRecord } from './state.js';
import { sweep } from './sweep.js';
import { teardownSync } from './teardown.js';
import { hostCommands, linkCommands, planLab, planNamespaces, switchCommands } from './topology.js';
import type { LabPlan, PlannedHost, PlannedInterface, Topology } from './topology.js';
import { startWireguard } from './wireguard.js';
import type { WireguardNetwork, WireguardOptions } from './wireguard.js';

export interface ExecOptions extends RunOptions {
  /** Reject with `CommandError` on a non-zero exit instead of returning the result. @default false */
  check?: boolean;
}

/** Options of `Lab.startDelayRelay`. */
export interface DelayRelayOptions {
  /** Host whose namespace runs the relay. */
  host: string;
  /** @default 'tcp' */
  protocol?: 'tcp' | 'udp';
  /** Port to listen on in that host. */
  listenPort: number;
  /** @default '0.0.0.0' */
  listenAddress?: string;
  /** Where to forward: a lab host (its address as seen from `host`) or an address, and a port. */
  target: { host?: string; address?: string; port: number };
  /** Added delay in milliseconds in each direction (a round trip gains twice this). */
  delayMs: number;
}

/** A running delay relay; `stop()` ends it (the lab's destroy does too). */
export interface DelayRelay {
  host: string;
  port: number;
  process: ProcessHandle;
  stop(): Promise<void>;
}

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const RELAY_MAIN = fileURLToPath(new URL('./tools/delay-relay-main.ts', import.meta.url));

/** Scripts to run in a host with `lab.spawnNode` / `lab.execNode`. */
export const LAB_TOOLS = {
  /** `server tcp|udp PORT` (prints "listening PORT") or `rtt tcp|udp ADDRESS PORT [COUNT]` (prints `{"rtts":[ms…]}`) */
  echo: fileURLToPath(new URL('./tools/echo-main.ts', import.meta.url)),
};

/** A lab built by `createLab`. Every method that takes a host name throws on an unknown one. */
export class Lab {
  /** Milliseconds `createLab` took (sweep, namespaces, links, addresses, routes). */
  setupMs = 0;
  /** Milliseconds the last `destroy()` took. */
  teardownMs = 0;
  private readonly processes = new Set<ProcessHandle>();
  private readonly nft = new Map<string, NftState>();
  private readonly record: LabRecord;
  private destroyed = false;

  constructor(readonly plan: LabPlan) {
    this.record = {
      id: plan.id,
      ownerPid: process.pid,
      ownerStart: processStartTime(process.pid),
      createdAt: new Date().toISOString(),
      namespaces: planNamespaces(plan),
      wireguard: [],
    };
  }

  /** The lab id; every name the lab creates starts with `rk<id>`. */
  get id(): string {
    return this.plan.id;
  }

  /** Host names, in topology order. */
  get hosts(): string[] {
    return this.plan.hosts.map((h) => h.name);
  }

  private host(name: string): PlannedHost {
    const h = this.plan.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab ${this.id} has no host ${JSON.stringify(name)}`);
    return h;
  }

  private iface(host: string, link?: string): PlannedInterface {
    const h = this.host(host);
    if (link === undefined) {
      const first = h.interfaces[0];
      if (!first) throw new Error(`host ${host} has no links`);
      return first;
    }
    // a link name, an interface name, or a neighbour on a shared link
    const found =
      h.interfaces.find((i) => i.link === link || i.ifname === link) ??
      h.interfaces.find((i) =>
        this.plan.links.some((l) => l.name === i.link && l.hosts.includes(link) && link !== host),
      );
    if (!found) throw new Error(`host ${host} has no interface on ${JSON.stringify(link)}`);
    return found;
  }

  /** Namespace name of a host, for `ip netns exec` by hand. */
  namespace(host: string): string {
    return this.host(host).namespace;
  }

  /** IPv4 address (no prefix) of a host on `link` (link name, interface name or neighbour host); default its first link. */
  addr(host: string, link?: string): string {
    return this.iface(host, link).address;
  }

  /** Interface name of a host on `link` (link name or neighbour host); default its first link. */
  ifname(host: string, link?: string): string {
    return this.iface(host, link).ifname;
  }

  /** The address of `to` as `from` should reach it: on a shared link if any, else `to`'s first address (routed). */
  underlayAddress(from: string, to: string): string {
    const shared = this.host(from).interfaces.find((i) => this.host(to).interfaces.some((j) => j.link === i.link));
    return shared ? this.addr(to, shared.link) : this.addr(to);
  }

  /** Runs a program inside a host and waits for it; a non-zero exit is returned, not thrown (unless `check`). */
  async exec(host: string, cmd: string, args: string[] = [], options: ExecOptions = {}): Promise<RunResult> {
    const argv = ['netns', 'exec', this.namespace(host), cmd, ...args];
    return options.check ? runChecked('ip', argv, options) : run('ip', argv, options);
  }

  /** Starts a long-lived program inside a host; stop it with `handle.stop()` (destroy stops it too). */
  spawn(host: string, cmd: string, args: string[] = [], options: SpawnOptions = {}): ProcessHandle {
    if (this.destroyed) throw new Error(`lab ${this.id} is destroyed`);
    const handle = new ProcessHandle(host, [cmd, ...args], this.namespace(host), options);
    this.processes.add(handle);
    void handle.exited.then(() => this.processes.delete(handle));
    return handle;
  }

  /** Starts a TypeScript (or JavaScript) file with this Node.js and tsx inside a host. */
  spawnNode(host: string, script: string, args: string[] = [], options: SpawnOptions = {}): ProcessHandle {
    return this.spawn(host, process.execPath, ['--import', TSX_LOADER, script, ...args], options);
  }

  /**
   * Waits until something in `host` listens on `port` (TCP, or UDP with `udp`), polling `ss` every
   * 20 ms. Rejects with `WaitTimeoutError` after `timeoutMs` (default 10 s).
   */
  async waitForPort(host: string, port: number, options: { udp?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const args = ['netns', 'exec', this.namespace(host), 'ss', '-H', options.udp ? '-lnu' : '-lnt', `sport = :${port}`];
    for (;;) {
      const r = await run('ip', args, { timeoutMs: 5000 });
      if (r.code === 0 && r.stdout.trim() !== '') return;
      if (Date.now() > deadline) throw new WaitTimeoutError(`nothing listens on ${host} port ${port}`);
      await sleep(20);
    }
  }

  /** Runs a TypeScript (or JavaScript) file with this Node.js and tsx inside a host and waits for it. */
  async execNode(host: string, script: string, args: string[] = [], options: ExecOptions = {}): Promise<RunResult> {
    return this.exec(host, process.execPath, ['--import', TSX_LOADER, script, ...args], options);
  }

  /** Rate-limits egress of `host` on `link` (link name or neighbour) with tc tbf; use a router, not the sender. */
  async setRate(host: string, link: string, mbit: number): Promise<void> {
    await runChecked('tc', ['-n', this.namespace(host), ...tbfArgs(this.ifname(host, link), mbit)]);
  }

  /** Removes a rate limit set by `setRate`. */
  async clearRate(host: string, link: string): Promise<void> {
    await runChecked('tc', ['-n', this.namespace(host), ...tbfClearArgs(this.ifname(host, link))]);
  }

  private async applyNft(host: string, change: Partial<NftState>): Promise<void> {
    const state: NftState = { partitioned: false, ...this.nft.get(host), ...change };
    if (state.loss?.iface) state.loss = { ...state.loss, iface: this.ifname(host, state.loss.iface) };
    const script = nftScript(state);
    await runChecked('ip', ['netns', 'exec', this.namespace(host), 'nft', '-f', '-'], { input: script });
    this.nft.set(host, state);
  }

  /**
   * Drops IPv4 packets entering `host` (delivered or forwarded): `{every: N}` exactly one in N,
   * `{random: p}` each with probability p; `iface` limits it to one link. `null` removes the loss.
   */
  async setLoss(host: string, loss: LossSpec | null): Promise<void> {
    await this.applyNft(host, loss ? { loss } : { loss: undefined });
  }

  /** Packets dropped so far by the loss rule of a host. */
  async droppedPackets(host: string): Promise<number> {
    const r = await run('ip', ['netns', 'exec', this.namespace(host), 'nft', 'list', 'table', 'ip', NFT_TABLE]);
    return parseDroppedPackets(r.stdout);
  }

  /** Cuts a host off (`on`: every packet in or out of its links is dropped) or heals it. */
  async partition(host: string, on: boolean): Promise<void> {
    await this.applyNft(host, { partitioned: on });
  }

  /** Starts a userspace TCP/UDP relay in a host that forwards to a target with added delay. */
  async startDelayRelay(options: DelayRelayOptions): Promise<DelayRelay> {
    const target =
      options.target.address ?? (options.target.host && this.underlayAddress(options.host, options.target.host));
    if (!target) throw new Error('startDelayRelay: target needs a host or an address');
    const handle = this.spawnNode(options.host, RELAY_MAIN, [
      `--protocol=${options.protocol ?? 'tcp'}`,
      `--listen-address=${options.listenAddress ?? '0.0.0.0'}`,
      `--listen-port=${options.listenPort}`,
      `--target-address=${target}`,
      `--target-port=${options.target.port}`,
      `--delay-ms=${options.delayMs}`,
    ]);
    await handle.waitForOutput(/listening \d+/, 15_000).catch(async (err: unknown) => {
      await handle.stop('SIGKILL');
      throw err;
    });
    const port = Number(/listening (\d+)/.exec(handle.stdout)?.[1]);
    return { host: options.host, port, process: handle, stop: async () => void (await handle.stop()) };
  }

  /** Starts a WireGuard full mesh between hosts (wireguard-go per host, distinct interface names). */
  async wireguard(options: WireguardOptions): Promise<WireguardNetwork> {
    return startWireguard(
      {
        namespace: (h) => this.namespace(h),
        underlayAddress: (from, to) => this.underlayAddress(from, to),
        spawn: (h, cmd, args) => this.spawn(h, cmd, args),
        claimWireguardName: () => {
          const name = wireguardInterfaceName(this.id, this.record.wireguard.length);
          this.record.wireguard.push(name);
          writeRecord(this.record);
          return name;
        },
      },
      options,
    );
  }

  /** Builds the namespaces, links, addresses and routes; called by `createLab`. */
  async build(): Promise<void> {
    writeRecord(this.record);
    track(this);
    const namespaces = planNamespaces(this.plan);
    await ipBatch(namespaces.map((n) => `netns add ${n}`));
    await Promise.all(
      namespaces.map((ns) => {
        const router = this.plan.hosts.find((h) => h.namespace === ns)?.router ?? false;
        const sysctls = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
        if (router) sysctls.push('net.ipv4.ip_forward=1');
        return runChecked('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...sysctls]);
      }),
    );
    await ipBatch(linkCommands(this.plan));
    // bridge ports enslaved and up before the hosts' ends come up start forwarding at once;
    // the other order waits up to a second for the kernel's deferred carrier events
    if (this.plan.switchNamespace) await ipBatch(switchCommands(this.plan), this.plan.switchNamespace);
    await Promise.all(this.plan.hosts.map((h) => ipBatch(hostCommands(h), h.namespace)));
    await waitForLinks(
      this.plan.hosts.map((h) => h.namespace),
      this.plan.switchNamespace,
    );
  }

  /**
   * Stops every process (SIGTERM, SIGKILL after 1 s), deletes the namespaces (with their links and
   * WireGuard devices) and the lab's record. Idempotent; never throws.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    const started = performance.now();
    await Promise.all([...this.processes].map((p) => p.stop('SIGTERM', 1000)));
    this.destroySync();
    this.teardownMs = performance.now() - started;
  }

  /** The synchronous part of `destroy` (SIGKILL instead of a graceful stop); used by exit handlers. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    teardownSync({
      namespaces: this.record.namespaces,
      wireguard: this.record.wireguard,
      pids: [...this.processes].filter((p) => p.running).map((p) => p.pid),
    });
    removeRecord(this.id);
    forget(this);
  }
}

/**
 * Creates a lab from a topology: sweeps labs left by dead owners, then builds namespaces
 * (`rk<id>-<host>`), veth pairs or bridges, addresses, routes and loopback. Rejects with
 * `TopologyError` on a bad topology or `CommandError` when a step fails (nothing is left behind).
 */
export async function createLab(topology: Topology): Promise<Lab> {
  const started = performance.now();
  sweep();
  const lab = new Lab(planLab(newLabId(), topology));
  try {
    await lab.build();
  } catch (err) {
    lab.destroySync();
    throw err;
  }
  lab.setupMs = performance.now() - started;
  return lab;
}
