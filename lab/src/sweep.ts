// Sweeper for what crashed runs left: labs whose owner died, stray rk WireGuard processes and sockets.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { labIdOf } from './names.js';
import { ownerAlive, readRecords, removeRecord } from './state.js';
import { WIREGUARD_SOCKET_DIR, listNamespaces, listWireguardProcesses, teardownSync } from './teardown.js';

export interface SweepOptions {
  /**
   * Also remove lab-named namespaces and wireguard-go processes (`rk<digit><5 chars>-…`, `…w<n>`)
   * that no record claims, lab-named links in the root namespace, and `rk*` control sockets that no
   * wireguard-go serves. Off by default: only a lab whose owner is dead is certainly stale.
   * @default false
   */
  orphans?: boolean;
  /** Report what would be removed without removing it. @default false */
  dryRun?: boolean;
  /** Consider only these lab ids (tests use it to leave everything else alone). @default all */
  only?: string[];
}

/** What a sweep removed (or, with `dryRun`, would remove). */
export interface SweepReport {
  labs: string[];
  namespaces: string[];
  killed: number[];
  sockets: string[];
  /** lab-named links found in the root namespace (only with `orphans`) */
  links: string[];
}

/**
 * Removes every lab whose owner process is dead: its processes (including wireguard-go), its
 * namespaces, its WireGuard sockets and its record. Labs of live owners are never touched, so
 * parallel runs are safe. With `orphans`, also removes lab-named leftovers that have no record.
 * Never throws.
 */
export function sweep(options: SweepOptions = {}): SweepReport {
  const report: SweepReport = { labs: [], namespaces: [], killed: [], sockets: [], links: [] };
  const only = options.only ? new Set(options.only) : undefined;
  const wanted = (id: string | undefined): id is string => id !== undefined && (!only || only.has(id));
  const records = readRecords().filter((r) => wanted(r.id));
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
    // with `only`, a record outside the filter still claims its names
    const claimed = new Set(only ? readRecords().map((r) => r.id) : known);
    const orphan = (name: string) => {
      const id = labIdOf(name);
      return wanted(id) && !claimed.has(id) ? id : undefined;
    };
    const orphanNs = new Map<string, string[]>();
    for (const ns of existing) {
      const id = orphan(ns);
      if (id) orphanNs.set(id, [...(orphanNs.get(id) ?? []), ns]);
    }
    for (const [id, namespaces] of orphanNs) targets.push({ id, namespaces, wireguard: [] });
    // a lab-named wireguard-go with no record; other rk* daemons may belong to a live test elsewhere
    const orphanWg = wgProcesses.filter((p) => orphan(p.iface)).map((p) => p.iface);
    // an rk* socket that no wireguard-go serves is dead whoever made it
    const served = new Set(wgProcesses.map((p) => p.iface));
    const deadSockets = socketInterfaces().filter(
      (i) => i.startsWith('rk') && !served.has(i) && (!only || wanted(labIdOf(i))),
    );
    const ifaces = [...new Set([...orphanWg, ...deadSockets])];
    if (ifaces.length > 0) targets.push({ id: 'orphans', namespaces: [], wireguard: ifaces });
    // a lab never creates links in the root namespace; one there is a leftover of a failed move
    for (const link of rootLinks()) {
      if (!orphan(link)) continue;
      report.links.push(link);
      if (!options.dryRun) deleteRootLink(link);
    }
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

function deleteRootLink(link: string): void {
  try {
    execFileSync('ip', ['link', 'del', link], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    // gone already
  }
}

function rootLinks(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    return [];
  }
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
