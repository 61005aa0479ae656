// As root the embedded engine runs PostgreSQL as the `postgres` user: a data dir it cannot reach is a clear error.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedSetupError, startEmbeddedPostgres } from './embedded.js';

describe.skipIf(process.getuid?.() !== 0)('embedded engine as root', () => {
  it('refuses a data dir under a directory the postgres user cannot enter, naming it', async () => {
    const closed = await mkdtemp(path.join(tmpdir(), 'rk-closed-')); // mkdtemp makes it 0700
    try {
      const err = await startEmbeddedPostgres(path.join(closed, 'data')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedSetupError);
      expect(String((err as Error).message)).toContain(`cannot enter ${closed} (mode 700)`);
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
