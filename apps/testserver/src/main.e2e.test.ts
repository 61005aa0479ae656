// Tests: the testserver command as a process: ready line, SIGTERM, bad flags.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('rookery testserver (process)', () => {
  it('prints where it listens, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'apps/testserver/src/main.ts', '--listen', '127.0.0.1:0'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] as string);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const ready = JSON.parse(line) as { event: string; url: string; tcpEcho: string; udpReflector: string };
    expect(ready.event).toBe('listening');
    expect(ready.tcpEcho).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`${ready.url}/healthz`)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('exits 2 on bad flags', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/testserver/src/main.ts', '--listen', 'nowhere'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    expect(await new Promise((r) => child.once('exit', r))).toBe(2);
    expect(err).toContain('--listen: expected HOST:PORT');
  });
});
