// Tests: CLI flags → ProbeSpec mapping and its usage errors.
import { describe, expect, it } from 'vitest';
import { specFromFlags, unescape } from './cli-spec.js';
import { specProblem } from './index.js';

describe('specFromFlags', () => {
  it('builds a valid http spec from flags', () => {
    const spec = specFromFlags('http', 'http://127.0.0.1:1/', {
      method: 'post',
      header: ['X-A: 1', 'Content-Type: text/plain'],
      data: 'hi',
      expectStatus: '200, 201',
      expectHeader: ['content-type: json'],
      maxRedirects: '0',
      http1: true,
      timeout: '500',
    });
    expect(spec).toEqual({
      kind: 'http',
      target: 'http://127.0.0.1:1/',
      timeoutMs: 500,
      method: 'POST',
      headers: { 'X-A': '1', 'Content-Type': 'text/plain' },
      body: 'hi',
      expectStatus: [200, 201],
      expectHeaders: { 'content-type': 'json' },
      maxRedirects: 0,
      alpn: ['http/1.1'],
    });
    expect(specProblem(spec)).toBeUndefined();
  });

  it('maps udp/icmp/traceroute/tcp/dns flags', () => {
    expect(specFromFlags('udp', '127.0.0.1:9', { count: '5', interval: '0.5', size: '100' })).toEqual({
      kind: 'udp',
      target: '127.0.0.1:9',
      count: 5,
      intervalMs: 0.5,
      size: 100,
    });
    expect(specFromFlags('icmp', '::1', { ipv6: true, tool: 'fping', ttl: '3' })).toMatchObject({
      ipFamily: 6,
      tool: 'fping',
      ttl: 3,
    });
    expect(specFromFlags('traceroute', 'h', { via: 'icmp', mtu: true })).toMatchObject({
      method: 'icmp',
      pathMtu: true,
    });
    expect(specFromFlags('tcp', 'h:1', { send: 'PING\\r\\n', expect: 'PONG' })).toMatchObject({
      send: 'PING\r\n',
      expect: 'PONG',
    });
    const dns = specFromFlags('dns', '127.0.0.1:5353', { name: 'a.test', tcp: true, tcpFallback: false });
    expect(dns).toEqual({
      kind: 'dns',
      target: '127.0.0.1:5353',
      name: 'a.test',
      transport: 'tcp',
      tcpFallback: false,
    });
  });

  it.each([
    ['ping', {}, 'unknown probe kind'],
    ['dns', {}, '--name is required'],
    ['udp', { count: 'ten' }, '--count'],
    ['icmp', { tool: 'nmap' }, '--tool'],
    ['http', { header: ['nocolon'] }, '--header'],
    ['traceroute', { via: 'gre' }, '--via'],
  ])('refuses %s with %j', (kind, flags, message) => {
    expect(() => specFromFlags(kind, 't', flags)).toThrow(message);
  });
});

describe('unescape', () => {
  it('understands \\r \\n \\t \\\\', () => {
    expect(unescape('a\\r\\n\\t\\\\b')).toBe('a\r\n\t\\b');
  });
});
