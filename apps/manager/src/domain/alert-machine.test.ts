// The alert state machine: consecutive breaches open, hysteresis closes, no flapping.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AlertState, INITIAL, type Level, levelOf, step } from './alert-machine.js';

const t = { warning: 100, critical: 500 };

function run(values: number[]): { states: Level[]; changes: number } {
  let s: AlertState = INITIAL;
  let changes = 0;
  const states: Level[] = [];
  for (const v of values) {
    const r = step(s, levelOf(v, t, s.state));
    s = r.next;
    if (r.changed) changes++;
    states.push(s.state);
  }
  return { states, changes };
}

describe('alert machine', () => {
  it('opens after three breaches in a row, not after two', () => {
    expect(run([150, 150, 50, 150, 150]).states.at(-1)).toBe('ok');
    expect(run([150, 150, 150]).states).toEqual(['ok', 'ok', 'warning']);
  });

  it('escalates to critical and closes only after three values under the hysteresis band', () => {
    const r = run([600, 600, 600, 95, 95, 95, 80, 80, 80]);
    expect(r.states[2]).toBe('critical');
    // 95 is under warning but not under warning × 0.9 = 90: stays warning
    expect(r.states[5]).toBe('warning');
    expect(r.states[8]).toBe('ok');
  });

  it('never changes state more often than once per three results', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), (values) => {
        const { states } = run(values);
        let last = -10;
        for (let i = 1; i < states.length; i++) {
          if (states[i] !== states[i - 1]) {
            expect(i - last).toBeGreaterThanOrEqual(3);
            last = i;
          }
        }
      }),
    );
  });
});
