// The daemon's lifecycle: a documented State union, its legal transitions, and signal-driven graceful shutdown.
import type { AgentState } from '@rookery/protocol';

/**
 * Agent lifecycle states (also reported in heartbeats and status.json):
 * - `starting`: reading settings, state dir, device facts
 * - `enrolling`: no usable credential; calling the enrollment endpoint
 * - `unenrolled_fallback`: enrollment failed; running the local ENV/file config and retrying with backoff
 * - `enrolled`: holding a device credential; manager config (once fetched) overrides the local one
 * - `stopping`: timers cleared, in-flight probes and calls aborted, final heartbeat sent
 * - `stopped`: terminal
 */
export type State = AgentState;

/** Legal transitions; anything else is a bug and throws. */
export const TRANSITIONS: Readonly<Record<State, readonly State[]>> = {
  starting: ['enrolling', 'enrolled', 'stopping'],
  enrolling: ['enrolled', 'unenrolled_fallback', 'stopping'],
  unenrolled_fallback: ['enrolled', 'stopping'],
  enrolled: ['enrolling', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export class IllegalTransitionError extends Error {
  constructor(from: State, to: State) {
    super(`illegal agent state transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Holds the current state and tells listeners about changes. */
export class Lifecycle {
  private current: State = 'starting';
  private readonly listeners: ((to: State, from: State) => void)[] = [];

  get state(): State {
    return this.current;
  }

  /** True once stop was requested. */
  get isStopping(): boolean {
    return this.current === 'stopping' || this.current === 'stopped';
  }

  /** Moves to `to`; a no-op when already there; throws {@link IllegalTransitionError} when not allowed. */
  transition(to: State): void {
    const from = this.current;
    if (from === to) return;
    if (!TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(from, to);
    this.current = to;
    for (const listener of this.listeners) listener(to, from);
  }

  onChange(listener: (to: State, from: State) => void): void {
    this.listeners.push(listener);
  }
}

/** What a daemon exposes to the signal handler. */
export interface Stoppable {
  stop(reason: string): Promise<void>;
}

/**
 * Stops `daemon` on SIGTERM/SIGINT, then calls `exit(0)`; a second signal, or a stop that takes
 * longer than `forceAfterMs` (default 10 s), exits with 1. Returns a function removing the handlers.
 */
export function handleShutdownSignals(
  daemon: Stoppable,
  exit: (code: number) => void,
  options: { forceAfterMs?: number; proc?: NodeJS.EventEmitter } = {},
): () => void {
  const proc = options.proc ?? process;
  let signalled = false;
  const onSignal = (signal: string) => {
    if (signalled) {
      exit(1);
      return;
    }
    signalled = true;
    const force = setTimeout(() => exit(1), options.forceAfterMs ?? 10_000);
    force.unref?.();
    daemon.stop(signal).then(
      () => {
        clearTimeout(force);
        exit(0);
      },
      () => exit(1),
    );
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  proc.on('SIGTERM', onTerm);
  proc.on('SIGINT', onInt);
  return () => {
    proc.off('SIGTERM', onTerm);
    proc.off('SIGINT', onInt);
  };
}
