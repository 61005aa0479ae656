// Timer 1 of the seed: test runs on a jittered interval, re-drawn per run; config switches without restart.
import { type ConfigValues, drawTestInterval, type Rng } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { ProbeRunner } from './probe-runner.js';
import type { ResultSink } from './result-sink.js';
import { runTests } from './test-run.js';
import { OneShotTimer } from './timer.js';

/** The config the agent runs right now. */
export interface ActiveConfig {
  values: ConfigValues;
  /** "manager" once a check-in delivered one (or a cached one), else "local" (ENV/file) */
  source: 'manager' | 'local';
  version: number | null;
  name: string | null;
}

export interface TestScheduleOptions {
  runner: ProbeRunner;
  sink: ResultSink;
  logger: Logger;
  /** aborts in-flight probes when the agent stops */
  signal: AbortSignal;
  /** random source for the per-run draw; @default Math.random */
  rng?: Rng | undefined;
  /** called after every completed run (the agent heartbeats) */
  onRunFinished?: () => Promise<void>;
  /** called on any change of the next run (the agent rewrites status.json) */
  onChange?: () => void;
}

/** Runs tests with the active config; never two runs at once. */
export class TestSchedule {
  private current: ActiveConfig;
  private readonly timer = new OneShotTimer();
  private running: Promise<void> | undefined;
  private lastStartedAt: number | undefined;

  constructor(
    initial: ActiveConfig,
    private readonly options: TestScheduleOptions,
  ) {
    this.current = initial;
  }

  get config(): ActiveConfig {
    return this.current;
  }

  /** Epoch ms of the next run, undefined while none is scheduled (e.g. during a run). */
  get nextRunAt(): number | undefined {
    return this.timer.dueAt;
  }

  get lastRunAt(): number | undefined {
    return this.lastStartedAt;
  }

  /** True once a run happened or one is scheduled. */
  get started(): boolean {
    return this.lastStartedAt !== undefined || this.timer.dueAt !== undefined || this.running !== undefined;
  }

  /**
   * Switches the running config. Before the first run, schedules one at once. Later, a changed
   * schedule moves the next run to (last run + `firstIntervalSeconds` or a fresh draw), never into
   * the past; other changes (targets, kinds) take effect at the next run.
   */
  apply(next: ActiveConfig, firstIntervalSeconds?: number): void {
    const before = this.current.values.schedule;
    this.current = next;
    if (!this.started) return this.schedule(0);
    const after = next.values.schedule;
    const changed =
      before.interval_seconds !== after.interval_seconds || before.offset_percent !== after.offset_percent;
    if (changed && !this.running && this.lastStartedAt !== undefined) {
      const seconds = firstIntervalSeconds ?? this.draw();
      this.schedule(this.lastStartedAt + seconds * 1000 - Date.now());
    }
  }

  /** Cancels the timer and waits for a run in flight (its probes see the aborted signal). */
  async stop(): Promise<void> {
    this.timer.cancel();
    await this.running?.catch(() => undefined);
  }

  private draw(): number {
    const { interval_seconds, offset_percent } = this.current.values.schedule;
    return drawTestInterval(interval_seconds, offset_percent, this.options.rng);
  }

  private schedule(delayMs: number): void {
    this.timer.schedule(delayMs, () => {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
      this.running.catch((err: unknown) =>
        this.options.logger.error({ err: (err as Error).message }, 'test run failed'),
      );
    });
    this.options.onChange?.();
  }

  private async run(): Promise<void> {
    const startedAt = Date.now();
    this.lastStartedAt = startedAt;
    const config = this.current;
    const { logger, signal } = this.options;
    const results = await runTests(config.values, {
      runner: this.options.runner,
      sink: this.options.sink,
      signal,
      source: { config_source: config.source, config_version: config.version },
      onSinkError: (err) => logger.error({ err: (err as Error).message }, 'result sink failed'),
    });
    if (signal.aborted) return;
    const failed = results.filter((r) => !r.ok).length;
    logger.info({ probes: results.length, failed, config_source: config.source }, 'test run finished');
    this.schedule(startedAt + this.draw() * 1000 - Date.now());
    await this.options.onRunFinished?.();
  }
}
