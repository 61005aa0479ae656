// Tests: runner contract: concurrency bound, abort, deadlines (fake time), spec validation.
import type { ProbeSpec } from '@rookery/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { abortReason } from './errors.js';
import type { ExecTool } from './exec.js';
import { ProbeRunner, runProbe, specProblem } from './index.js';

/** An exec that hangs until released or aborted, recording how many run at once. */
function gatedExec() {
  const releases: (() => void)[] = [];
  let running = 0;
  let peak = 0;
  const exec: ExecTool = (_cmd, _args, opts) =>
    new Promise((resolve, reject) => {
      running++;
      peak = Math.max(peak, running);
      const done = () => {
        running--;
      };
      opts.signal.addEventListener('abort', () => {
        done();
        reject(abortReason(opts.signal));
      });
      releases.push(() => {
        done();
        resolve({ stdout: '', stderr: 'ping: connect: Network is unreachable', exitCode: 2 });
      });
    });
  return { exec, releases, peak: () => peak };
}

const icmp = (target = '127.0.0.1'): ProbeSpec => ({ kind: 'icmp', target, count: 1 });

/** Kinds load on first use (real I/O): load icmp before time is faked. */
async function loadIcmp(): Promise<void> {
  const r = await runProbe({ kind: 'icmp', target: '-bad' });
  expect(r.error?.code).toBe('invalid_target');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ProbeRunner', () => {
  it('runs at most `concurrency` probes at once, in FIFO order', async () => {
    const g = gatedExec();
    const runner = new ProbeRunner({ concurrency: 2, exec: g.exec });
    const results = Array.from({ length: 5 }, (_, i) => runner.run(icmp(`127.0.0.${i + 1}`)));
    await vi.waitFor(() => expect(runner.active).toBe(2));
    expect(runner.queued).toBe(3);
    let released = 0;
    while (released < 5) {
      await vi.waitFor(() => expect(g.releases.length).toBeGreaterThan(0));
      expect(runner.active).toBeLessThanOrEqual(2);
      g.releases.shift()?.();
      released++;
    }
    const done = await Promise.all(results);
    expect(g.peak()).toBe(2);
    expect(done.map((r) => r.target)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
    expect(done.every((r) => r.error?.code === 'unreachable')).toBe(true);
    expect(runner.active).toBe(0);
  });

  it('aborts a queued probe without running it', async () => {
    const g = gatedExec();
    const runner = new ProbeRunner({ concurrency: 1, exec: g.exec });
    const first = runner.run(icmp());
    const controller = new AbortController();
    const second = runner.run(icmp('127.0.0.2'), { signal: controller.signal });
    controller.abort();
    const r2 = await second;
    expect(r2.error?.code).toBe('aborted');
    expect(runner.queued).toBe(0);
    await vi.waitFor(() => expect(g.releases).toHaveLength(1));
    g.releases[0]?.();
    expect((await first).error?.code).toBe('unreachable');
    expect(g.peak()).toBe(1);
  });

  it('ends a probe at its deadline with code timeout (fake time)', async () => {
    await loadIcmp();
    vi.useFakeTimers();
    const g = gatedExec();
    const runner = new ProbeRunner({ exec: g.exec });
    const pending = runner.run({ ...icmp(), timeoutMs: 1500 } as ProbeSpec);
    await vi.advanceTimersByTimeAsync(1499);
    expect(runner.active).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const r = await pending;
    expect(r.error).toEqual({ code: 'timeout', message: 'no result within 1500 ms' });
    expect(r.metrics).toMatchObject({ sent: 0, tool: 'ping' });
  });

  it('uses the per-kind default deadline (fake time)', async () => {
    await loadIcmp();
    vi.useFakeTimers();
    const g = gatedExec();
    const pending = new ProbeRunner({ exec: g.exec }).run({
      kind: 'icmp',
      target: '127.0.0.1',
      count: 2,
      intervalMs: 500,
    });
    // 2 × 500 ms + 1000 ms wait + 3000 ms
    await vi.advanceTimersByTimeAsync(4999);
    await vi.advanceTimersByTimeAsync(1);
    expect((await pending).error?.code).toBe('timeout');
  });
});

describe('runProbe', () => {
  it('never rejects: a bad spec becomes an invalid_spec result', async () => {
    const r = await runProbe({ kind: 'udp', target: '127.0.0.1:1', count: 0 } as ProbeSpec);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('invalid_spec');
    expect(r.error?.message).toContain('/count');
    const unknown = await runProbe({ kind: 'smtp', target: 'x' } as unknown as ProbeSpec);
    expect(unknown.error?.message).toBe('unknown probe kind "smtp"');
    const extra = await runProbe({ kind: 'tcp', target: '127.0.0.1:1', bogus: 1 } as unknown as ProbeSpec);
    expect(extra.error?.code).toBe('invalid_spec');
  });

  it('reports an already-aborted signal as aborted', async () => {
    const r = await runProbe({ kind: 'tcp', target: '127.0.0.1:1' }, { signal: AbortSignal.abort() });
    expect(r.error?.code).toBe('aborted');
  });

  it('stamps start time and duration', async () => {
    const before = Date.now();
    const r = await runProbe({ kind: 'tcp', target: '127.0.0.1:1' });
    expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(r.durationMs).toBeGreaterThan(0);
  });
});

describe('specProblem', () => {
  it('names the field of the branch the kind selects', () => {
    expect(specProblem({ kind: 'dns', target: '127.0.0.1' })).toContain('/name');
    expect(specProblem({ kind: 'http', target: 'http://x/' })).toBeUndefined();
  });
});
