// The alert state machine of one series × metric: N results in a row to open or escalate,
// N below the level (with hysteresis) to de-escalate or close. Pure.

export type Level = 'ok' | 'warning' | 'critical';
export type AlertMetric = 'latency' | 'jitter' | 'loss' | 'availability';

export interface AlertState {
  state: Level;
  pending: Level;
  pending_count: number;
}

export interface Thresholds {
  warning: number;
  critical: number;
}

export interface MachineOptions {
  /** consecutive results at a level before the state moves there. @default 3 */
  consecutive: number;
  /** a value counts as below a level only under level × (1 − hysteresis). @default 0.1 */
  hysteresis: number;
}

export const DEFAULT_MACHINE: MachineOptions = { consecutive: 3, hysteresis: 0.1 };

const RANK: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };

/**
 * Level a value points to. Going up uses the thresholds as they are; going down from the current
 * state needs the value under threshold × (1 − hysteresis), so a value hovering at the threshold
 * does not flap.
 */
export function levelOf(value: number, t: Thresholds, current: Level, o: MachineOptions = DEFAULT_MACHINE): Level {
  const up: Level = value >= t.critical ? 'critical' : value >= t.warning ? 'warning' : 'ok';
  if (RANK[up] >= RANK[current]) return up;
  const f = 1 - o.hysteresis;
  if (current === 'critical' && value >= t.critical * f) return 'critical';
  if (current !== 'ok' && value >= t.warning * f) return 'warning';
  return up;
}

/** Feeds one level; returns the new machine state and whether `state` changed. */
export function step(
  s: AlertState,
  level: Level,
  o: MachineOptions = DEFAULT_MACHINE,
): { next: AlertState; changed: boolean } {
  const pending_count = level === s.pending ? s.pending_count + 1 : 1;
  if (level !== s.state && pending_count >= o.consecutive) {
    return { next: { state: level, pending: level, pending_count }, changed: true };
  }
  return { next: { state: s.state, pending: level, pending_count }, changed: false };
}

export const INITIAL: AlertState = { state: 'ok', pending: 'ok', pending_count: 0 };

/**
 * Ok with nothing pending: how many ok readings in a row no longer matters (the next breach starts its
 * own count at 1), so a quiet machine behaves as INITIAL.
 */
export const isQuiet = (s: AlertState) => s.state === 'ok' && s.pending === 'ok';
