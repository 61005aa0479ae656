// Tests: the probe CLI as a process: JSON/text output and exit codes against a test server child.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeResult } from '@rookery/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServerChild, type TestServerChild } from './probes/testing/testserver-child.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let ts: TestServerChild;

beforeAll(async () => {
  ts = await startTestServerChild();
});
afterAll(async () => {
  await ts?.stop();
});

function probe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'apps/agent/src/probe-cli.ts', ...args],
      { cwd: ROOT, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('rookery probe (process)', () => {
  it('prints a JSON result and exits 0 when the probe is ok', async () => {
    const out = await probe(['http', `${ts.url}/echo`, '--json']);
    expect(out.code).toBe(0);
    const r = JSON.parse(out.stdout) as ProbeResult;
    expect(r).toMatchObject({ kind: 'http', ok: true, metrics: { status: 200 } });
  });

  it('prints text and exits 1 when the probe fails', async () => {
    const out = await probe(['udp', ts.udpReflector, '--count', '3', '--interval', '5', '--max-loss', '0']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`udp ${ts.udpReflector}: ok`);
    const failed = await probe(['http', `${ts.url}/status/500`]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('FAILED unexpected_status');
  });

  it('exits 2 on usage errors', async () => {
    expect((await probe(['smtp', 'x'])).code).toBe(2);
    const bad = await probe(['icmp', '--', '-f']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain('invalid_target');
  });
});
