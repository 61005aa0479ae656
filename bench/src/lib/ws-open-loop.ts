// Open-loop heartbeats over agent WebSockets: one stream per device, opened with its credential; messages
// start on a fixed schedule round-robin over the streams whatever the server does; latency runs from each
// message's scheduled send time to its answer (no coordinated omission). Bounded in count and time.
//
// The streams live in `bench/native/wsload.c`, a child process built here with the C compiler: B3 compares
// against pgbench, a C client, and a Node client (`ws`, or a raw one) cost 27–32 µs of CPU per heartbeat on
// the two cores it shares with the manager it measures, as much as the manager itself.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { run } from './exec.js';
import { type StepResult, stepResult } from './open-loop.js';

const NATIVE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native');
const SOURCE = path.join(NATIVE, 'wsload.c');
const BINARY = path.join(NATIVE, '.build', 'wsload');

/** Builds `wsload` with `cc` when the binary is missing or older than its source; returns its path. */
export async function buildWsLoad(): Promise<string> {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(path.dirname(BINARY), { recursive: true });
  const out = await run('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE]);
  if (out.code !== 0) throw new Error(`building ${SOURCE} failed:\n${out.stderr}`);
  return BINARY;
}

/** What the caller learns about a sampled message (every `every`-th) as soon as it is answered. */
export type OnSample = (
  i: number,
  device: number,
  ok: boolean,
  sentAtEpochMs: number,
  answeredAtEpochMs: number,
) => void;

/** Open streams of a fleet of devices, held by one `wsload` child. */
export class WsFleet {
  private stepNo = 0;
  private waiting: ((line: string) => boolean) | undefined;
  private onLine: (line: string) => void = () => {};

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
    readonly size: number,
  ) {}

  /**
   * Opens one stream per credential at `wsUrl` (`ws://host:port/path`) and waits for each stream's `hello`.
   * Throws when a stream is refused.
   */
  static async open(wsUrl: string, credentials: string[]): Promise<WsFleet> {
    const u = new URL(wsUrl);
    if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs: ${wsUrl}`);
    const bin = await buildWsLoad();
    const dir = await mkdtemp(path.join(tmpdir(), 'rk-wsload-'));
    const file = path.join(dir, 'credentials');
    await writeFile(file, credentials.join('\n') + '\n', { mode: 0o600 });
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout });
    const fleet = new WsFleet(child, lines, credentials.length);
    lines.on('line', (l) => fleet.onLine(l));
    try {
      const answer = await fleet.command(
        `open ${u.hostname} ${u.port || 80} ${u.pathname}${u.search} ${file}`,
        (l) => l.startsWith('opened ') || l.startsWith('error '),
      );
      if (answer.startsWith('error ')) throw new Error(`opening the streams: ${answer.slice(6)}`);
    } catch (e) {
      fleet.close();
      throw e;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return fleet;
  }

  /** The `wsload` child's pid (its CPU is the generator's). */
  get pid(): number {
    return this.child.pid as number;
  }

  /** Sends a command; resolves with the first line `done` accepts, after passing every line to `onLine`. */
  private command(cmd: string, done: (line: string) => boolean, onLine: (line: string) => void = () => {}) {
    return new Promise<string>((resolve, reject) => {
      const exited = () => reject(new Error(`wsload exited during "${cmd.split(' ')[0]}"`));
      this.child.once('exit', exited);
      this.onLine = (l) => {
        if (!done(l)) return onLine(l);
        this.child.off('exit', exited);
        this.onLine = () => {};
        resolve(l);
      };
      this.child.stdin.write(`${cmd}\n`);
    });
  }

  /**
   * Sends `rate × durationMs/1000` heartbeats at `rate` per second, message i on stream i mod size. An
   * answer other than `heartbeat_ack` counts as an error, and so does none within `timeoutMs` after the last
   * send. Every `every`-th message (none when 0) is passed to `onSample` as it is answered.
   */
  async step(
    rate: number,
    durationMs: number,
    every = 0,
    onSample?: OnSample,
    timeoutMs = 10_000,
  ): Promise<StepResult> {
    const step = ++this.stepNo;
    let latencies: number[] = [];
    const last = await this.command(
      `step ${step} ${rate} ${durationMs} ${every} ${timeoutMs}`,
      (l) => l.startsWith('r ') || l.startsWith('error '),
      (l) => {
        if (l.startsWith('s ')) {
          const [i, device, ok, sent, answered] = l.slice(2).split(' ').map(Number) as number[];
          onSample?.(i as number, device as number, ok === 1, sent as number, answered as number);
        } else if (l.startsWith('l'))
          latencies =
            l.length > 2
              ? l
                  .slice(2)
                  .split(' ')
                  .map((us) => Number(us) / 1000)
              : [];
      },
    );
    if (last.startsWith('error ')) throw new Error(`wsload: ${last.slice(6)}`);
    const [total, ok, errors, timeouts, elapsed] = last.slice(2).split(' ').map(Number) as number[];
    const statuses: Record<string, number> = {};
    if (ok) statuses.ack = ok;
    if (errors) statuses.error = errors;
    if (timeouts) statuses.timeout = timeouts;
    return stepResult({
      rate,
      total: total as number,
      ok: ok as number,
      statuses,
      t0: 0,
      lastDone: elapsed as number,
      latencies,
    });
  }

  close(): void {
    this.lines.close();
    // a generator killed by a signal has a null exitCode too: its stdin is gone
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end('quit\n');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      t.unref();
      this.child.once('exit', () => clearTimeout(t));
    }
  }
}
