// Probe failures: one error class carrying a stable code, and the mapping from Node's errors to codes.
import type { ProbeError, ProbeErrorCode } from '@rookery/protocol';

/** A probe failure with a stable code (see PROBE_ERROR_CODES in @rookery/protocol). */
export class ProbeFailure extends Error {
  constructor(
    readonly code: ProbeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeFailure';
  }
}

/**
 * The verdict of a loss-measuring probe (icmp, udp) once its replies are counted: `noReply` when none
 * came back (the caller names why), `loss_exceeded` above the spec's `maxLossPct`.
 */
export function checkReplies(
  m: { received: number; lossPct: number },
  maxLossPct: number | undefined,
  noReply: () => ProbeFailure,
): void {
  if (m.received === 0) throw noReply();
  if (maxLossPct !== undefined && m.lossPct > maxLossPct) {
    throw new ProbeFailure('loss_exceeded', `loss ${m.lossPct}% above ${maxLossPct}%`);
  }
}

const SYSCALL_CODES: Record<string, ProbeErrorCode> = {
  ENOTFOUND: 'dns_failure',
  EAI_AGAIN: 'dns_failure',
  EAI_NODATA: 'dns_failure',
  EAI_NONAME: 'dns_failure',
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ERR_STREAM_PREMATURE_CLOSE: 'reset',
  ERR_HTTP2_STREAM_ERROR: 'protocol_error',
  ERR_HTTP2_SESSION_ERROR: 'protocol_error',
  ERR_HTTP2_ERROR: 'protocol_error',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ETIMEDOUT: 'timeout',
  ABORT_ERR: 'aborted',
};

/** TLS failures show up as OpenSSL codes, certificate verification codes or ERR_TLS_*. */
function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.includes('CERT') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/**
 * Maps anything thrown inside a probe to `{code, message}`. Never throws.
 * ProbeFailure keeps its code; Node system errors map by `code`; HTTP parser errors → protocol_error;
 * anything else → internal.
 */
export function toProbeError(err: unknown): ProbeError {
  if (err instanceof ProbeFailure) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  const mapped = SYSCALL_CODES[code];
  if (mapped) return { code: mapped, message };
  if (code && isTlsCode(code)) return { code: 'tls_error', message };
  if (code.startsWith('HPE_') || code.startsWith('ERR_HTTP2_') || code === 'ERR_INVALID_HTTP_RESPONSE') {
    return { code: 'protocol_error', message };
  }
  if (/ssl|tls|certificate|handshake/i.test(message)) return { code: 'tls_error', message };
  return { code: 'internal', message };
}

/** Rejects with the signal's reason (a ProbeFailure from the runner) if it has fired. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortReason(signal);
}

/** The failure to report for an aborted signal. */
export function abortReason(signal: AbortSignal): ProbeFailure {
  const r: unknown = signal.reason;
  return r instanceof ProbeFailure ? r : new ProbeFailure('aborted', 'probe aborted');
}
