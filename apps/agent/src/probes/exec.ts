// Runs an external measuring tool with execFile (argv, never a shell), a timeout and an AbortSignal.
import { execFile } from 'node:child_process';
import { abortReason, ProbeFailure } from './errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** process exit code; -1 when killed by a signal */
  exitCode: number;
}

export interface ExecOptions {
  signal: AbortSignal;
  /** kill after this many ms (SIGKILL); reported as ProbeFailure('timeout') */
  timeoutMs: number;
}

/** Runs `cmd args`; resolves with its output and exit code whatever the code. */
export type ExecTool = (cmd: string, args: readonly string[], opts: ExecOptions) => Promise<ExecResult>;

/**
 * The real ExecTool. Resolves for any exit code; rejects with ProbeFailure: tool_missing when
 * `cmd` is not installed, timeout after `timeoutMs`, or the signal's reason when aborted.
 */
export const execTool: ExecTool = (cmd, args, opts) =>
  new Promise<ExecResult>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(abortReason(opts.signal));
      return;
    }
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 4 * 1024 * 1024,
        signal: opts.signal,
        env: { ...process.env, LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr, exitCode: 0 });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === 'ENOENT') reject(new ProbeFailure('tool_missing', `${cmd} is not installed`));
        else if (opts.signal.aborted) reject(abortReason(opts.signal));
        else if (e.killed) reject(new ProbeFailure('timeout', `${cmd} killed after ${opts.timeoutMs} ms`));
        else if (typeof e.code === 'number') resolve({ stdout, stderr, exitCode: e.code });
        else reject(new ProbeFailure('tool_failed', `${cmd}: ${e.message}`));
      },
    );
    child.stdin?.end();
  });
