// Runs external programs (ip, tc, nft, wg, …) with execFile, a timeout and an AbortSignal; never a shell.
import { execFile } from 'node:child_process';

/** Output of a finished program. */
export interface RunResult {
  /** exit code; null when a signal ended the program */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Bytes written to the program's standard input (e.g. a key or an nft script). */
  input?: string;
  /** Kill the program (SIGKILL) after this many milliseconds. @default 30_000 */
  timeoutMs?: number;
  /** Abort the program early. */
  signal?: AbortSignal;
  /** Working directory. @default the current one */
  cwd?: string;
  /** Extra environment variables, merged over `process.env`. */
  env?: Record<string, string>;
}

/** Thrown when a program cannot start, times out, or (for `runChecked`) exits non-zero. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    /** the program and its arguments */
    readonly argv: string[],
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

const MAX_BUFFER = 64 * 1024 * 1024;

/**
 * Runs a program to completion and returns its exit code and output; a non-zero exit is not an
 * error here. Rejects with `CommandError` when the program cannot start, times out or is aborted.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const argv = [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: options.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_BUFFER,
        encoding: 'utf8',
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      },
      (error, stdout, stderr) => {
        const err = error as {
          code?: unknown;
          killed?: boolean;
          signal?: NodeJS.Signals | null;
          message: string;
        } | null;
        if (!err) return resolve({ code: 0, signal: null, stdout, stderr });
        if (typeof err.code === 'number') return resolve({ code: err.code, signal: null, stdout, stderr });
        if (err.signal && !err.killed && !options.signal?.aborted) {
          return resolve({ code: null, signal: err.signal, stdout, stderr });
        }
        const why = err.killed || options.signal?.aborted ? 'timed out or was aborted' : err.message;
        reject(new CommandError(`${argv.join(' ')}: ${why}`, argv, { code: null, signal: null, stdout, stderr }));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Like `run`, but rejects with `CommandError` (with stderr in the message) on a non-zero exit. */
export async function runChecked(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    const argv = [cmd, ...args];
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ');
    throw new CommandError(`${argv.join(' ')} exited ${result.code}: ${detail}`, argv, result);
  }
  return result;
}

/** Runs `ip [-n NAMESPACE] -batch -` with the given lines; rejects with `CommandError` on failure. */
export async function ipBatch(lines: string[], namespace?: string, options: RunOptions = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = namespace ? ['-n', namespace, '-batch', '-'] : ['-batch', '-'];
  await runChecked('ip', args, { ...options, input: `${lines.join('\n')}\n` });
}
