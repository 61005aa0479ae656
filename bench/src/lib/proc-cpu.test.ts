// commandCpu keeps the CPU of processes that exited: a reaped child's time moves to its parent's
// children time, which is counted for the top process of that name. nodeTreeCpu counts a process's node children.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { commandCpu, machineCpu, machineShare, nodeTreeCpu, parseCpuLine, processCpu } from './proc-cpu.js';

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

it('counts the node children of a process (manager workers) with it, not other children', async () => {
  // a node child that burns CPU and stays up, and a perl child that does too: only the first is in the tree
  const burn = (cmd: string, args: string[]) => spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const node = burn(process.execPath, [
    '-e',
    'let x = 0; for (let i = 0; i < 3e8; i++) x++; console.log("done"); setInterval(() => {}, 1000)',
  ]);
  const perl = burn('perl', ['-e', '$| = 1; my $x = 0; $x++ for 1..3e7; print "done\\n"; <STDIN>;']);
  try {
    const done = (p: typeof node) => new Promise<void>((resolve) => p.stdout.on('data', () => resolve()));
    await Promise.all([done(node), done(perl)]);
    const own = processCpu('self').ownMs;
    const tree = nodeTreeCpu(process.pid);
    const nodeChild = processCpu(node.pid as number).ownMs;
    expect(nodeChild).toBeGreaterThan(100);
    expect(processCpu(perl.pid as number).ownMs).toBeGreaterThan(100);
    // own CPU moves on between the readings: allow a little
    expect(tree).toBeGreaterThanOrEqual(own + nodeChild - 20);
    expect(tree).toBeLessThan(own + nodeChild + 100);
  } finally {
    node.kill();
    perl.stdin.end();
    perl.kill();
  }
});

it("reads the machine's busy, steal and total time from /proc/stat's cpu line", () => {
  const text = 'cpu  169340 7 25439 242840 2053 11 5157 2488 0 0\ncpu0 84670 3 12719 121420 1026 5 2578 1244 0 0\n';
  expect(parseCpuLine(text)).toEqual({
    busyMs: (169340 + 7 + 25439 + 11 + 5157) * 10,
    stealMs: 24880,
    totalMs: (169340 + 7 + 25439 + 242840 + 2053 + 11 + 5157 + 2488) * 10,
  });
  expect(() => parseCpuLine('cpu0 1 2 3 4 5 6 7 8\n')).toThrow(/not \/proc\/stat's cpu line/);
  const a = { busyMs: 1000, stealMs: 0, totalMs: 10_000 };
  expect(machineShare(a, { busyMs: 2500, stealMs: 200, totalMs: 12_000 })).toEqual({ busy: 75, steal: 10 });
  // this machine's own, around 50 ms of spinning (several of the kernel's 10-ms ticks): busy, within 0–100 %
  const before = machineCpu();
  const t0 = performance.now();
  while (performance.now() - t0 < 50);
  const s = machineShare(before, machineCpu());
  expect(s.busy).toBeGreaterThan(0);
  expect(s.busy + s.steal).toBeLessThanOrEqual(100);
});
