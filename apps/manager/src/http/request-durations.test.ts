// The plain-array histogram reads exactly as prom-client's Histogram given the same observations: the same
// exposition text, the same JSON (which the cluster aggregation sums), also after a reset.
import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurations } from './request-durations.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const NAME = 'rk_test_duration_seconds';
const HELP = 'test durations';

type Obs = { method: string; route: string; status: number; seconds: number };

const observation = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  route: fc.constantFrom('/api/v1/results/upload', '/healthz', 'unmatched'),
  status: fc.constantFrom(200, 201, 204, 304, 400, 401, 404, 422, 429, 500, 503),
  // bounds themselves included: a value equal to a bound falls in that bucket
  seconds: fc.oneof(fc.constantFrom(0, ...BOUNDS, 10), fc.double({ min: 0, max: 5, noNaN: true })),
});

function both(observations: Obs[]) {
  const theirs = new Registry();
  const reference = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['method', 'route', 'status'] as const,
    buckets: BOUNDS,
    registers: [theirs],
  });
  const ours = new Registry();
  const durations = new RequestDurations(NAME, HELP, BOUNDS);
  ours.registerMetric(durations.asMetric());
  for (const o of observations) {
    reference.labels(o.method, o.route, `${Math.floor(o.status / 100)}xx`).observe(o.seconds);
    durations.observe(durations.of(o.method, o.route, o.status), o.seconds);
  }
  return { theirs, ours, reference, durations };
}

/** Lines of an exposition, sorted: the order of label sets within a metric is not part of the format. */
const lines = (text: string) => text.split('\n').sort();

describe('RequestDurations', () => {
  it('exposes the same text and JSON as prom-client for any observations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const { theirs, ours } = both(observations);
        expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
        // without exemplars (prom-client's values carry an empty one)
        const json = async (r: Registry) =>
          (await r.getMetricsAsJSON()).map((m) => ({
            ...m,
            values: m.values
              .map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName }))
              .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          }));
        expect(await json(ours)).toEqual(await json(theirs));
      }),
      { numRuns: 200 },
    );
  });

  it('sums across workers as prom-client does', async () => {
    const obs: Obs[] = [
      { method: 'POST', route: '/r', status: 200, seconds: 0.003 },
      { method: 'POST', route: '/r', status: 429, seconds: 0.2 },
    ];
    const a = both(obs);
    const b = both(obs.slice(0, 1));
    const sum = async (x: Registry, y: Registry) =>
      lines(await AggregatorRegistry.aggregate([await x.getMetricsAsJSON(), await y.getMetricsAsJSON()]).metrics());
    const ours = await sum(a.ours, b.ours);
    expect(ours).toEqual(await sum(a.theirs, b.theirs));
    expect(ours).toContain(`${NAME}_count{method="POST",route="/r",status="2xx"} 2`);
  });

  it('zeroes in place on reset, so a series a caller holds keeps counting', async () => {
    const { ours, theirs, reference, durations } = both([{ method: 'GET', route: '/x', status: 200, seconds: 0.02 }]);
    const held = durations.of('GET', '/x', 200);
    ours.resetMetrics();
    theirs.resetMetrics();
    durations.observe(held, 0.7);
    reference.labels('GET', '/x', '2xx').observe(0.7);
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    expect(await ours.metrics()).toContain(`${NAME}_count{method="GET",route="/x",status="2xx"} 1`);
  });
});
