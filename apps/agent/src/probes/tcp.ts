// TCP probe: connect time, optional TLS handshake, optional banner read (SSH) and send/expect.
import type { Socket } from 'node:net';
import type { TcpMetrics, TcpProbeSpec } from '@rookery/protocol';
import { msSince, nowNs, roundMs } from './clock.js';
import { openConnection } from './connect.js';
import { abortReason, ProbeFailure } from './errors.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { parseTcpTarget } from './target.js';

const MAX_READ = 64 * 1024;

/** Keeps a banner printable and short. */
export function cleanBanner(raw: string): string {
  return raw
    .replace(/\r?\n.*$/s, '')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 256);
}

/**
 * Reads from `socket` until `done(text)` is true for everything received so far; rejects when
 * the peer closes first (ProbeFailure `onClose`), on error, or on abort.
 */
function readUntil(
  socket: Socket,
  done: (text: string) => boolean,
  onClose: ProbeFailure,
  signal: AbortSignal,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = '';
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text) || text.length >= MAX_READ) {
        cleanup();
        resolve(text);
      }
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const onEnd = () => {
      cleanup();
      reject(onClose);
    };
    const onAbort = () => {
      cleanup();
      reject(abortReason(signal));
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function run(spec: TcpProbeSpec, m: TcpMetrics, ctx: ProbeContext): Promise<void> {
  const target = parseTcpTarget(spec.target);
  const readBanner = spec.readBanner ?? target.ssh;
  const expectBanner = spec.expectBanner ?? (target.ssh ? '^SSH-' : undefined);
  let bannerRe: RegExp | undefined;
  try {
    bannerRe = expectBanner === undefined ? undefined : new RegExp(expectBanner);
  } catch {
    throw new ProbeFailure('invalid_spec', 'expectBanner is not a valid regex');
  }
  const useTls = spec.tls ?? target.tls;
  const conn = await openConnection(
    {
      host: target.host,
      port: target.port,
      family: spec.ipFamily,
      signal: ctx.signal,
      tls: useTls ? { insecure: spec.tlsInsecure, caPem: spec.caPem, servername: spec.servername } : undefined,
    },
    m,
  );
  try {
    if (readBanner || bannerRe) {
      const text = await readUntil(
        conn.socket,
        (t) => t.includes('\n'),
        new ProbeFailure('unexpected_banner', 'connection closed before a banner line'),
        ctx.signal,
      );
      m.bannerMs = roundMs(msSince(conn.readyNs));
      m.banner = cleanBanner(text);
      if (bannerRe && !bannerRe.test(m.banner)) {
        throw new ProbeFailure('unexpected_banner', `banner "${m.banner}" does not match /${expectBanner}/`);
      }
    }
    if (spec.send !== undefined || spec.expect !== undefined) {
      const sendNs = nowNs();
      if (spec.send !== undefined) conn.socket.write(spec.send);
      if (spec.expect !== undefined) {
        const needle = spec.expect;
        const got = await readUntil(
          conn.socket,
          (t) => t.includes(needle),
          new ProbeFailure('unexpected_response', `connection closed before "${needle}" arrived`),
          ctx.signal,
        );
        if (!got.includes(needle)) {
          throw new ProbeFailure('unexpected_response', `"${needle}" not in the first ${MAX_READ} bytes`);
        }
        m.expectMs = roundMs(msSince(sendNs));
      }
    }
  } finally {
    m.totalMs = roundMs(msSince(conn.startNs));
    conn.socket.destroy();
  }
}

export const tcpProbe: ProbeImpl<TcpProbeSpec, TcpMetrics> = {
  kind: 'tcp',
  defaultTimeoutMs: () => 5_000,
  initialMetrics: () => ({}),
  run,
};
