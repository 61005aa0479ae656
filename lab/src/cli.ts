// `./rookery lab`: bring a topology up until Ctrl-C, list labs, sweep leftovers, check the machine.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ensureLabTools, labAvailability } from './availability.js';
import { createLab } from './lab.js';
import type { Lab } from './lab.js';
import { labIdOf } from './names.js';
import { ownerAlive, readRecords } from './state.js';
import { sweep } from './sweep.js';
import { listNamespaces } from './teardown.js';
import type { Topology } from './topology.js';

function requireLab(): void {
  const { available, reason } = labAvailability();
  if (!available) {
    process.stderr.write(`rookery lab: cannot run labs here: ${reason}\n`);
    process.exit(1);
  }
}

function describeLab(lab: Lab): string {
  const lines = [`lab ${lab.id} up in ${lab.setupMs.toFixed(0)} ms`];
  for (const h of lab.plan.hosts) {
    const addrs = h.interfaces.map((i) => `${i.ifname} ${i.address}/${i.prefixLen}`).join(', ');
    const role = h.router ? ' (router)' : '';
    lines.push(`  ${h.name}${role}: namespace ${h.namespace}; ${addrs || 'no links'}`);
    for (const r of h.routes) lines.push(`      route ${r.dest} via ${r.via}`);
  }
  if (lab.plan.switchNamespace) lines.push(`  bridges in namespace ${lab.plan.switchNamespace}`);
  return lines.join('\n');
}

const program = new Command('rookery lab')
  .description('Network labs in Linux network namespaces: hosts, links, routers, impairments, WireGuard.')
  .showHelpAfterError();

program
  .command('up')
  .description('build the lab of a topology JSON file, print its names, and keep it until Ctrl-C')
  .argument(
    '<topology.json>',
    'file with {"hosts": [...], "routers": [...], "links": [{"hosts": [...]}]} (docs/lab.md)',
  )
  .option('--wireguard <hosts>', 'also start a WireGuard mesh between these comma-separated hosts')
  .action(async (file: string, options: { wireguard?: string }) => {
    requireLab();
    const topology = JSON.parse(readFileSync(file, 'utf8')) as Topology;
    const lab = await createLab(topology);
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await lab.destroy();
      process.stdout.write(`lab ${lab.id} destroyed in ${lab.teardownMs.toFixed(0)} ms\n`);
      process.exit(0);
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => void stop());
    process.stdout.write(`${describeLab(lab)}\n`);
    if (options.wireguard) {
      const wg = await lab.wireguard({ hosts: options.wireguard.split(',').map((h) => h.trim()) });
      for (const m of wg.members) process.stdout.write(`  wireguard ${m.host}: ${m.ifname} ${m.address}/24\n`);
    }
    const first = lab.hosts[0] ?? '';
    process.stdout.write(
      `run inside a host:  ip netns exec ${lab.namespace(first)} ping ${lab.hosts[1] ? lab.addr(lab.hosts[1]) : '127.0.0.1'}\n`,
    );
    process.stdout.write('Ctrl-C destroys the lab.\n');
    // keep the event loop alive until a signal arrives
    setInterval(() => undefined, 1 << 30);
  });

program
  .command('list')
  .description('list labs on this machine with their owner process, and lab namespaces no record claims')
  .action(() => {
    const records = readRecords();
    if (records.length === 0) process.stdout.write('no lab records\n');
    for (const r of records) {
      const state = ownerAlive(r) ? 'owner alive' : 'owner DEAD (sweep removes it)';
      process.stdout.write(`${r.id}  pid ${r.ownerPid} ${state}  since ${r.createdAt}\n`);
      process.stdout.write(`  namespaces: ${r.namespaces.join(' ')}\n`);
      if (r.wireguard.length) process.stdout.write(`  wireguard: ${r.wireguard.join(' ')}\n`);
    }
    const known = new Set(records.map((r) => r.id));
    const orphans = listNamespaces().filter((n) => {
      const id = labIdOf(n);
      return id !== undefined && !known.has(id);
    });
    if (orphans.length) process.stdout.write(`unclaimed lab namespaces (sweep --orphans): ${orphans.join(' ')}\n`);
  });

program
  .command('sweep')
  .description('remove labs whose owner process is dead (namespaces, processes, wireguard-go, sockets)')
  .option('--orphans', 'also remove lab-named namespaces/wireguard-go without a record and dead rk* sockets')
  .option('--dry-run', 'only print what would be removed')
  .action((options: { orphans?: boolean; dryRun?: boolean }) => {
    requireLab();
    const report = sweep({ orphans: options.orphans ?? false, dryRun: options.dryRun ?? false });
    const verb = options.dryRun ? 'would remove' : 'removed';
    process.stdout.write(
      `${verb}: ${report.labs.length} lab(s) ${report.labs.join(' ')}\n` +
        `  namespaces: ${report.namespaces.join(' ') || '-'}\n` +
        `  sockets: ${report.sockets.join(' ') || '-'}\n` +
        (options.dryRun ? '' : `  processes killed: ${report.killed.length}\n`),
    );
  });

program
  .command('check')
  .description('tell whether labs can run here (root, namespaces, tools); --install fetches missing Debian packages')
  .option('--install', 'apt-get install missing packages (needs root)')
  .action(async (options: { install?: boolean }) => {
    if (options.install) {
      const installed = await ensureLabTools();
      process.stdout.write(installed.length ? `installed ${installed.join(' ')}\n` : 'all tools present\n');
    }
    const { available, reason } = labAvailability();
    process.stdout.write(available ? 'lab available\n' : `lab unavailable: ${reason}\n`);
    process.exitCode = available ? 0 : 1;
  });

await program.parseAsync(process.argv);
