// commandCpu keeps the CPU of processes that exited: a reaped child's time moves to its parent's
// children time, which is counted for the top process of that name.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { commandCpu } from './proc-cpu.js';

it('keeps counting a child of the same name after it exits and is reaped', async () => {
  // perl names itself (prctl) and forks a child of that name, which burns a few hundred ms of CPU and exits;
  // the parent reaps it, says so and waits for stdin to close
  const p = spawn(
    'perl',
    [
      '-e',
      '$0 = "rkcputest"; $| = 1; my $pid = fork(); if (!$pid) { my $x = 0; $x++ for 1..1.5e7; exit 0 } waitpid($pid, 0); print "reaped\\n"; <STDIN>;',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    let during = 0;
    const reaped = new Promise<void>((resolve) =>
      p.stdout.on('data', (d: Buffer) => d.includes('reaped') && resolve()),
    );
    for (let i = 0; i < 5; i++) {
      await sleep(40);
      during = Math.max(during, commandCpu('rkcputest'));
    }
    await reaped;
    const after = commandCpu('rkcputest');
    expect(during).toBeGreaterThan(0);
    expect(after).toBeGreaterThanOrEqual(during);
    expect(after).toBeGreaterThan(100);
  } finally {
    p.stdin.end();
    p.kill();
  }
});
