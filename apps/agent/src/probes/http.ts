// HTTP/HTTPS probe: DNS, connect, TLS, TTFB, transfer and total per request, ALPN-negotiated
// HTTP/1.1 or h2, bounded redirects, and status/body/header expectations.
import type { HttpMetrics, HttpProbeSpec } from '@rookery/protocol';
import { msSince, nowNs, roundMs } from './clock.js';
import { openConnection } from './connect.js';
import { ProbeFailure } from './errors.js';
import { exchange, type ExchangeProgress } from './http-exchange.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { parseHttpTarget } from './target.js';

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

function checkExpectations(spec: HttpProbeSpec, m: HttpMetrics, progress: ExchangeProgress): void {
  const status = m.status ?? 0;
  const accepted = spec.expectStatus ? spec.expectStatus.includes(status) : status >= 200 && status < 400;
  if (!accepted) {
    const want = spec.expectStatus ? spec.expectStatus.join(', ') : '200–399';
    throw new ProbeFailure('unexpected_status', `status ${status}, expected ${want}`);
  }
  if (spec.expectHeaders) {
    for (const [name, needle] of Object.entries(spec.expectHeaders)) {
      const value = progress.headers?.[name.toLowerCase()];
      if (value === undefined || !value.includes(needle)) {
        throw new ProbeFailure('unexpected_header', `header ${name} does not contain "${needle}"`);
      }
    }
  }
  if (spec.expectBodyContains !== undefined || spec.expectBodyRegex !== undefined) {
    const head = Buffer.concat(progress.bodyHead).toString('utf8');
    if (spec.expectBodyContains !== undefined && !head.includes(spec.expectBodyContains)) {
      throw new ProbeFailure('unexpected_body', `body does not contain "${spec.expectBodyContains}"`);
    }
    if (spec.expectBodyRegex !== undefined && !new RegExp(spec.expectBodyRegex).test(head)) {
      throw new ProbeFailure('unexpected_body', `body does not match /${spec.expectBodyRegex}/`);
    }
  }
}

function resetHop(m: HttpMetrics): void {
  for (const k of ['dnsMs', 'connectMs', 'tlsMs', 'ttfbMs', 'transferMs', 'alpn', 'tls', 'status'] as const) {
    delete m[k];
  }
}

async function run(spec: HttpProbeSpec, m: HttpMetrics, ctx: ProbeContext): Promise<void> {
  if (spec.expectBodyRegex !== undefined) {
    try {
      new RegExp(spec.expectBodyRegex);
    } catch {
      throw new ProbeFailure('invalid_spec', `expectBodyRegex is not a valid regex`);
    }
  }
  let url = parseHttpTarget(spec.target);
  let method: string = spec.method ?? 'GET';
  let body = spec.body;
  const maxRedirects = spec.maxRedirects ?? 5;
  const startNs = nowNs();
  let progress: ExchangeProgress;
  for (;;) {
    resetHop(m);
    const hopNs = nowNs();
    const https = url.protocol === 'https:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const conn = await openConnection(
      {
        host,
        port: url.port ? Number(url.port) : https ? 443 : 80,
        family: spec.ipFamily,
        signal: ctx.signal,
        tls: https
          ? { alpn: spec.alpn ?? ['h2', 'http/1.1'], insecure: spec.tlsInsecure, caPem: spec.caPem }
          : undefined,
      },
      m,
    );
    progress = { bytes: 0, bodyHead: [], bodyHeadBytes: 0 };
    m.finalUrl = url.toString();
    try {
      await exchange(
        conn.socket,
        { method, url, headers: spec.headers ?? {}, body },
        m.alpn === 'h2',
        progress,
        ctx.signal,
      );
    } finally {
      conn.socket.destroy();
      m.status = progress.status;
      m.httpVersion = progress.httpVersion;
      m.headers = progress.headers;
      m.bytes = progress.bytes;
      const firstByteNs = progress.firstByteNs ?? progress.headersNs;
      if (firstByteNs !== undefined) m.ttfbMs = roundMs(msSince(progress.requestNs ?? conn.readyNs, firstByteNs));
      if (firstByteNs !== undefined && progress.endNs !== undefined) {
        const transferMs = msSince(firstByteNs, progress.endNs);
        m.transferMs = roundMs(transferMs);
        if (transferMs > 0 && progress.bytes > 0)
          m.bitsPerSecond = Math.round((progress.bytes * 8) / (transferMs / 1000));
      }
      m.totalMs = roundMs(msSince(startNs));
    }
    const location = progress.headers?.location;
    const status = progress.status ?? 0;
    if (!REDIRECT_CODES.has(status) || !location || maxRedirects === 0) break;
    if (m.redirects >= maxRedirects) {
      throw new ProbeFailure('too_many_redirects', `more than ${maxRedirects} redirects`);
    }
    m.redirects++;
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new ProbeFailure('protocol_error', `redirect to unsupported scheme ${next.protocol}`);
    }
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
    }
    url = next;
    m.redirectMs = roundMs((m.redirectMs ?? 0) + msSince(hopNs));
  }
  checkExpectations(spec, m, progress);
}

export const httpProbe: ProbeImpl<HttpProbeSpec, HttpMetrics> = {
  kind: 'http',
  defaultTimeoutMs: () => 10_000,
  initialMetrics: () => ({ redirects: 0 }),
  run,
};
