// Tests: mapping of Node's errors to probe error codes.
import { describe, expect, it } from 'vitest';
import { ProbeFailure, toProbeError } from './errors.js';

function sysError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('toProbeError', () => {
  it.each([
    ['ECONNREFUSED', 'refused'],
    ['ENOTFOUND', 'dns_failure'],
    ['ECONNRESET', 'reset'],
    ['EHOSTUNREACH', 'unreachable'],
    ['ENETUNREACH', 'unreachable'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_error'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls_error'],
    ['CERT_HAS_EXPIRED', 'tls_error'],
    ['HPE_INVALID_CONSTANT', 'protocol_error'],
    ['ERR_HTTP2_STREAM_ERROR', 'protocol_error'],
  ])('maps %s to %s', (code, want) => {
    expect(toProbeError(sysError(code)).code).toBe(want);
  });

  it('keeps a ProbeFailure as it is', () => {
    expect(toProbeError(new ProbeFailure('timeout', 'late'))).toEqual({ code: 'timeout', message: 'late' });
  });

  it('calls anything unknown internal and never throws', () => {
    expect(toProbeError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toProbeError(null).code).toBe('internal');
    expect(toProbeError('text').message).toBe('text');
  });
});
