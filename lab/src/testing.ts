// Vitest helpers for end-to-end tests on the lab: skip cleanly without root, build and always destroy labs.
import { afterAll, beforeAll, describe } from 'vitest';
import { labAvailability } from './availability.js';
import { createLab } from './lab.js';
import type { Lab } from './lab.js';
import type { Topology } from './topology.js';

/**
 * `describe` that runs only where labs can (root + network namespaces); elsewhere the block is
 * skipped and its title says why. The lab's vitest global setup prints the one
 * "lab tests skipped: …" line for the whole run.
 */
export function describeLab(name: string, fn: () => void): void {
  const { available, reason } = labAvailability();
  if (available) describe(name, fn);
  else describe.skip(`${name} (skipped: ${reason})`, fn);
}

/**
 * Builds a lab before the tests of the enclosing `describe` and destroys it after them, also when
 * a test fails. Returns a getter, because the lab exists only once `beforeAll` has run:
 * `const lab = useLab(topology); it('…', async () => { await lab().exec('a', 'true') })`.
 */
export function useLab(topology: Topology): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await createLab(topology);
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return () => {
    if (!lab) throw new Error('useLab: the lab is built in beforeAll; call the getter inside a test');
    return lab;
  };
}

/**
 * Polls `probe` every `intervalMs` (default 50) until it returns something other than
 * undefined/false, and returns that. Rejects after `timeoutMs` with `what` and `diagnostics()`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  diagnostics: () => string = () => '',
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${diagnostics()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
