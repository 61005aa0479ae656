// A throwaway PostgreSQL database (rk_bench_<random>) on the local server, and the manager as a child process on it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Admin URL of the local PostgreSQL server (trust auth); override with BENCH_PG_URL. */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface BenchDb {
  name: string;
  url: string;
  /** pool on the bench database (max 4 connections) */
  pool: pg.Pool;
  /** closes the pool and drops the database (WITH FORCE) */
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates an empty database `rk_bench_<hex>`; the caller must `drop()` it. */
export async function createBenchDb(): Promise<BenchDb> {
  const name = `rk_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // DROP DATABASE … WITH (FORCE) ends idle connections: not an error
  pool.on('error', () => {});
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export const BENCH_ADMIN = { username: 'admin', password: 'bench-admin-password-1' };

export interface ManagerChild {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Waits for a child's stderr/stdout line matching `re`; rejects on exit or after `timeoutMs`. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms:\n${buf.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`child exited (${code}) before ${re}:\n${buf.slice(-2000)}`));
    });
  });
}

/** Stops a child by its pid (SIGTERM, SIGKILL after 10 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Node flags for manager children, read at each start, e.g. `BENCH_MANAGER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const managerNodeArgs = () => (process.env.BENCH_MANAGER_NODE_ARGS ?? '').split(' ').filter(Boolean);

export interface ManagerChildStarted extends ManagerChild {
  /** with an embedded database: initdb and server start-up times the manager logged, ms */
  embedded?: { initMs: number; startMs: number };
}

/**
 * The manager's entry as `./rookery manager` runs it: the esbuild bundle, built when its sources changed
 * (ADR 12). A checkout from before the bundle (`./rookery bench compare` of an older commit) runs its
 * sources under tsx, as its `./rookery manager` did.
 */
function managerEntry(root: string): string[] {
  const build = join(root, 'scripts/build-app.mjs');
  if (!existsSync(build)) return ['--import', 'tsx', 'apps/manager/src/main.ts'];
  execFileSync(process.execPath, [build, 'manager'], { cwd: root, stdio: 'inherit' });
  return ['--enable-source-maps', 'apps/manager/dist/manager.mjs'];
}

/**
 * Spawns the manager (`managerEntry`) on 127.0.0.1 (free port) against `databaseUrl`, or with
 * `{ dataDir }` on its embedded PostgreSQL in that directory; runs migrations.
 */
export async function startManagerChild(
  db: string | { dataDir: string },
  /** extra environment for the manager, e.g. ROOKERY_INGEST_LINGER_MS */
  env: Record<string, string> = {},
  /** the checkout whose manager runs (`./rookery bench compare`); default this one */
  root = ROOT,
  /** node flags before the entry point; default BENCH_MANAGER_NODE_ARGS */
  nodeArgs = managerNodeArgs(),
): Promise<ManagerChildStarted> {
  const target = typeof db === 'string' ? ['--database-url', db] : ['--data', db.dataDir];
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      ...managerEntry(root),
      ...target,
      '--listen',
      '127.0.0.1:0',
      // info for the embedded database's start-up line
      '--log-level',
      typeof db === 'string' ? 'warn' : 'info',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: '',
        SECRET_KEY: randomBytes(24).toString('hex'),
        ADMIN_USERNAME: BENCH_ADMIN.username,
        ADMIN_PASSWORD: BENCH_ADMIN.password,
        ...env,
      },
    },
  );
  const started =
    typeof db === 'string'
      ? undefined
      : waitForLine(child, /"initMs":(\d+),"startMs":(\d+)/, 120_000).catch(() => undefined);
  try {
    const m = await waitForLine(child, /listening on (http:\/\/\S+)/, 120_000);
    const e = await started;
    return {
      url: m[1] as string,
      pid: child.pid as number,
      stop: () => stopChild(child),
      ...(e ? { embedded: { initMs: Number(e[1]), startMs: Number(e[2]) } } : {}),
    };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Spawns the bare node:http JSON server (reference); resolves with its URL. */
export async function startBareServerChild(workers = 1): Promise<ManagerChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', process.env.BARE_SERVER ?? 'bench/src/bare-json-server.ts', `--workers=${workers}`],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const m = await waitForLine(child, /listening on (http:\/\/\S+)/, 30_000);
  return { url: m[1] as string, pid: child.pid as number, stop: () => stopChild(child) };
}
