// Tests: target validation per probe kind.
import { describe, expect, it } from 'vitest';
import { ProbeFailure } from './errors.js';
import { isHostName, parseHost, parseHostPort, parseHttpTarget, parseResolver, parseTcpTarget } from './target.js';

function failure(fn: () => unknown): ProbeFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProbeFailure) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('parseHostPort', () => {
  it('reads IPv4, names and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:8088')).toEqual({ host: '127.0.0.1', port: 8088 });
    expect(parseHostPort('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    expect(parseHostPort('[::1]:53')).toEqual({ host: '::1', port: 53 });
    expect(parseHostPort('::1', 53)).toEqual({ host: '::1', port: 53 });
    expect(parseHostPort('example.test', 22)).toEqual({ host: 'example.test', port: 22 });
  });

  it.each([
    ['127.0.0.1', 'missing :port'],
    ['127.0.0.1:0', 'out of range'],
    ['127.0.0.1:65536', 'out of range'],
    ['127.0.0.1:http', 'bad port'],
    ['::1', '[addr]:port'],
    ['[::1', 'unclosed'],
    ['[10.0.0.1]:80', 'IPv6 literal'],
    ['-oProxyCommand=x:22', 'IP address or host name'],
    ['a b:80', 'IP address or host name'],
  ])('rejects %s (%s)', (input, why) => {
    const err = failure(() => parseHostPort(input));
    expect(err.code).toBe('invalid_target');
    expect(err.message).toContain(why);
  });
});

describe('parseTcpTarget', () => {
  it('understands tcp://, tls:// and ssh:// (port 22 by default)', () => {
    expect(parseTcpTarget('tcp://127.0.0.1:80')).toEqual({ host: '127.0.0.1', port: 80, tls: false, ssh: false });
    expect(parseTcpTarget('tls://localhost:443')).toMatchObject({ tls: true, port: 443 });
    expect(parseTcpTarget('ssh://127.0.0.1')).toMatchObject({ ssh: true, port: 22 });
    expect(parseTcpTarget('ssh://[::1]:2222')).toMatchObject({ host: '::1', port: 2222, ssh: true });
  });

  it('rejects other schemes', () => {
    expect(failure(() => parseTcpTarget('udp://127.0.0.1:1')).message).toContain('unsupported scheme');
  });
});

describe('parseHttpTarget / parseHost / parseResolver', () => {
  it('accepts http(s) URLs only', () => {
    expect(parseHttpTarget('https://[::1]:8443/x?y=1').port).toBe('8443');
    expect(failure(() => parseHttpTarget('ftp://127.0.0.1/')).message).toContain('scheme');
    expect(failure(() => parseHttpTarget('not a url')).message).toContain('not a URL');
  });

  it('refuses hosts that ping would read as an option', () => {
    expect(parseHost('127.0.0.1')).toBe('127.0.0.1');
    expect(parseHost('[::1]')).toBe('::1');
    expect(parseHost('localhost')).toBe('localhost');
    expect(failure(() => parseHost('-f')).code).toBe('invalid_target');
    expect(failure(() => parseHost('1.2.3.4; rm')).code).toBe('invalid_target');
  });

  it('needs an IP for a resolver, port 53 by default', () => {
    expect(parseResolver('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseResolver('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
    expect(failure(() => parseResolver('dns.example:53')).message).toContain('IP address');
  });

  it('validates host names label by label', () => {
    expect(isHostName('a-b.example.')).toBe(true);
    expect(isHostName('-a.example')).toBe(false);
    expect(isHostName('x'.repeat(64))).toBe(false);
    expect(isHostName('1.2.3.999')).toBe(false);
  });
});
