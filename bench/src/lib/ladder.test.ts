// The ladder reruns a failing step up to its attempts and stops at a rate that failed every attempt.
import { describe, expect, it } from 'vitest';
import { runLadder, stepCell, type StepResult, sustainedRate } from './open-loop.js';
import { summarize } from './stats.js';

const step = (rate: number, p99: number): StepResult => ({
  offered: rate,
  sent: rate,
  ok: rate,
  errors: 0,
  statuses: {},
  achieved: rate,
  latency: { ...summarize([1]), p99 },
});

describe('runLadder', () => {
  it('reruns a failing rate, stops after a rate fails every attempt, and keeps every attempt', async () => {
    // 100 passes; 200 fails once then passes; 300 fails every time; 400 never runs
    const p99s: Record<number, number[]> = { 100: [5], 200: [150, 5], 300: [150, 150, 150], 400: [5] };
    const steps = await runLadder([100, 200, 300, 400], 3, async (rate, attempt) =>
      step(rate, p99s[rate]?.[attempt - 1] as number),
    );
    expect(steps.map((s) => [s.offered, s.attempt])).toEqual([
      [100, 1],
      [200, 1],
      [200, 2],
      [300, 1],
      [300, 2],
      [300, 3],
    ]);
    expect(sustainedRate(steps)).toBe(200);
    expect(steps.map(stepCell).slice(1, 3)).toEqual(['FAIL', 'pass (attempt 2)']);
  });

  it('refines between the highest passing and the lowest failing rate, each midpoint with its attempts', async () => {
    // passes up to 2600 (any attempt), fails above: ladder 1000, 2000, 4000 → 3000 fails → 2500 passes → 2800 fails
    const steps = await runLadder([1000, 2000, 4000, 8000], 2, async (rate) => step(rate, rate <= 2600 ? 5 : 150), {
      refine: 3,
      grain: 100,
    });
    expect(steps.map((s) => s.offered)).toEqual([1000, 2000, 4000, 4000, 3000, 3000, 2500, 2800, 2800]);
    expect(sustainedRate(steps)).toBe(2500);
    // nothing to refine when the ladder never failed, or failed at its first rate
    expect((await runLadder([100, 200], 1, async (r) => step(r, 5), { refine: 3 })).map((s) => s.offered)).toEqual([
      100, 200,
    ]);
    expect((await runLadder([100, 200], 1, async (r) => step(r, 150), { refine: 3 })).map((s) => s.offered)).toEqual([
      100,
    ]);
  });
});
