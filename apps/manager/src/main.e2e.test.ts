// `./rookery manager` against a PostgreSQL server it cannot use (or with PGOPTIONS it refuses): one clear line, exit 2,
// no stack, no password.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER = process.env.ROOKERY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function runManager(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(path.join(ROOT, 'rookery'), ['manager', '--listen', '127.0.0.1:0', '--log-level', 'warn'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, SECRET_KEY: randomBytes(32).toString('hex'), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stderr });
    });
  });
}

describe('manager start-up with a database it cannot use', () => {
  it('names the server and the reason in one line, exits 2, shows no stack trace and no password', async () => {
    // port 1 on loopback: nothing listens there
    const unreachable = await runManager('postgres://postgres:pw-must-not-show@127.0.0.1:1/rookery');
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain(
      'rookery manager: cannot use PostgreSQL at 127.0.0.1:1/rookery as postgres: connect ECONNREFUSED 127.0.0.1:1',
    );
    const missing = new URL(SERVER);
    missing.pathname = `/rk_missing_${randomBytes(4).toString('hex')}`;
    const noDb = await runManager(missing.toString());
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toMatch(/cannot use PostgreSQL at .*rk_missing_[0-9a-f]+.*does not exist/);
    // a session setting the server refuses: named, before anything is migrated
    const badOption = await runManager(SERVER, { PGOPTIONS: '-c rk_no_such_setting=1' });
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain(
      'rookery manager: PostgreSQL refused a setting of PGOPTIONS ("-c rk_no_such_setting=1"): unrecognized configuration parameter "rk_no_such_setting"',
    );
    for (const r of [unreachable, noDb, badOption]) {
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toContain('pw-must-not-show');
    }
  }, 120_000);
});
