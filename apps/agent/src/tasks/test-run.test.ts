// Tests of one test run: probe selection, bounded concurrency, failures recorded, abort.
import { DEFAULT_CONFIG_VALUES, type TestsConfig } from '@rookery/protocol';
import { describe, expect, it } from 'vitest';
import { MemorySink } from '../testing/fakes.js';
import type { ProbeRunner } from './probe-runner.js';
import { unavailableProbeRunner } from './probe-runner.js';
import { UUIDV7_PATTERN } from './result-id.js';
import { probesFor, runTests } from './test-run.js';

const tests: TestsConfig = {
  ...structuredClone(DEFAULT_CONFIG_VALUES.tests),
  http: { enabled: true, targets: ['http://127.0.0.1:1/'] },
  tcp: { enabled: true, targets: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] },
  udp: { enabled: false, targets: ['127.0.0.1:4'] },
  icmp: { enabled: true, targets: ['127.0.0.1'] },
};
const source = { config_source: 'manager' as const, config_version: 3 };

describe('runTests', () => {
  it('selects enabled kinds only, in kind order', () => {
    expect(probesFor({ tests }).map((p) => `${p.kind} ${p.target}`)).toEqual([
      'http http://127.0.0.1:1/',
      'tcp 127.0.0.1:1',
      'tcp 127.0.0.1:2',
      'tcp 127.0.0.1:3',
      'icmp 127.0.0.1',
    ]);
  });

  it('keeps at most `concurrency` probes in flight and records failures without stopping', async () => {
    let inFlight = 0;
    let peak = 0;
    const runner: ProbeRunner = {
      async run(spec) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (spec.target.endsWith(':2')) return { ok: false, error: 'refused: connection refused', data: { code: 1 } };
        if (spec.kind === 'icmp') throw new Error('engine bug');
        return { ok: true, data: { rtt_ms: 1.5 } };
      },
    };
    const sink = new MemorySink();
    const results = await runTests(
      { tests },
      { runner, sink, signal: new AbortController().signal, source, concurrency: 2 },
    );
    expect(peak).toBe(2);
    expect(results).toHaveLength(5);
    expect(sink.results).toEqual(results);
    expect(new Set(results.map((r) => r.result_id)).size).toBe(5);
    for (const r of results) expect(r.result_id).toMatch(UUIDV7_PATTERN);
    const failed = results.find((r) => r.target === '127.0.0.1:2');
    expect(failed).toMatchObject({ ok: false, error: 'refused: connection refused', measurement: { code: 1 } });
    expect(failed).toMatchObject({ config_source: 'manager', config_version: 3, kind: 'tcp' });
    expect(results.find((r) => r.kind === 'icmp')).toMatchObject({ ok: false, error: 'engine bug' });
    expect(results.filter((r) => r.ok).every((r) => (r.measurement as { rtt_ms: number }).rtt_ms === 1.5)).toBe(true);
  });

  it('survives a throwing sink and an unavailable engine; stops taking probes once aborted', async () => {
    const errors: unknown[] = [];
    const sink = { write: () => Promise.reject(new Error('disk full')) };
    const results = await runTests(
      { tests },
      {
        runner: unavailableProbeRunner,
        sink,
        signal: new AbortController().signal,
        source,
        onSinkError: (e) => errors.push(e),
      },
    );
    expect(results.every((r) => !r.ok && r.error?.startsWith('probe engine not available'))).toBe(true);
    expect(errors).toHaveLength(5);
    const ac = new AbortController();
    ac.abort();
    expect(
      await runTests({ tests }, { runner: unavailableProbeRunner, sink: new MemorySink(), signal: ac.signal, source }),
    ).toEqual([]);
  });
});
