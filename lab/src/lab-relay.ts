// Starts the userspace delay relay (tools/delay-relay-main.ts) inside a lab host.
import type { ProcessHandle } from './process.js';
import { LAB_TOOLS } from './tools.js';

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

/** What starting a relay needs from a lab. */
export interface RelayLabContext {
  underlayAddress(from: string, to: string): string;
  spawnNode(host: string, script: string, args: string[]): ProcessHandle;
}

/** Starts a relay and waits (up to 15 s) until it listens; rejects when it cannot start. */
export async function startDelayRelay(lab: RelayLabContext, options: DelayRelayOptions): Promise<DelayRelay> {
  const target =
    options.target.address ?? (options.target.host && lab.underlayAddress(options.host, options.target.host));
  if (!target) throw new Error('startDelayRelay: target needs a host or an address');
  const handle = lab.spawnNode(options.host, LAB_TOOLS.delayRelay, [
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
