// Tests of the command line: flags reach the daemon, `status` has its own options.
import { describe, expect, it } from 'vitest';
import { buildCli } from './cli.js';

function parse(args: string[]) {
  const calls: { action: string; flags: unknown }[] = [];
  const program = buildCli({
    run: async (flags) => void calls.push({ action: 'run', flags }),
    status: async (flags) => void calls.push({ action: 'status', flags }),
  });
  program.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  return program.parseAsync(['node', 'main.ts', ...args]).then(() => calls);
}

describe('rookery agent CLI', () => {
  it('runs the daemon with the operator-contract flags', async () => {
    expect(
      await parse([
        '--manager',
        'http://127.0.0.1:8080',
        '--enroll-secret',
        's',
        '--state-dir',
        '/tmp/x',
        '--run-seconds',
        '5',
      ]),
    ).toEqual([
      {
        action: 'run',
        flags: { manager: 'http://127.0.0.1:8080', enrollSecret: 's', stateDir: '/tmp/x', runSeconds: '5' },
      },
    ]);
    expect(await parse([])).toEqual([{ action: 'run', flags: {} }]);
  });

  it('shows status for a state dir', async () => {
    expect(await parse(['status', '--state-dir', '/tmp/y', '--json'])).toEqual([
      { action: 'status', flags: { stateDir: '/tmp/y', json: true } },
    ]);
  });

  it('rejects unknown flags', async () => {
    await expect(parse(['--bogus'])).rejects.toThrow(/unknown option/);
  });
});
