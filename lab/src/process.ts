// A long-lived process started inside a lab host: its PID, collected output, and stop-by-PID.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Working directory. @default the current one */
  cwd?: string;
  /** Extra environment variables, merged over `process.env`. */
  env?: Record<string, string>;
  /** Keep at most this many bytes of stdout and of stderr (older output is dropped). @default 4 MiB */
  maxOutputBytes?: number;
}

/** Thrown by `waitForOutput` when the pattern does not appear in time or the process exits first. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/** A process running inside a lab host. Created by `Lab.spawn`. */
export class ProcessHandle {
  /** PID of the program itself (`ip netns exec` replaces itself with it). */
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private out = '';
  private err = '';
  private exit: ExitInfo | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly child: ChildProcess;

  constructor(
    /** the lab host it runs in */
    readonly host: string,
    /** the program and its arguments */
    readonly argv: string[],
    namespace: string,
    options: SpawnOptions = {},
  ) {
    const max = options.maxOutputBytes ?? 4 * 1024 * 1024;
    this.child = spawn('ip', ['netns', 'exec', namespace, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${argv.join(' ')} in ${host}`);
    this.pid = this.child.pid;
    const keep = (s: string) => (s.length > max ? s.slice(s.length - max) : s);
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.out = keep(this.out + d);
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.err = keep(this.err + d);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', () => {
        this.exit ??= { code: null, signal: null };
        this.notify();
        resolve(this.exit);
      });
      this.child.on('close', (code, signal) => {
        this.exit ??= { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  /** Standard output collected so far. */
  get stdout(): string {
    return this.out;
  }

  /** Standard error collected so far. */
  get stderr(): string {
    return this.err;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Exit information once exited, else undefined. */
  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /**
   * Waits until stdout or stderr matches `pattern` (e.g. iperf3's "Server listening").
   * Rejects with `WaitTimeoutError` after `timeoutMs` (default 10 s) or when the process exits first.
   */
  waitForOutput(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const matches = () =>
      typeof pattern === 'string'
        ? this.out.includes(pattern) || this.err.includes(pattern)
        : pattern.test(this.out) || pattern.test(this.err);
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (matches()) done();
        else if (this.exit)
          done(
            new WaitTimeoutError(
              `${this.argv[0]} in ${this.host} exited before printing ${pattern}: ${this.err.trim().slice(-300)}`,
            ),
          );
      };
      const timer = setTimeout(
        () =>
          done(new WaitTimeoutError(`${this.argv[0]} in ${this.host} did not print ${pattern} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.listeners.add(check);
      check();
    });
  }

  /** Sends a signal to the process by PID; no-op once it has exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * Stops the process: `signal` (default SIGTERM), then SIGKILL after `graceMs` (default 2000 ms).
   * Resolves with its exit information; never rejects.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    return this.exited;
  }
}
