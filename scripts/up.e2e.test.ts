// `./rookery up` as a user runs it: manager on its embedded PostgreSQL, test server and one local agent,
// the printed login works, the agent reports in; Ctrl-C stops the whole tree; a child that dies stops it too.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor as poll } from '@rookery/lab/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
let dir: string;
let up: ChildProcess | undefined;
let out = '';
let tree: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rk-up-e2e-'));
});
afterEach(() => {
  // whatever a failed test left: the tree it recorded, by PID
  for (const pid of [up?.pid ?? 0, ...tree]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  up = undefined;
  tree = [];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    // a zombie is gone for every purpose here
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

/** Every process below `root` (by parent PID, across process groups). */
function descendants(root: number): number[] {
  const parent = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const outPids: number[] = [];
  const walk = (p: number) => {
    for (const c of parent.get(p) ?? []) {
      outPids.push(c);
      walk(c);
    }
  };
  walk(root);
  return outPids;
}

const waitFor = (what: string, ok: () => boolean | Promise<boolean>, ms = 90_000) => poll(what, ok, ms, () => out, 200);
const exited = (p: ChildProcess) =>
  new Promise<number | null>((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.on('exit', resolve)));

/** A port whose TCP and UDP and the next two of each are free now (the test server takes three). */
async function freeBasePort(): Promise<number> {
  const tryTcp = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  const tryUdp = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ok = await Promise.all([0, 1, 2].flatMap((k) => [tryTcp(base + k), tryUdp(base + k)]));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no three free ports in a row');
}

/** This environment without ADMIN_USERNAME/ADMIN_PASSWORD: the first start makes a password and saves it. */
function withoutAdmin(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ADMIN_USERNAME;
  delete env.ADMIN_PASSWORD;
  return env;
}

/** Starts `scripts/up.ts` as `./rookery up` runs it (its own group, as in a terminal) and waits for the banner. */
async function startUp(): Promise<{ url: string; password: string }> {
  const base = await freeBasePort();
  out = '';
  up = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/up.ts', '--data', dir, '--listen', '127.0.0.1:0', '--testserver', `127.0.0.1:${base}`],
    { cwd: ROOT, env: withoutAdmin(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  up.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('"Rookery is running"', () => out.includes('Press Ctrl-C to stop'));
  const url = /URL\s+(http:\/\/\S+)/.exec(out)?.[1] as string;
  const password = /Login\s+admin \/ (\S+)/.exec(out)?.[1] as string;
  return { url, password };
}

async function login(url: string, password: string): Promise<string> {
  const r = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}

describe('./rookery up', () => {
  it('starts manager, test server and agent; the printed login works; Ctrl-C stops every process', async () => {
    const { url, password } = await startUp();
    expect(readFileSync(path.join(dir, 'admin-password'), 'utf8').trim()).toBe(password);
    const token = await login(url, password);
    // the local agent enrolled and reports in
    await waitFor('the local agent online', async () => {
      const r = await fetch(`${url}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { items: { serial: string; status: string }[] };
      return body.items.some((d) => d.serial === 'rookery-up-local-agent' && d.status === 'online');
    });
    const p = up as ChildProcess;
    tree = descendants(p.pid as number);
    // manager, its PostgreSQL, test server and agent at least
    expect(tree.length).toBeGreaterThanOrEqual(4);
    p.kill('SIGINT');
    expect(await exited(p)).toBe(0);
    await waitFor('every process of the tree gone', () => tree.every((pid) => !alive(pid)), 20_000);
    expect(out).not.toMatch(/exited \(/);
  });

  it('a child that dies stops the others, says which, and exits 1', async () => {
    // second start on the same data dir: the admin exists, the agent keeps its credential
    await startUp();
    const p = up as ChildProcess;
    tree = descendants(p.pid as number);
    const testserver = tree.find((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('apps/testserver/src/main.ts'),
    );
    expect(testserver).toBeDefined();
    process.kill(testserver as number, 'SIGKILL');
    const code = await exited(p);
    expect(code).toBe(1);
    expect(out).toContain('rookery up: the test server exited (signal SIGKILL); stopping everything');
    await waitFor('every process of the tree gone', () => tree.every((pid) => !alive(pid)), 20_000);
  });
});
