// Tiny tmpfs mounts for disk-full tests (root only), and a filler that takes every free byte.
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** True when this process may mount file systems (root). */
export const canMount = process.getuid?.() === 0;

export interface Tmpfs {
  dir: string;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `sizeKiB` on a fresh temp dir (`rk-tmpfs-…`); `unmount` also removes the dir. */
export async function mountTmpfs(sizeKiB: number): Promise<Tmpfs> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-tmpfs-'));
  const signal = AbortSignal.timeout(10_000);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'rk-spool-test', dir], { signal });
  return {
    dir,
    async unmount() {
      await run('umount', [dir], { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Appends to `file` in 1 KiB steps until the disk is full (ENOSPC); returns the bytes written. */
export async function fillDisk(file: string): Promise<number> {
  const chunk = Buffer.alloc(1024, 0x61);
  let written = 0;
  for (let i = 0; i < 1_000_000; i++) {
    try {
      await appendFile(file, chunk);
      written += chunk.length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return written;
      throw err;
    }
  }
  throw new Error('fillDisk: the disk never filled');
}
