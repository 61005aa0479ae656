// pgbench summary parsing on captured output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePgbenchTps } from './pgbench-parse.js';

const fixture = readFileSync(new URL('./fixtures/pgbench-update.txt', import.meta.url), 'utf8');

describe('parsePgbenchTps', () => {
  it('reads the tps without connection time', () => {
    expect(parsePgbenchTps(fixture)).toBeCloseTo(5403.571069, 6);
  });
  it('is NaN when pgbench printed no summary (e.g. it failed to connect)', () => {
    expect(parsePgbenchTps('pgbench: error: connection to server failed\n')).toBeNaN();
  });
});
