// `--workers N`: N manager processes behind the one port (node:cluster), so every core of the host serves.
//
// Each worker is a whole manager, a replica exactly as one on another host: its own pool, LISTEN connection,
// caches, ingest queue and heartbeat buffer; leader jobs run in one of them at a time (advisory lock). The
// primary process only starts the embedded PostgreSQL when there is no server, resolves the secret key,
// hands each worker its configuration over IPC (never through the environment), hands out connections
// round-robin, replaces a worker that dies, answers `/metrics` by summing every worker's registry, and stops
// them all on SIGTERM/SIGINT before the database.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { assertSafeSecrets, type ManagerConfig, resolveSecretKey } from './config.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.js';
import { deathCounter } from './restarts.js';
import type { RunningManager } from './manager.js';

type ToWorker =
  | { type: 'rk:config'; config: ManagerConfig }
  | { type: 'rk:stop' }
  | { type: 'rk:metrics'; id: number; text?: string; error?: string };
type ToPrimary = { type: 'rk:want-config' } | { type: 'rk:ready'; url: string } | { type: 'rk:metrics'; id: number };

/** Unexpected worker exits tolerated within {@link RESTART_WINDOW_MS}; one more stops the manager. */
export const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface RunningCluster {
  url: string;
  workers: number;
  /** resolves when the manager gave up (workers kept dying); the caller exits non-zero */
  failed: Promise<string>;
  /** stops every worker (each drains as a single manager does), then the embedded database */
  stop(): Promise<void>;
}

const isMessage = (m: unknown): m is { type: string } =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

/**
 * Starts `config.workers` workers of this script (the primary side). Rejects when a worker exits before
 * it listens (its own error is on stderr: a bad database URL, a port in use, a failed migration).
 */
export async function startCluster(config: ManagerConfig, say: (line: string) => void): Promise<RunningCluster> {
  assertSafeSecrets(config);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, () => {}, say);
    databaseUrl = embedded.url;
  }
  const workerConfig: ManagerConfig = {
    ...config,
    databaseUrl,
    secretKey: await resolveSecretKey(config),
    workers: 1,
  };
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let url = '';
  const died = deathCounter(RESTART_WINDOW_MS);
  let giveUp: (why: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (giveUp = resolve));
  // the database the workers share is given up: so is the manager
  void embedded?.failed.then((why) => giveUp(why));

  /** After a started worker's unexpected exit: start another, or give up when they keep dying. */
  const replace = (w: Worker, code: number | null, signal: string | null) => {
    if (stopping) return;
    const deaths = died();
    if (deaths > MAX_RESTARTS) {
      giveUp(`${deaths} workers died within ${RESTART_WINDOW_MS / 1000} s; giving up`);
      return;
    }
    say(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    fork().then(
      (n) => say(`worker ${n.process.pid} started`),
      (err: Error) => giveUp(err.message),
    );
  };

  const fork = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork();
      // a send racing the worker's exit fails with ERR_IPC_CHANNEL_CLOSED; its exit is handled below
      w.on('error', () => undefined);
      const early = (code: number | null, signal: string | null) =>
        reject(new Error(`a worker exited during start-up (${signal ?? `code ${code}`})`));
      w.once('exit', early);
      const send = (m: ToWorker) => w.isConnected() && w.send(m);
      w.on('message', (m: ToPrimary) => {
        if (!isMessage(m)) return;
        // why: asked for, since a message sent before the worker's script has loaded finds no listener
        if (m.type === 'rk:want-config') send({ type: 'rk:config', config: workerConfig });
        if (m.type === 'rk:metrics') {
          aggregator.clusterMetrics().then(
            (text) => send({ type: 'rk:metrics', id: m.id, text }),
            (err: Error) => send({ type: 'rk:metrics', id: m.id, error: err.message }),
          );
        }
        if (m.type === 'rk:ready') {
          w.off('exit', early);
          w.once('exit', (code, signal) => replace(w, code, signal));
          url = m.url;
          resolve(w);
        }
      });
    });

  const stopWorkers = async () => {
    stopping = true;
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.isConnected()) w.send({ type: 'rk:stop' } satisfies ToWorker);
            else w.process.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    const started = await Promise.all(Array.from({ length: config.workers }, fork));
    say(`${started.length} workers: ${started.map((w) => w.process.pid).join(', ')}`);
  } catch (err) {
    await stopWorkers();
    await embedded?.stop();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    workers: config.workers,
    failed,
    stop() {
      stopped ??= (async () => {
        await stopWorkers();
        await embedded?.stop();
      })();
      return stopped;
    },
  };
}

/**
 * The worker side: waits for its configuration, starts the manager with `start`, tells the primary it
 * listens. Stops on the primary's word, on SIGTERM, or when the primary is gone; ignores SIGINT (a
 * terminal's Ctrl-C reaches every process of the group: the primary orders the stop).
 */
export function runWorker(start: (c: ManagerConfig) => Promise<RunningManager>): void {
  new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
  let running: RunningManager | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stopThenExit(
      () => running?.stop() ?? Promise.resolve(),
      STOP_TIMEOUT_MS,
      (line) => process.stderr.write(`rookery manager worker ${process.pid}: ${line}\n`),
    );
  };
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.on('message', (m: ToWorker) => {
    if (!isMessage(m)) return;
    if (m.type === 'rk:stop') stop();
    if (m.type === 'rk:config' && !running && !stopping) {
      start(m.config).then(
        (r) => {
          running = r;
          process.send?.({ type: 'rk:ready', url: r.url } satisfies ToPrimary);
          if (stopping) void r.stop();
        },
        (err: Error) => {
          process.stderr.write(`rookery manager worker: ${err.message}\n`);
          process.exit(2);
        },
      );
    }
    if (m.type === 'rk:metrics') pendingMetrics.get(m.id)?.(m);
  });
  process.send?.({ type: 'rk:want-config' } satisfies ToPrimary);
}

const pendingMetrics = new Map<number, (m: { text?: string; error?: string }) => void>();
let metricsId = 0;

/** In a worker: every worker's metrics summed by the primary (prom-client's cluster aggregation). */
export function clusterMetrics(): Promise<string> {
  const id = ++metricsId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingMetrics.delete(id);
      reject(new Error('the primary did not answer with metrics within 10 s'));
    }, 10_000);
    pendingMetrics.set(id, (m) => {
      clearTimeout(timer);
      pendingMetrics.delete(id);
      if (m.text !== undefined) resolve(m.text);
      else reject(new Error(m.error ?? 'no metrics'));
    });
    process.send?.({ type: 'rk:metrics', id } satisfies ToPrimary);
  });
}

/**
 * Runs `stop` and exits: 0 once it resolved, 1 when it failed or took over `timeoutMs` (saying which).
 * The single manager, a --workers primary and each worker stop this way.
 */
export function stopThenExit(stop: () => Promise<void>, timeoutMs: number, say: (line: string) => void): void {
  const force = setTimeout(() => {
    say(`shutdown took over ${timeoutMs / 1000} s, exiting`);
    process.exit(1);
  }, timeoutMs);
  force.unref();
  stop().then(
    () => process.exit(0),
    (err: unknown) => {
      say(`shutdown failed: ${String(err)}`);
      process.exit(1);
    },
  );
}

/** True in a worker process of `--workers N`. */
export const inWorker = () => cluster.isWorker;
