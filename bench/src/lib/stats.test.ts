// Tests: benchmark statistics and RESULTS.md sections.
import { describe, expect, it } from 'vitest';
import { median, quantile, summarize, us } from './stats.js';
import { replaceSection } from './results.js';

describe('bench statistics', () => {
  it('takes the median of odd and even counts, unsorted', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarizes with nearest-rank percentiles', () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(s).toMatchObject({ n: 100, min: 1, max: 100, p50: 50, p90: 90, p99: 99, mean: 50.5 });
    expect(quantile([], 50)).toBeNaN();
    expect(summarize([]).n).toBe(0);
  });

  it('formats a ms difference as signed µs', () => {
    expect(us(0.0123)).toBe('+12.3');
    expect(us(-0.5)).toBe('-500.0');
  });
});

describe('replaceSection', () => {
  it('replaces a marked section in place and appends a new one', () => {
    const doc = '# R\n\n<!-- B5:start -->\nold\n<!-- B5:end -->\n\ntail\n';
    expect(replaceSection(doc, 'B5', 'new')).toBe('# R\n\n<!-- B5:start -->\nnew\n<!-- B5:end -->\n\ntail\n');
    expect(replaceSection('# R\n', 'B8', 'x')).toBe('# R\n\n<!-- B8:start -->\nx\n<!-- B8:end -->\n');
  });
});
