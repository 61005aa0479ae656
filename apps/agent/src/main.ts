// Composition root of `rookery agent`: parses settings at the edge, wires real adapters, runs the daemon or status.
import { readFile } from 'node:fs/promises';
import { Agent } from './agent.js';
import { buildCli, type StatusFlags } from './cli.js';
import { AgentConfigError, type AgentFlags, defaultStateDir, resolveAgentSettings } from './config.js';
import { detectDevice } from './device.js';
import { handleShutdownSignals } from './lifecycle.js';
import { HttpManagerApi } from './link/manager-api.js';
import { ResultUploader } from './link/result-uploader.js';
import { WsAgentStream } from './link/stream.js';
import { createLogger } from './log.js';
import { StateStore } from './state-store.js';
import { isProcessAlive, renderStatus } from './status.js';
import { probeRunnerFrom } from './tasks/probe-runner.js';
import { smallFetch } from './link/http-fetch.js';
import { runProbe } from './probes/index.js';
import type { ProbeSpec } from '@rookery/protocol';
import { Spool } from './spool/spool.js';
import { LogResultSink } from './tasks/result-sink.js';
import { SpoolResultSink } from './tasks/spool-sink.js';

function fail(message: string, code = 2): never {
  process.stderr.write(`rookery agent: ${message}\n`);
  process.exit(code);
}

async function readConfigFile(file: string | undefined): Promise<unknown> {
  if (!file) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    return fail(`cannot read --config ${file}: ${(err as Error).message}`);
  }
}

async function run(flags: AgentFlags): Promise<void> {
  let settings;
  try {
    settings = resolveAgentSettings({
      flags,
      env: process.env,
      file: await readConfigFile(flags.config),
      uid: process.getuid?.(),
    });
  } catch (err) {
    if (err instanceof AgentConfigError) fail(err.message);
    throw err;
  }
  const logger = createLogger(settings.logLevel);
  const device = await detectDevice({ serial: settings.deviceSerial, hostname: settings.deviceHostname }).catch(
    (err: Error) => fail(err.message),
  );
  const api = new HttpManagerApi(settings.managerUrl, { fetch: smallFetch as unknown as typeof fetch });
  // why: without a usable spool the agent keeps measuring and heartbeating (no crash loop on a full or
  // read-only disk); results are then only logged
  const spool = await Spool.open({
    dir: settings.spoolDir,
    maxBytes: settings.spoolMaxBytes,
    maxAgeMs: settings.spoolMaxAgeSeconds * 1000,
    logger,
  }).catch((err: Error) => {
    logger.error({ dir: settings.spoolDir, err: err.message }, 'result spool unavailable; results are only logged');
    return undefined;
  });
  const uploader = spool && new ResultUploader({ spool, api, logger });
  const agent = new Agent({
    managerUrl: settings.managerUrl,
    enrollmentSecret: settings.enrollmentSecret,
    localConfig: settings.localConfig,
    runSeconds: settings.runSeconds,
    device,
    api,
    stream: new WsAgentStream(settings.managerUrl, { logger }),
    store: new StateStore(settings.stateDir),
    runner: probeRunnerFrom((spec, options) => runProbe(spec as ProbeSpec, options)),
    sink: spool ? new SpoolResultSink(spool, logger) : new LogResultSink(logger),
    results: uploader,
    logger,
  });
  logger.info(
    {
      manager_url: settings.managerUrl,
      state_dir: settings.stateDir,
      spool_dir: settings.spoolDir,
      spool_max_bytes: settings.spoolMaxBytes,
      spool_max_age_seconds: settings.spoolMaxAgeSeconds,
      device_serial: device.serial,
      local_overrides: Object.fromEntries(
        Object.entries(settings.localProvenance).filter(([, layer]) => layer !== 'default'),
      ),
    },
    'rookery agent starting',
  );
  handleShutdownSignals(agent, (code) => process.exit(code));
  try {
    await agent.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'agent failed to start');
    await agent.stop('start failed');
    process.exit(1);
  }
  await agent.done;
  await spool?.close();
  process.exit(0);
}

async function status(flags: StatusFlags): Promise<void> {
  const store = new StateStore(flags.stateDir ?? defaultStateDir(process.getuid?.()));
  const current = await store.loadStatus();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(current ?? null, null, 2)}\n`);
    return;
  }
  const running = current !== undefined && !['stopped'].includes(current.state) && isProcessAlive(current.pid);
  process.stdout.write(renderStatus(current, store.dir, running, Date.now()));
  if (!current) process.exitCode = 1;
}

await buildCli({ run, status }).parseAsync(process.argv);
