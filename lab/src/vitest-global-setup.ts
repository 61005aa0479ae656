// Vitest global setup for lab tests: install missing tools when root, sweep labs of dead owners before and after.
import { ensureLabTools, labAvailability, labAvailable, missingPrograms } from './availability.js';
import { sweep } from './sweep.js';

export default async function setup(): Promise<() => void> {
  if (process.getuid?.() === 0 && missingPrograms().length > 0) {
    await ensureLabTools().catch((err: unknown) => {
      process.stderr.write(`lab: could not install tools: ${(err as Error).message}\n`);
    });
  }
  const { available, reason } = labAvailability();
  if (available) sweep();
  else process.stderr.write(`lab tests skipped: ${reason}\n`);
  return () => {
    if (!labAvailable()) return;
    // test workers are gone by now: whatever they left has a dead owner
    const report = sweep();
    if (report.labs.length > 0) {
      process.stderr.write(`lab: swept ${report.labs.length} lab(s) left by dead workers: ${report.labs.join(', ')}\n`);
    }
  };
}
