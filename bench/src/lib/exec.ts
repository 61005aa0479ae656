// Runs a reference tool with execFile (argv only), a timeout, and its output whatever the exit code.
import { execFile } from 'node:child_process';

export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args`; resolves for any exit code; rejects only when it cannot start or times out. */
export function run(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as { code?: unknown; killed?: boolean };
        if (typeof e.code === 'number' && !e.killed) return resolve({ code: e.code, stdout, stderr });
        reject(err);
      },
    );
  });
}
