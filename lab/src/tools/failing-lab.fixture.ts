// A vitest file that fails on purpose mid-run with a lab up; run only by cleanup.e2e.test.ts in a child vitest.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useLab } from '../testing.js';

describe('a lab test that fails on purpose', () => {
  const lab = useLab({ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'] }] });

  it('builds a lab, starts processes and WireGuard, then fails', async () => {
    const sleeper = lab().spawn('a', 'sleep', ['60']);
    const wg = await lab().wireguard({ hosts: ['a', 'b'] });
    const out = process.env.ROOKERY_LAB_FIXTURE_OUT;
    if (out) {
      const info = { id: lab().id, wireguard: wg.members.map((m) => m.ifname), pids: [sleeper.pid] };
      writeFileSync(out, JSON.stringify(info));
    }
    expect('the lab is up').toBe('a failure on purpose');
  });
});
