// CPU load for "under load" benchmark runs: one busy-looping process per core, bounded in time.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuLoad {
  /** Stops the burners (SIGKILL) and waits for them to exit. */
  stop(): Promise<void>;
}

/** Starts `count` (default: one per core) busy loops that exit by themselves after `maxMs`. */
export function startCpuLoad(maxMs: number, count = availableParallelism()): CpuLoad {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(
      spawn(
        process.execPath,
        ['-e', `const end = Date.now() + ${Math.round(maxMs)}; let x = 0; while (Date.now() < end) x++;`],
        {
          stdio: 'ignore',
        },
      ),
    );
  }
  return {
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}
