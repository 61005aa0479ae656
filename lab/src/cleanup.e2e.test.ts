import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labIdOf } from './names.js';
import { readRecords } from './state.js';
import { sweep } from './sweep.js';
import { listNamespaces, listWireguardProcesses } from './teardown.js';
import { describeLab } from './testing.js';

interface ChildLab {
  id: string;
  wireguard: string[];
  pids: number[];
}

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CRASH_CHILD = fileURLToPath(new URL('./tools/crash-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

// a private record directory: sweeps by parallel test files cannot remove these labs before we look
let stateDir: string;
const childEnv = () => ({ ...process.env, ROOKERY_LAB_STATE_DIR: stateDir });

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Everything of a lab still on the machine. */
function leftovers(lab: ChildLab) {
  return {
    namespaces: listNamespaces().filter((n) => labIdOf(n) === lab.id),
    wireguardGo: listWireguardProcesses().filter((p) => labIdOf(p.iface) === lab.id),
    sockets: lab.wireguard.filter((i) => existsSync(`/var/run/wireguard/${i}.sock`)),
    processes: lab.pids.filter(alive),
    record: readRecords().some((r) => r.id === lab.id),
  };
}
const NOTHING = { namespaces: [], wireguardGo: [], sockets: [], processes: [], record: false };

function withPrivateState<T>(fn: () => T): T {
  const saved = process.env.ROOKERY_LAB_STATE_DIR;
  process.env.ROOKERY_LAB_STATE_DIR = stateDir;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.ROOKERY_LAB_STATE_DIR;
    else process.env.ROOKERY_LAB_STATE_DIR = saved;
  }
}

/** Starts crash-child.ts, waits for its lab, then lets `act` kill it; resolves with the lab and how it ended. */
function runChild(mode: string, act: (pid: number) => void = () => {}) {
  const child = spawn(process.execPath, ['--import', TSX, CRASH_CHILD, mode], { env: childEnv(), stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lab = new Promise<ChildLab>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        const info = JSON.parse(out.split('\n')[0] ?? '') as ChildLab;
        resolve(info);
        act(child.pid ?? 0);
      }
    });
    child.on('close', () => reject(new Error(`child exited before building its lab: ${err}`)));
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr: err })),
  );
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void ended.then(() => clearTimeout(guard));
  return { lab, ended };
}

describeLab('clean-up guarantees', () => {
  beforeAll(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'rk-lab-state-'));
  });
  afterAll(() => {
    withPrivateState(() => sweep());
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('an uncaught exception mid-run leaves nothing behind (exit hook)', async () => {
    const { lab, ended } = runChild('throw');
    const info = await lab;
    const end = await ended;
    expect(end.code).toBe(1);
    expect(end.stderr).toContain('failing on purpose mid-run');
    await expect.poll(() => leftovers(info), { timeout: 3000 }).toEqual(NOTHING);
  });

  it('process.exit() mid-run leaves nothing behind (exit hook)', async () => {
    const { lab, ended } = runChild('exit');
    const info = await lab;
    expect((await ended).code).toBe(3);
    await expect.poll(() => leftovers(info), { timeout: 3000 }).toEqual(NOTHING);
  });

  it('SIGINT mid-run removes the lab and the process still dies of SIGINT', async () => {
    const { lab, ended } = runChild('wait', (pid) => process.kill(pid, 'SIGINT'));
    const info = await lab;
    expect((await ended).signal).toBe('SIGINT');
    await expect.poll(() => leftovers(info), { timeout: 3000 }).toEqual(NOTHING);
  });

  it('SIGKILL mid-run: the sweeper removes what the dead owner left', async () => {
    const { lab, ended } = runChild('wait', (pid) => process.kill(pid, 'SIGKILL'));
    const info = await lab;
    expect((await ended).signal).toBe('SIGKILL');
    // nothing could run in the child: its lab is still there, with a record whose owner is dead
    const left = leftovers(info);
    expect(left.namespaces).toHaveLength(2);
    expect(left.wireguardGo).toHaveLength(2);
    expect(withPrivateState(() => readRecords()).some((r) => r.id === info.id)).toBe(true);
    const report = withPrivateState(() => sweep());
    expect(report.labs).toContain(info.id);
    await expect.poll(() => withPrivateState(() => leftovers(info)), { timeout: 3000 }).toEqual(NOTHING);
  });

  it('a vitest test that fails on purpose still removes its lab (afterAll)', async () => {
    const out = path.join(stateDir, 'fixture-out.json');
    const child = spawn(
      process.execPath,
      [
        path.join(REPO, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--config',
        'lab/src/tools/failing-lab.vitest.config.ts',
      ],
      { cwd: REPO, env: { ...childEnv(), ROOKERY_LAB_FIXTURE_OUT: out, CI: '1' }, stdio: 'pipe' },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 45_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(guard);
    expect(output).toContain('a failure on purpose');
    expect(code).toBe(1);
    const info = JSON.parse(readFileSync(out, 'utf8')) as ChildLab;
    expect(withPrivateState(() => leftovers(info))).toEqual(NOTHING);
  }, 60_000);
});
