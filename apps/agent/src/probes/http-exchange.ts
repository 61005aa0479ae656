// One HTTP request/response over an already open connection, HTTP/1.1 (node:http) or h2
// (node:http2), timestamped at the response and end events; fills `progress` as it goes.
import http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import { nowNs } from './clock.js';
import { abortReason, ProbeFailure } from './errors.js';

/** Bytes of body kept for expectations; the rest is only counted. */
export const BODY_HEAD_BYTES = 64 * 1024;
const MAX_HEADERS = 64;
const MAX_HEADER_VALUE = 1024;

export interface ExchangeRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface ExchangeProgress {
  status?: number;
  httpVersion?: '1.1' | '2';
  headers?: Record<string, string>;
  /** hrtime (ns) when the request was handed to the socket */
  requestNs?: bigint;
  /** hrtime (ns) when the first response byte arrived (HTTP/1.1; h2 uses headersNs) */
  firstByteNs?: bigint;
  /** hrtime (ns) when the response headers arrived */
  headersNs?: bigint;
  /** hrtime (ns) when the last body byte arrived */
  endNs?: bigint;
  bytes: number;
  bodyHead: Buffer[];
  bodyHeadBytes: number;
}

/** Flattens response headers (lower-case names, arrays joined with ", "), bounded in count and size. */
export function flattenHeaders(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (n++ >= MAX_HEADERS) break;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    out[name.toLowerCase()] = text.length > MAX_HEADER_VALUE ? text.slice(0, MAX_HEADER_VALUE) : text;
  }
  return out;
}

function onBody(progress: ExchangeProgress, chunk: Buffer): void {
  progress.bytes += chunk.length;
  if (progress.bodyHeadBytes < BODY_HEAD_BYTES) {
    const keep = chunk.subarray(0, BODY_HEAD_BYTES - progress.bodyHeadBytes);
    progress.bodyHead.push(keep);
    progress.bodyHeadBytes += keep.length;
  }
}

/** Stamps the first write of the request and the first byte of the response on the socket itself. */
function stampSocket(socket: Socket, progress: ExchangeProgress): void {
  const write = socket.write;
  socket.write = function (this: Socket, ...args: unknown[]) {
    progress.requestNs ??= nowNs();
    socket.write = write;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof socket.write;
  socket.once('data', () => {
    if (progress.requestNs !== undefined) progress.firstByteNs = nowNs();
  });
}

function exchangeHttp1(socket: Socket, req: ExchangeRequest, progress: ExchangeProgress, signal: AbortSignal) {
  stampSocket(socket, progress);
  return new Promise<void>((resolve, reject) => {
    const headers: Record<string, string> = {
      host: req.url.host,
      'user-agent': 'rookery-probe/0.1',
      accept: '*/*',
      connection: 'close',
      ...req.headers,
    };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const onAbort = () => request.destroy(abortReason(signal));
    const done = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const request = http.request({
      method: req.method,
      path: `${req.url.pathname}${req.url.search}`,
      headers,
      setHost: false,
      createConnection: () => socket,
    });
    request.on('error', done);
    request.on('response', (res) => {
      progress.headersNs = nowNs();
      progress.status = res.statusCode;
      progress.httpVersion = '1.1';
      progress.headers = flattenHeaders(res.headers);
      res.on('data', (chunk: Buffer) => onBody(progress, chunk));
      res.on('error', done);
      res.on('end', () => {
        progress.endNs = nowNs();
        done();
      });
      res.on('close', () => {
        if (progress.endNs === undefined) done(new ProbeFailure('reset', 'connection closed mid-response'));
      });
    });
    signal.addEventListener('abort', onAbort, { once: true });
    request.end(req.body);
  });
}

async function exchangeHttp2(socket: Socket, req: ExchangeRequest, progress: ExchangeProgress, signal: AbortSignal) {
  // loaded when a server first negotiates h2 (saves ~5 MB RSS otherwise)
  const { default: http2 } = await import('node:http2');
  return new Promise<void>((resolve, reject) => {
    const session = http2.connect(req.url.origin, { createConnection: () => socket });
    const onAbort = () => session.destroy(abortReason(signal));
    const done = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      session.close();
      if (err) {
        session.destroy();
        reject(err);
      } else resolve();
    };
    session.on('error', done);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': req.method,
      ':path': `${req.url.pathname}${req.url.search}`,
      ':authority': req.url.host,
      'user-agent': 'rookery-probe/0.1',
      accept: '*/*',
    };
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
    progress.requestNs = nowNs();
    const stream = session.request(headers, { endStream: req.body === undefined });
    stream.on('response', (h) => {
      progress.headersNs = nowNs();
      progress.firstByteNs = progress.headersNs;
      progress.status = Number(h[':status']);
      progress.httpVersion = '2';
      progress.headers = flattenHeaders(h);
    });
    stream.on('data', (chunk: Buffer) => onBody(progress, chunk));
    stream.on('error', done);
    stream.on('end', () => {
      progress.endNs = nowNs();
      done();
    });
    stream.on('close', () => {
      if (progress.endNs === undefined) done(new ProbeFailure('reset', `h2 stream closed (code ${stream.rstCode})`));
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (req.body !== undefined) stream.end(req.body);
  });
}

/**
 * Sends `req` over `socket` (h2 when `h2` is true) and reads the whole response, counting body
 * bytes and keeping the first 64 KiB. Rejects with the transport's error or the abort reason;
 * `progress` keeps whatever arrived before a failure.
 */
export async function exchange(
  socket: Socket,
  req: ExchangeRequest,
  h2: boolean,
  progress: ExchangeProgress,
  signal: AbortSignal,
): Promise<void> {
  if (h2) await exchangeHttp2(socket, req, progress, signal);
  else await exchangeHttp1(socket, req, progress, signal);
  socket.destroy();
}
