// Test tool: runs probe specs round-robin N times in one warm process (as the agent daemon would)
// and prints the results as a JSON array, in run order.
// Usage: run-probes.ts '<spec json or array of specs>' N [warm-up rounds]
import type { ProbeSpec } from '@rookery/protocol';
import { runProbe } from '../index.js';

const parsed = JSON.parse(process.argv[2] ?? '[]') as ProbeSpec | ProbeSpec[];
const specs = Array.isArray(parsed) ? parsed : [parsed];
const rounds = Number(process.argv[3] ?? 1);
const warmup = Number(process.argv[4] ?? 1);
for (let i = 0; i < warmup; i++) for (const spec of specs) await runProbe(spec);
const results = [];
for (let i = 0; i < rounds; i++) for (const spec of specs) results.push(await runProbe(spec));
process.stdout.write(`${JSON.stringify(results)}\n`);
