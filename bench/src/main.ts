// `./rookery bench [NAME]`: runs benchmarks and writes their sections into bench/RESULTS.md.
import { b1 } from './b1-ingest-mix.js';
import { b10 } from './b10-embedded.js';
import { b2 } from './b2-startup-burst.js';
import { b3 } from './b3-heartbeats.js';
import { b5 } from './b5-probe-accuracy.js';
import { b8 } from './b8-footprint.js';
import { b9 } from './b9-fleet-queries.js';
import { blackbox } from './blackbox.js';
import { compare } from './compare.js';
import { exportBench } from './export.js';
import { foldBench } from './fold.js';
import { spoolBench } from './spool.js';

const BENCHES: Record<string, (command: string) => Promise<void>> = {
  b1: (command) => b1(command),
  b10: (command) => b10(command),
  b2: (command) => b2(command),
  b3: (command) => b3(command),
  b5: (command) => b5(command),
  b8: (command) => b8(command),
  b9: (command) => b9(command),
  blackbox: (command) => blackbox(command),
  export: (command) => exportBench(command),
  fold: (command) => foldBench(command),
  spool: (command) => spoolBench(command),
};

const name = (process.argv[2] ?? '').toLowerCase();
if (!name || name === 'help' || name === '--help') {
  process.stdout.write(
    `Usage: ./rookery bench NAME|all\n  NAME: ${Object.keys(BENCHES).join(', ')}\n` +
      '       ./rookery bench compare REF_A [REF_B]  (the B1 mix on two commits, alternated; --help)\n',
  );
  process.exit(name ? 0 : 2);
}
if (name === 'compare') {
  await compare(process.argv.slice(3));
  process.exit(0);
}
const selected = name === 'all' ? Object.keys(BENCHES) : [name];
for (const n of selected) {
  const bench = BENCHES[n];
  if (!bench) {
    process.stderr.write(`rookery bench: unknown benchmark "${n}" (${Object.keys(BENCHES).join(', ')})\n`);
    process.exit(2);
  }
  // the settings a run was given belong to its command line in bench/RESULTS.md
  const env = ['B1_WORKERS', 'B3_WORKERS']
    .filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k]} `)
    .join('');
  await bench(`${env}./rookery bench ${n}`);
}
