// Synchronous removal of a lab's processes, namespaces and WireGuard sockets; safe in exit handlers.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/** Directory of wireguard-go control sockets (shared by all namespaces). */
export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';

/** What to remove. */
export interface TeardownTarget {
  namespaces: string[];
  /** WireGuard interface names whose wireguard-go process and socket go too */
  wireguard: string[];
  /** PIDs started by the lab (killed with SIGKILL) */
  pids?: number[];
}

/** What was removed. */
export interface TeardownReport {
  namespaces: string[];
  killed: number[];
  sockets: string[];
}

function execSyncQuiet(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, input, stdio: ['pipe', 'pipe', 'ignore'] });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}

/** Where `ip netns add` mounts named namespaces. */
export const NETNS_DIR = '/run/netns';

/** Namespaces that exist now (read from /run/netns: no subprocess, so a stray signal cannot cut it short). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

function inodeOf(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** PIDs of processes inside a namespace (as `ip netns pids` finds them: same /proc/PID/ns/net inode). */
export function namespacePids(namespace: string): number[] {
  const target = inodeOf(path.join(NETNS_DIR, namespace));
  if (!target) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && inodeOf(`/proc/${entry}/ns/net`) === target) pids.push(Number(entry));
  }
  return pids;
}

/** A running wireguard-go process and the interface it serves. */
export interface WireguardProcess {
  pid: number;
  iface: string;
}

/** wireguard-go processes on this machine (from /proc/PID/cmdline; the interface is the last argument). */
export function listWireguardProcesses(): WireguardProcess[] {
  const found: WireguardProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (path.basename(argv[0] ?? '') !== 'wireguard-go' || argv.length < 2) continue;
    found.push({ pid: Number(entry), iface: argv[argv.length - 1] ?? '' });
  }
  return found;
}

function kill(pid: number, killed: number[]): void {
  try {
    process.kill(pid, 'SIGKILL');
    killed.push(pid);
  } catch {
    // already gone
  }
}

/**
 * Removes everything named in `target`, synchronously: kills the given PIDs, the wireguard-go
 * processes of its interfaces and every process inside its namespaces (SIGKILL), deletes the
 * namespaces (their veths and tun devices go with them) and the stale control sockets.
 * Never throws; returns what it removed.
 */
export function teardownSync(target: TeardownTarget): TeardownReport {
  const killed: number[] = [];
  for (const pid of target.pids ?? []) kill(pid, killed);
  if (target.wireguard.length > 0) {
    const wanted = new Set(target.wireguard);
    for (const p of listWireguardProcesses()) if (wanted.has(p.iface)) kill(p.pid, killed);
  }
  const wantedNs = new Set(target.namespaces);
  const existing = listNamespaces().filter((n) => wantedNs.has(n));
  for (const ns of existing) for (const pid of namespacePids(ns)) kill(pid, killed);
  // retried: a signal sent to our whole process group (Ctrl-C, timeout) can kill an `ip` child mid-way
  for (let attempt = 0; attempt < 3; attempt++) {
    const left = listNamespaces().filter((n) => wantedNs.has(n));
    if (left.length === 0) break;
    execSyncQuiet('ip', ['-force', '-batch', '-'], `${left.map((n) => `netns del ${n}`).join('\n')}\n`);
  }
  const sockets: string[] = [];
  for (const iface of target.wireguard) {
    const socket = path.join(WIREGUARD_SOCKET_DIR, `${iface}.sock`);
    try {
      rmSync(socket);
      sockets.push(socket);
    } catch {
      // wireguard-go removed it on a clean exit
    }
  }
  return { namespaces: existing, killed, sockets };
}
