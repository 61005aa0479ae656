// Composition root: database (embedded or server), migrations, services, HTTP, jobs, shutdown.
import pino from 'pino';
import { assertSafeSecrets, type ManagerConfig, resolveSecretKey } from './config.js';
import { autovacuumProblem, openDatabase } from './db/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { pruneExpiredTokens } from './db/queries/tokens.js';
import type { App } from './http/app.js';
import { buildServer } from './http/server.js';
import { LeaderLoop } from './jobs/leader.js';
import { DEFAULT_AUTH_SETTINGS, type AuthSettings } from './services/context.js';
import { DEFAULT_INGEST_QUEUE } from './services/ingest-queue.js';
import { createServices } from './services/index.js';
import { Notifier } from './services/notifier.js';
import { deviceStatusJob } from './jobs/device-status.js';
import { resultPartitionsJob, resultRetentionJob } from './jobs/results-maintenance.js';
import { rollupFoldJob, rollupSumJob } from './jobs/rollup-fold.js';
import { CONFIG_CHANNEL, type ConfigChange } from './ws/agent-gateway.js';
import { LIVE_CHANNEL, type LiveMessage } from './ws/live-feed.js';
import { LivePresence, PRESENCE_CHANNEL } from './ws/live-presence.js';

export interface RunningManager {
  /** base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  app: App;
  embedded: EmbeddedDatabase | undefined;
  /** graceful: stop accepting, finish in-flight requests, stop jobs, close the database */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** overrides of the auth tunables (tests shorten lock times) */
  auth?: Partial<AuthSettings>;
  /** pino destination; default stdout */
  logStream?: NodeJS.WritableStream;
  /** how often the leader marks silent devices offline, ms. @default 5000 */
  offlineCheckMs?: number;
}

export async function startManager(config: ManagerConfig, o: StartOptions = {}): Promise<RunningManager> {
  assertSafeSecrets(config);
  const log = pino({ level: config.logLevel }, o.logStream ?? process.stdout);
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(
      config.dataDir,
      (m) => log.debug({ component: 'embedded-postgres' }, m),
      (m) => log.warn({ component: 'embedded-postgres' }, m),
    );
    log.info(
      { dataDir: config.dataDir, initMs: Math.round(embedded.initMs), startMs: Math.round(embedded.startMs) },
      'embedded PostgreSQL started',
    );
    url = embedded.url;
  }
  const handle = openDatabase(url, undefined, config.pgOptions);
  let notifier: Notifier | undefined;
  let presence: LivePresence | undefined;
  try {
    const applied = await migrate(handle.pool);
    if (applied.length) log.info({ applied }, 'migrations applied');
    const vacuum = await autovacuumProblem(handle.pool);
    if (vacuum) log.warn(vacuum);
    const secretKey = await resolveSecretKey(config);
    const ctx = { db: handle.db, secretKey, auth: { ...DEFAULT_AUTH_SETTINGS, ...o.auth } };
    notifier = new Notifier(url, handle.pool, (err) => log.warn({ err }, 'LISTEN connection lost; reconnecting'));
    await notifier.start();
    const jobs = new LeaderLoop(
      handle.pool,
      [
        { name: 'prune-tokens', everyMs: 3_600_000, run: () => pruneExpiredTokens(handle.db) },
        deviceStatusJob(handle.db, o.offlineCheckMs ?? 5000),
        { name: 'webhook-deliveries', everyMs: 1000, run: async () => void (await deps.webhooks.sendDue()) },
        resultPartitionsJob(handle.db),
        resultRetentionJob(handle.db),
        rollupFoldJob(handle.db),
        rollupSumJob(handle.db),
      ],
      1000,
      (job, err) => log.warn({ job, err }, 'background job failed'),
    );
    const deps = createServices(
      ctx,
      {
        database: () =>
          handle.pool.query('SELECT 1').then(
            () => true,
            () => false,
          ),
        jobs: () => jobs.status(),
      },
      {
        broadcast: () => (change: ConfigChange) => (notifier as Notifier).notify(CONFIG_CHANNEL, change),
        publishLive: (live) => {
          const p = (presence = new LivePresence(live, (m) => (notifier as Notifier).notify(PRESENCE_CHANNEL, m)));
          return { publish: (m) => (notifier as Notifier).notify(LIVE_CHANNEL, m), watched: () => p.watched() };
        },
        outboundAllow: config.outboundAllow,
        ingestQueue: { ...DEFAULT_INGEST_QUEUE, lingerMs: config.ingestLingerMs },
      },
    );
    await notifier.listen(LIVE_CHANNEL, (m) => deps.live.deliver(m as LiveMessage));
    await notifier.listen(PRESENCE_CHANNEL, (m) => presence?.receive(m));
    presence?.start();
    await notifier.listen(CONFIG_CHANNEL, (change) => deps.applyChange(change as ConfigChange));
    notifier.onResync(() => {
      log.warn('listening connection back: dropped the caches that change messages keep current');
      deps.resync();
    });
    if (config.adminUsername && config.adminPassword) {
      if (await deps.users.bootstrapAdmin(config.adminUsername, config.adminPassword)) {
        log.info({ username: config.adminUsername }, 'created the first global admin');
      }
    }
    deps.enrollment.heartbeats.start();
    const app = await buildServer(deps, { logger: log });
    // a fleet starting at once opens connections faster than a busy event loop accepts them: Node's
    // default accept backlog (511) then drops SYNs, and clients wait out 1 s, 3 s, 7 s retransmits
    await app.listen({ host: config.host, port: config.port, backlog: 4096 });
    jobs.start();
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let stopping: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      app,
      embedded,
      stop() {
        stopping ??= (async () => {
          deps.gateway.closeAll();
          deps.live.closeAll();
          // a streaming export would hold the close until its client has read it all
          deps.results.stopExports();
          await app.close();
          await deps.enrollment.heartbeats.stop();
          await jobs.stop();
          presence?.stop();
          await notifier?.stop();
          await handle.close();
          await embedded?.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    presence?.stop();
    await notifier?.stop();
    await handle.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}
