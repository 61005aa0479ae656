// Tests of the probe-engine adapter: config targets → engine specs, engine results → outcomes.
import { describe, expect, it } from 'vitest';
import { type EngineSpec, probeRunnerFrom, toEngineSpec } from './probe-runner.js';

describe('toEngineSpec', () => {
  it('passes most kinds through and splits DNS targets into name and resolver', () => {
    expect(toEngineSpec({ kind: 'tcp', target: 'ssh://127.0.0.1' })).toEqual({
      kind: 'tcp',
      target: 'ssh://127.0.0.1',
    });
    expect(toEngineSpec({ kind: 'dns', target: 'example.test@127.0.0.1:5353' })).toEqual({
      kind: 'dns',
      name: 'example.test',
      target: '127.0.0.1:5353',
    });
    expect(toEngineSpec({ kind: 'dns', target: 'a.test@[::1]:53' })).toMatchObject({
      name: 'a.test',
      target: '[::1]:53',
    });
  });
});

describe('probeRunnerFrom', () => {
  it('maps engine results (ok or with an error code) to outcomes and forwards the signal', async () => {
    const seen: { spec: EngineSpec; signal: AbortSignal }[] = [];
    const runner = probeRunnerFrom(async (spec, { signal }) => {
      seen.push({ spec, signal });
      return spec.kind === 'udp'
        ? { ok: false, error: { code: 'no_reply', message: 'nothing came back' } }
        : { ok: true, metrics: { rttMs: 0.2 } };
    });
    const signal = new AbortController().signal;
    expect(await runner.run({ kind: 'icmp', target: '127.0.0.1' }, { signal })).toEqual({
      ok: true,
      error: undefined,
      data: { ok: true, metrics: { rttMs: 0.2 } },
    });
    expect(await runner.run({ kind: 'udp', target: '127.0.0.1:9' }, { signal })).toMatchObject({
      ok: false,
      error: 'no_reply: nothing came back',
    });
    expect(seen[0]?.signal).toBe(signal);
  });
});
