// Cross-process: the real `rookery agent` entry (main.ts) against the in-process fake manager on 127.0.0.1.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeManager } from './testing/fake-manager.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = 'apps/agent/src/main.ts';
const SECRET = 'e2e-enroll-secret-abcdef';

let manager: FakeManager;
let stateDir: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  manager = new FakeManager();
  manager.secrets.add(SECRET);
  manager.config.tests.tcp = { enabled: true, targets: ['127.0.0.1:9'] };
  await manager.listen();
  stateDir = await mkdtemp(path.join(tmpdir(), 'rk-agent-e2e-'));
});
afterEach(async () => {
  if (child?.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  await manager.close();
  await rm(stateDir, { recursive: true, force: true });
});

function runAgent(env: Record<string, string>, args: string[] = []) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, '--state-dir', stateDir, ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: stateDir,
      MANAGER_URL: manager.url,
      DEVICE_SERIAL: 'e2e-serial',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const lines = () =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { proc, exited, lines, stdout: () => stdout, stderr: () => stderr };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('rookery agent (process)', () => {
  it('enrolls from the seed ENV names, runs, logs JSON without secrets, stops after RUN_SECONDS', async () => {
    const a = runAgent({ ENROLLMENT_SECRET: SECRET, RUN_SECONDS: '3' });
    expect(await a.exited).toBe(0);
    const lines = a.lines();
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain('enrolled');
    expect(msgs).toContain('applying manager config');
    expect(msgs).toContain('spool recovered');
    expect(lines.find((l) => l.msg === 'test result')).toMatchObject({ spooled: true, result: { kind: 'tcp' } });
    // the run's one result went through the spool to the manager, with a UUIDv7 id made on the agent
    expect([...manager.results.values()].map((r) => [r.result.kind, r.result.target])).toEqual([
      ['tcp', '127.0.0.1:9'],
    ]);
    expect([...manager.results.keys()][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(msgs.at(-1)).toBe('agent state stopped');
    expect(lines.every((l) => l.service === 'rookery-agent' && typeof l.level === 'number')).toBe(true);
    const credential = manager.devices[0]?.credential ?? 'missing';
    expect(a.stdout()).not.toContain(SECRET);
    expect(a.stdout()).not.toContain(credential);
    expect(manager.heartbeats.map((h) => h.body.agent_state)).toEqual(['enrolled', 'stopping']);
    expect(manager.heartbeats.at(-1)?.body.spool_backlog).toBe(0);
    expect((await stat(path.join(stateDir, 'credential.json'))).mode & 0o777).toBe(0o600);

    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', MAIN, 'status', '--state-dir', stateDir],
      {
        cwd: ROOT,
      },
    );
    expect(stdout).toContain('state:          stopped');
    expect(stdout).toContain('device id:      42');
    expect(stdout).toContain('OU:             3');
    expect(stdout).toContain('config:         manager "Engineering Config" version 1');
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const a = runAgent({ ENROLLMENT_SECRET: SECRET });
    await waitFor('stream', () => manager.streams === 1);
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.lines().some((l) => l.msg === 'agent stopping' && l.reason === 'SIGTERM')).toBe(true);
    expect(manager.heartbeats.at(-1)?.body.agent_state).toBe('stopping');
  });

  it('exits 2 with a clear message on bad configuration', async () => {
    const a = runAgent({ ENROLLMENT_SECRET: SECRET, ENABLE_TCP_TEST: 'maybe' });
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain('ENABLE_TCP_TEST: expected true or false, got "maybe"');
  });
});
