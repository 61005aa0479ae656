// Test helper: reads a captured tool output from fixtures/.
import { readFileSync } from 'node:fs';

/** Contents of fixtures/NAME. */
export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}
