// Synchronous removal of a lab's processes, namespaces and WireGuard sockets; safe in exit handlers.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
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

/** Names from `ip netns list` output ("NAME (id: N)" lines). Pure. */
export function parseNetnsList(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/** Namespaces that exist now. */
export function listNamespaces(): string[] {
  return parseNetnsList(execSyncQuiet('ip', ['netns', 'list']));
}

/** PIDs of processes inside a namespace. */
export function namespacePids(namespace: string): number[] {
  return execSyncQuiet('ip', ['netns', 'pids', namespace])
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
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
  if (existing.length > 0) {
    execSyncQuiet('ip', ['-force', '-batch', '-'], `${existing.map((n) => `netns del ${n}`).join('\n')}\n`);
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
