// Test tool: runs one probe spec N times in one warm process (as the agent daemon would) and
// prints the results as a JSON array. Usage: run-probes.ts '<spec json>' N [warm-up runs]
import type { ProbeSpec } from '@rookery/protocol';
import { runProbe } from '../index.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as ProbeSpec;
const count = Number(process.argv[3] ?? 1);
const warmup = Number(process.argv[4] ?? 1);
for (let i = 0; i < warmup; i++) await runProbe(spec);
const results = [];
for (let i = 0; i < count; i++) results.push(await runProbe(spec));
process.stdout.write(`${JSON.stringify(results)}\n`);
