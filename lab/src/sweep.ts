// Sweeper for what crashed runs left: labs whose owner died, stray rk WireGuard processes and sockets.
import { readdirSync } from 'node:fs';
import { labIdOf } from './names.js';
import { ownerAlive, readRecords, removeRecord } from './state.js';
import type { LabRecord } from './state.js';
import { WIREGUARD_SOCKET_DIR, listNamespaces, listWireguardProcesses, teardownSync } from './teardown.js';

export interface SweepOptions {
  /**
   * Also remove lab-named namespaces and wireguard-go processes (`rk<digit><5 chars>-…`, `…w<n>`)
   * that no record claims, and `rk*` control sockets that no wireguard-go serves. Off by default:
   * only a lab whose owner is dead is certainly stale.
   * @default false
   */
  orphans?: boolean;
  /** Report what would be removed without removing it. @default false */
  dryRun?: boolean;
}

/** What a sweep removed (or, with `dryRun`, would remove). */
export interface SweepReport {
  labs: string[];
  namespaces: string[];
  killed: number[];
  sockets: string[];
}

/** Labs whose record says their owner is dead. */
export function staleRecords(): LabRecord[] {
  return readRecords().filter((r) => !ownerAlive(r));
}

/**
 * Removes every lab whose owner process is dead: its processes (including wireguard-go), its
 * namespaces, its WireGuard sockets and its record. Labs of live owners are never touched, so
 * parallel runs are safe. With `orphans`, also removes lab-named leftovers that have no record.
 * Never throws.
 */
export function sweep(options: SweepOptions = {}): SweepReport {
  const report: SweepReport = { labs: [], namespaces: [], killed: [], sockets: [] };
  const records = readRecords();
  const live = new Set(records.filter((r) => ownerAlive(r)).map((r) => r.id));
  const known = new Set(records.map((r) => r.id));
  const existing = listNamespaces();
  const wgProcesses = listWireguardProcesses();

  const targets: { id: string; namespaces: string[]; wireguard: string[] }[] = [];
  for (const r of records) {
    if (live.has(r.id)) continue;
    // wireguard interfaces the record missed (a crash between start and record) still carry the id
    const wireguard = new Set(r.wireguard);
    for (const p of wgProcesses) if (labIdOf(p.iface) === r.id) wireguard.add(p.iface);
    targets.push({ id: r.id, namespaces: r.namespaces, wireguard: [...wireguard] });
  }
  if (options.orphans) {
    const orphanNs = new Map<string, string[]>();
    for (const ns of existing) {
      const id = labIdOf(ns);
      if (id && !known.has(id)) orphanNs.set(id, [...(orphanNs.get(id) ?? []), ns]);
    }
    for (const [id, namespaces] of orphanNs) targets.push({ id, namespaces, wireguard: [] });
    // a lab-named wireguard-go with no record at all; other rk* daemons may belong to a live test elsewhere
    const orphanWg = wgProcesses.filter((p) => {
      const id = labIdOf(p.iface);
      return id !== undefined && !known.has(id);
    });
    // an rk* socket that no wireguard-go serves is dead whoever made it
    const served = new Set(wgProcesses.map((p) => p.iface));
    const sockets = socketInterfaces().filter((i) => i.startsWith('rk') && !served.has(i));
    const ifaces = [...new Set([...orphanWg.map((p) => p.iface), ...sockets])];
    if (ifaces.length > 0) targets.push({ id: 'orphans', namespaces: [], wireguard: ifaces });
  }

  for (const t of targets) {
    if (t.id !== 'orphans') report.labs.push(t.id);
    if (options.dryRun) {
      report.namespaces.push(...t.namespaces.filter((n) => existing.includes(n)));
      report.sockets.push(...t.wireguard);
      continue;
    }
    const removed = teardownSync({ namespaces: t.namespaces, wireguard: t.wireguard });
    report.namespaces.push(...removed.namespaces);
    report.killed.push(...removed.killed);
    report.sockets.push(...removed.sockets);
    if (known.has(t.id)) removeRecord(t.id);
  }
  return report;
}

function socketInterfaces(): string[] {
  try {
    return readdirSync(WIREGUARD_SOCKET_DIR)
      .filter((f) => f.endsWith('.sock'))
      .map((f) => f.slice(0, -'.sock'.length));
  } catch {
    return [];
  }
}
