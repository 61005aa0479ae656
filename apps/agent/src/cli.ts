// Command line of `rookery agent`: run the daemon (default) or show its status.
import { Command } from 'commander';
import type { AgentFlags } from './config.js';

export interface StatusFlags {
  stateDir?: string;
  json?: boolean;
}

export interface CliActions {
  run(flags: AgentFlags): Promise<void>;
  status(flags: StatusFlags): Promise<void>;
}

/** Builds the commander program; actions are injected so tests can parse without side effects. */
export function buildCli(actions: CliActions): Command {
  const program = new Command('rookery agent')
    .description('Rookery agent: enrolls with the manager, pulls config, runs probes on a jittered schedule')
    .showHelpAfterError()
    .enablePositionalOptions();
  program
    .option('--manager <url>', 'manager base URL (env MANAGER_URL)')
    .option(
      '--enroll-secret <secret>',
      'enrollment secret (env ENROLLMENT_SECRET; prefer env or file: argv is visible)',
    )
    .option(
      '--state-dir <dir>',
      'credential and status directory (default /var/lib/rookery-agent as root, else ~/.rookery-agent)',
    )
    .option('--config <file>', 'JSON settings file (keys: manager_url, enrollment_secret, state_dir, local_config, …)')
    .option('--device-serial <serial>', 'device serial (env DEVICE_SERIAL; default /etc/machine-id)')
    .option('--device-hostname <name>', 'hostname to report (env DEVICE_HOSTNAME; default os.hostname())')
    .option('--run-seconds <n>', 'stop after N seconds (env RUN_SECONDS)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default info)')
    .option('--spool-dir <dir>', 'result spool directory (env SPOOL_DIR; default <state dir>/spool)')
    .option('--spool-max-bytes <size>', 'spool size cap, e.g. 64MiB (env SPOOL_MAX_BYTES; default 64MiB)')
    .option('--spool-max-age-seconds <n>', 'drop results older than this (env SPOOL_MAX_AGE_SECONDS; default 7 days)')
    .action((flags: AgentFlags) => actions.run(flags));
  // why: `rookery agent --manager …` runs the daemon; `status` is the only subcommand
  program
    .command('status')
    .description('show enrollment, OU, device id, config version, last check-in and next runs')
    .option('--state-dir <dir>', 'state directory of the agent to inspect')
    .option('--json', 'print status.json as is')
    .action((flags: StatusFlags) => actions.status(flags));
  return program;
}
