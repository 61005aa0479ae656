// Cross-process: the real agent with its spool on a full 256 KiB tmpfs (root only) or an unusable path keeps running.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeManager } from './testing/fake-manager.js';
import { canMount, fillDisk, mountTmpfs, type Tmpfs } from './testing/tmpfs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SECRET = 'disk-full-enroll-secret';

let manager: FakeManager;
let stateDir: string;
let disk: Tmpfs | undefined;

beforeEach(async () => {
  manager = new FakeManager();
  manager.secrets.add(SECRET);
  manager.config.tests.http = { enabled: false, targets: [] };
  manager.config.tests.tcp = { enabled: true, targets: ['127.0.0.1:9', '127.0.0.1:10', '127.0.0.1:11'] };
  await manager.listen();
  stateDir = await mkdtemp(path.join(tmpdir(), 'rk-agent-full-'));
});
afterEach(async () => {
  await manager.close();
  await disk?.unmount();
  disk = undefined;
  await rm(stateDir, { recursive: true, force: true });
});

function runAgent(spoolDir: string) {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/agent/src/main.ts', '--state-dir', stateDir, '--spool-dir', spoolDir],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: stateDir,
        MANAGER_URL: manager.url,
        ENROLLMENT_SECRET: SECRET,
        DEVICE_SERIAL: 'disk-full-serial',
        RUN_SECONDS: '3',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise<{ code: number | null; msgs: string[] }>((resolve) =>
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const msgs = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => String((JSON.parse(l) as { msg?: unknown }).msg));
      resolve({ code, msgs });
    }),
  );
}

describe('agent with no room for its spool', () => {
  it.skipIf(!canMount)('on a full disk: measures, drops and counts results, heartbeats, exits 0', async () => {
    disk = await mountTmpfs(256);
    const spoolDir = path.join(disk.dir, 'spool');
    await mkdir(spoolDir);
    await fillDisk(path.join(disk.dir, 'filler'));
    const run = await runAgent(spoolDir);
    expect(run.code).toBe(0);
    expect(run.msgs).toContain('could not spool results; dropped');
    expect(run.msgs.at(-1)).toBe('agent state stopped');
    expect(manager.heartbeats.map((h) => h.body.agent_state)).toEqual(['enrolled', 'stopping']);
    const status = JSON.parse(await readFile(path.join(stateDir, 'status.json'), 'utf8')) as {
      spool: { dropped_unwritable: number; backlog: number };
    };
    expect(status.spool).toMatchObject({ dropped_unwritable: 3, backlog: 0 });
  });

  it('with an unusable spool directory: logs it once and keeps running (no crash loop)', async () => {
    const notADir = path.join(stateDir, 'a-file');
    await writeFile(notADir, 'x');
    const run = await runAgent(path.join(notADir, 'spool'));
    expect(run.code).toBe(0);
    expect(run.msgs.filter((m) => m === 'result spool unavailable; results are only logged')).toHaveLength(1);
    expect(run.msgs).toContain('test result');
    expect(manager.heartbeats.map((h) => h.body.agent_state)).toEqual(['enrolled', 'stopping']);
  });
});
