// Runs a reference tool with execFile (argv only), a timeout, and its output whatever the exit code; writes the
// machine's dirty pages back before a measurement.
import { execFile, execFileSync } from 'node:child_process';

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

/**
 * Writes the machine's dirty pages back (`sync`) and returns how long that took, seconds. Before a ladder or a side
 * of a comparison: the page cache is the machine's, and pages an earlier phase dirtied were written back by the
 * kernel in bursts of 120–230 MB within a second during whichever steps ran then (2026-12-07; one came as B1's
 * second manager ladder began). So each measurement pays for its own writes only, written back during its steps.
 */
export function writeBackDirtyPages(): number {
  const t0 = performance.now();
  execFileSync('sync');
  return (performance.now() - t0) / 1000;
}
