// The request-duration histogram, kept in plain arrays and exposed through prom-client's registry.
//
// Why not prom-client's Histogram: every `labels(…).observe(…)` validates and hashes the label set, and that
// cost every request. Measured with `./rookery bench compare HEAD --kind heartbeat` (4 alternated rounds at
// 3000 req/s, 2026-12-06): the manager used 159.0 µs of CPU per heartbeat with prom-client's histogram and
// counters, 148.7 with these. Here a label set is looked up in nested Maps of the (constant) method
// and route strings and a status-class slot, and an observation is a bucket scan and three additions.
// The registry reads it as it reads any metric (`get`, `reset`); its text and its JSON (which the cluster
// aggregation sums across workers) are the same as prom-client's Histogram gives for the same observations
// (request-durations.test.ts).
import type { Metric } from 'prom-client';

type Labels = { method: string; route: string; status: string };

/** One label set: counts per bucket (not cumulative; the last is +Inf), sum and count. */
export interface DurationSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class RequestDurations {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** method → route → status class (the status's hundreds) → series */
  private readonly series = new Map<string, Map<string, (DurationSeries | undefined)[]>>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** upper bounds, seconds, ascending */
    private readonly bounds: readonly number[],
  ) {}

  /** The series of a method, route pattern and status (counted by class: `2xx`, …). */
  of(method: string, route: string, status: number): DurationSeries {
    let routes = this.series.get(method);
    if (!routes) this.series.set(method, (routes = new Map()));
    let classes = routes.get(route);
    if (!classes) routes.set(route, (classes = []));
    const c = Math.floor(status / 100);
    let s = classes[c];
    if (!s) {
      s = {
        labels: { method, route, status: `${c}xx` },
        counts: new Float64Array(this.bounds.length + 1),
        sum: 0,
        count: 0,
      };
      classes[c] = s;
    }
    return s;
  }

  observe(s: DurationSeries, seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > (this.bounds[i] as number)) i++;
    (s.counts[i] as number)++;
    s.sum += seconds;
    s.count++;
  }

  /** The metric as prom-client's registry and cluster aggregation read it. */
  async get() {
    const values: Value[] = [];
    for (const routes of this.series.values()) {
      for (const classes of routes.values()) {
        for (const s of classes) {
          if (!s) continue;
          let acc = 0;
          this.bounds.forEach((le, i) => {
            acc += s.counts[i] as number;
            values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
          });
          values.push(
            { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` },
            { labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` },
            { labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` },
          );
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Zeroes every series in place (callers may hold one). */
  reset(): void {
    for (const routes of this.series.values())
      for (const classes of routes.values())
        for (const s of classes) {
          if (!s) continue;
          s.counts.fill(0);
          s.sum = 0;
          s.count = 0;
        }
  }

  /** This histogram as the registry's `registerMetric` takes it. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
