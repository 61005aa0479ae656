// Tests: Prometheus text and /proc/PID/stat parsers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProcStat } from './proc-cpu.js';
import { parsePromText, sampleValue } from './prom-text.js';

// captured from prometheus-blackbox-exporter 0.23.0 (Debian) /probe?module=http_2xx against the test server
const PROBE = readFileSync(new URL('./fixtures/blackbox-0.23-probe-http_2xx.txt', import.meta.url), 'utf8');

describe('parsePromText', () => {
  it('reads names, labels and values in exponent notation', () => {
    const s = parsePromText(PROBE);
    expect(s.length).toBeGreaterThan(15);
    expect(sampleValue(s, 'probe_http_duration_seconds', { phase: 'processing' })).toBe(0.006025785);
    expect(sampleValue(s, 'probe_dns_lookup_time_seconds')).toBe(1.6906e-5);
    expect(sampleValue(s, 'probe_http_status_code')).toBe(200);
    expect(sampleValue(s, 'probe_success')).toBe(1);
    expect(sampleValue(s, 'probe_http_duration_seconds', { phase: 'nope' })).toBeUndefined();
  });

  it('unescapes label values', () => {
    expect(parsePromText('m{a="x\\"y",b="z"} 2')[0]).toEqual({ name: 'm', labels: { a: 'x"y', b: 'z' }, value: 2 });
  });
});

describe('parseProcStat', () => {
  it('counts fields after the command name, even with spaces in it', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
    const stat = '1234 (node (x) y) S 1 1 1 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 11 0';
    expect(parseProcStat(stat)).toEqual({ ownMs: 3000, childrenMs: 100 });
  });
});
