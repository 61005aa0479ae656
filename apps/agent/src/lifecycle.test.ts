// Tests of the lifecycle state machine and signal-driven shutdown.
import { EventEmitter } from 'node:events';
import { AGENT_STATES } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handleShutdownSignals, IllegalTransitionError, Lifecycle, TRANSITIONS } from './lifecycle.js';

describe('Lifecycle', () => {
  it('allows the documented path and tells listeners', () => {
    const l = new Lifecycle();
    const seen: string[] = [];
    l.onChange((to, from) => seen.push(`${from}→${to}`));
    for (const s of [
      'enrolling',
      'unenrolled_fallback',
      'enrolled',
      'enrolling',
      'enrolled',
      'stopping',
      'stopped',
    ] as const) {
      l.transition(s);
    }
    l.transition('stopped');
    expect(seen).toHaveLength(7);
    expect(l.state).toBe('stopped');
    expect(l.isStopping).toBe(true);
  });

  it('throws on an illegal transition and covers every state', () => {
    const l = new Lifecycle();
    expect(() => l.transition('unenrolled_fallback')).toThrow(IllegalTransitionError);
    expect(() => l.transition('stopped')).toThrow('illegal agent state transition starting → stopped');
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...AGENT_STATES].sort());
    for (const from of AGENT_STATES)
      if (from !== 'stopped') expect(TRANSITIONS[from]).toContain(from === 'stopping' ? 'stopped' : 'stopping');
  });
});

describe('handleShutdownSignals', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stops once on SIGTERM then exits 0; a second signal forces exit 1', async () => {
    const proc = new EventEmitter();
    let resolveStop!: () => void;
    const stop = vi.fn(() => new Promise<void>((r) => (resolveStop = r)));
    const exit = vi.fn();
    const remove = handleShutdownSignals({ stop }, exit, { proc });
    proc.emit('SIGTERM');
    expect(stop).toHaveBeenCalledWith('SIGTERM');
    proc.emit('SIGINT');
    expect(exit).toHaveBeenCalledWith(1);
    resolveStop();
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenLastCalledWith(0);
    expect(stop).toHaveBeenCalledTimes(1);
    remove();
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });

  it('exits 1 when stopping takes longer than forceAfterMs', async () => {
    const proc = new EventEmitter();
    const exit = vi.fn();
    handleShutdownSignals({ stop: () => new Promise<void>(() => undefined) }, exit, { proc, forceAfterMs: 5000 });
    proc.emit('SIGINT');
    await vi.advanceTimersByTimeAsync(4999);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledWith(1);
  });
});
