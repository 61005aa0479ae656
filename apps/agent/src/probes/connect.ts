// Opens a timed TCP (and optionally TLS) connection for the http and tcp probes: DNS, connect and
// TLS phases measured with hrtime at the socket events; fills `timings` as it goes so a failure
// still reports the phases that completed.
import { lookup } from 'node:dns/promises';
import type { EventEmitter } from 'node:events';
import net, { isIP } from 'node:net';
import type tls from 'node:tls';
import type { TlsInfo } from '@rookery/protocol';
import { msSince, nowNs, roundMs } from './clock.js';
import { abortReason, ProbeFailure, throwIfAborted } from './errors.js';

export interface ConnectTimings {
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  tls?: TlsInfo;
  alpn?: string;
}

export interface TlsOptions {
  /** SNI and certificate name; default the host when it is a name */
  servername?: string;
  /** ALPN protocols to offer, e.g. ['h2', 'http/1.1'] */
  alpn?: string[];
  /** accept certificates that do not verify (the failure is still reported in TlsInfo) */
  insecure?: boolean;
  /** extra trusted CA certificates, PEM */
  caPem?: string;
}

export interface ConnectOptions {
  host: string;
  port: number;
  family?: 4 | 6;
  tls?: TlsOptions;
  signal: AbortSignal;
}

export interface Connection {
  socket: net.Socket;
  /** hrtime (ns) when the probe started */
  startNs: bigint;
  /** hrtime (ns) when the connection (and TLS) was ready */
  readyNs: bigint;
}

/**
 * Waits for `event` on `emitter`; rejects on 'error', on 'close' before the event, or with the
 * signal's reason when it aborts. Listeners are removed either way.
 */
export function waitForEvent<T = unknown>(emitter: EventEmitter, event: string, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      emitter.off(event, onEvent);
      emitter.off('error', onError);
      emitter.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onEvent = (value: T) => {
      cleanup();
      resolve(value);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new ProbeFailure('reset', `connection closed before ${event}`));
    };
    const onAbort = () => {
      cleanup();
      reject(abortReason(signal));
    };
    if (signal.aborted) return onAbort();
    emitter.on(event, onEvent);
    emitter.on('error', onError);
    if (event !== 'close') emitter.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function resolveHost(host: string, family: 4 | 6 | undefined, signal: AbortSignal): Promise<string> {
  throwIfAborted(signal);
  const pending = lookup(host, { family: family ?? 0 });
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
  aborted.catch(() => undefined);
  try {
    return (await Promise.race([pending, aborted])).address;
  } catch (err) {
    if (err instanceof ProbeFailure) throw err;
    const e = err as { code?: string; message?: string };
    throw new ProbeFailure('dns_failure', `cannot resolve ${host}: ${e.code ?? e.message ?? String(err)}`);
  }
}

/** Certificate and session facts of an established TLS socket. */
export function describeTls(socket: tls.TLSSocket, now: number = Date.now()): TlsInfo {
  const cert = socket.getPeerCertificate();
  const info: TlsInfo = {
    version: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    authorized: socket.authorized,
  };
  if (!socket.authorized && socket.authorizationError) info.authorizationError = String(socket.authorizationError);
  if (cert && Object.keys(cert).length > 0) {
    if (cert.subject?.CN) info.certSubject = String(cert.subject.CN);
    if (cert.issuer?.CN) info.certIssuer = String(cert.issuer.CN);
    const validTo = Date.parse(cert.valid_to);
    if (Number.isFinite(validTo)) {
      info.certValidTo = new Date(validTo).toISOString();
      info.certDaysLeft = Math.round(((validTo - now) / 86_400_000) * 100) / 100;
    }
  }
  return info;
}

/**
 * Resolves (unless the host is an IP literal), connects and optionally completes a TLS handshake,
 * recording each phase in `timings`. Throws ProbeFailure or a Node error (classify with
 * toProbeError); the socket is destroyed on failure.
 */
export async function openConnection(opts: ConnectOptions, timings: ConnectTimings): Promise<Connection> {
  const startNs = nowNs();
  let address = opts.host;
  if (!isIP(opts.host)) {
    address = await resolveHost(opts.host, opts.family, opts.signal);
    timings.dnsMs = roundMs(msSince(startNs));
  }
  throwIfAborted(opts.signal);
  let connectNs = nowNs();
  const raw = net.connect({ host: address, port: opts.port, noDelay: true });
  // restart the clock when Node actually issues connect(2): excludes socket set-up in JS (~90 µs)
  raw.on('connectionAttempt', () => {
    connectNs = nowNs();
  });
  let socket: net.Socket = raw;
  try {
    await waitForEvent(raw, 'connect', opts.signal);
    timings.connectMs = roundMs(msSince(connectNs));
    timings.remoteAddress = raw.remoteAddress;
    timings.remotePort = raw.remotePort;
    timings.localAddress = raw.localAddress;
    timings.localPort = raw.localPort;
    if (opts.tls) {
      const t = opts.tls;
      // loaded on first TLS use only (saves ~4 MB RSS in agents without TLS targets)
      const { default: tls } = await import('node:tls');
      const tlsNs = nowNs();
      const servername = t.servername ?? (isIP(opts.host) ? undefined : opts.host);
      const secure = tls.connect({
        socket: raw,
        host: servername ?? opts.host,
        servername,
        ALPNProtocols: t.alpn,
        rejectUnauthorized: !t.insecure,
        ca: t.caPem ? [...tls.rootCertificates, t.caPem] : undefined,
      });
      socket = secure;
      await waitForEvent(secure, 'secureConnect', opts.signal);
      timings.tlsMs = roundMs(msSince(tlsNs));
      timings.tls = describeTls(secure);
      if (secure.alpnProtocol) timings.alpn = secure.alpnProtocol;
    }
    return { socket, startNs, readyNs: nowNs() };
  } catch (err) {
    socket.destroy();
    raw.destroy();
    throw err;
  }
}
