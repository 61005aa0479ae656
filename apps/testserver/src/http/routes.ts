// Probe target routes: /echo, /download, /upload, /delay, /status/CODE, /redirect.
import { setTimeout as delay } from 'node:timers/promises';
import type { ConcurrencyGate } from '../limits.js';
import type { Limits } from '../options.js';
import { intParam, type Req, type Res, sendError, sendJson } from './respond.js';
import { BodyTooLarge, readBody, writeBytes } from './streams.js';

export interface RouteContext {
  limits: Limits;
  gate: ConcurrencyGate;
  /** AbortSignal that fires on server shutdown past the grace period */
  shutdown: AbortSignal;
}

export type Route = (req: Req, res: Res, url: URL, ctx: RouteContext) => Promise<void> | void;

/** Runs `work` as a counted test, or answers 503 when too many tests run. */
export async function asTest(res: Res, ctx: RouteContext, work: () => Promise<void>): Promise<void> {
  const release = ctx.gate.tryEnter();
  if (!release) {
    sendError(res, 503, 'busy', `more than ${ctx.gate.max} tests running`, {}, { 'retry-after': '1' });
    return;
  }
  try {
    await work();
  } finally {
    release();
  }
}

function tooLarge(res: Res, err: unknown): void {
  if (err instanceof BodyTooLarge) {
    sendError(res, 413, 'body_too_large', err.message, { limit: err.limit }, { connection: 'close' });
    return;
  }
  throw err;
}

/** Echoes method, path, query, headers, body and connection facts as JSON. */
export const echo: Route = async (req, res, url, ctx) => {
  let body: { bytes: number; kept: Buffer };
  try {
    body = await readBody(req, ctx.limits.maxEchoBytes, ctx.limits.maxEchoBytes);
  } catch (err) {
    tooLarge(res, err);
    return;
  }
  sendJson(res, 200, {
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    body: body.kept.toString('utf8'),
    bodyBytes: body.bytes,
    httpVersion: req.httpVersion,
    tls: Boolean(req.socket.encrypted),
    alpn: req.socket.alpnProtocol || undefined,
    remoteAddress: req.socket.remoteAddress,
    remotePort: req.socket.remotePort,
  });
};

/** Streams `bytes` (default 1 MiB) of incompressible data with a content-length. */
export const download: Route = (_req, res, url, ctx) => {
  const bytes = intParam(url, 'bytes', 0, ctx.limits.maxDownloadBytes) ?? 1024 * 1024;
  return asTest(res, ctx, async () => {
    res.statusCode = 200;
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', bytes);
    res.setHeader('cache-control', 'no-store');
    await writeBytes(res, bytes);
  });
};

/** Discards the body and reports how many bytes arrived and how fast. */
export const upload: Route = (req, res, _url, ctx) =>
  asTest(res, ctx, async () => {
    const start = performance.now();
    try {
      const { bytes } = await readBody(req, ctx.limits.maxUploadBytes, 0);
      const ms = performance.now() - start;
      sendJson(
        res,
        200,
        {
          bytes,
          ms: Math.round(ms * 1000) / 1000,
          bitsPerSecond: ms > 0 ? Math.round((bytes * 8) / (ms / 1000)) : null,
        },
        { 'x-bytes-received': String(bytes), 'server-timing': `upload;dur=${ms.toFixed(3)}` },
      );
    } catch (err) {
      tooLarge(res, err);
    }
  });

/** Answers after `ms` (default 0) milliseconds. */
export const delayed: Route = (req, res, url, ctx) => {
  const ms = intParam(url, 'ms', 0, ctx.limits.maxDelayMs) ?? 0;
  return asTest(res, ctx, async () => {
    const gone = new AbortController();
    req.on('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, ctx.shutdown]);
    try {
      await delay(ms, undefined, { signal });
    } catch {
      if (!res.writableEnded) sendError(res, 503, 'shutting_down', 'server is shutting down');
      return;
    }
    sendJson(res, 200, { delayedMs: ms }, { 'server-timing': `delay;dur=${ms}` });
  });
};

/** Answers with the status code in the path (/status/503) or ?code=. */
export const status: Route = (_req, res, url) => {
  const inPath = url.pathname.startsWith('/status/') ? url.pathname.slice('/status/'.length) : undefined;
  if (inPath !== undefined && !/^\d{3}$/.test(inPath)) throw new RangeError('status code must be 3 digits');
  const code = inPath !== undefined ? Number(inPath) : (intParam(url, 'code', 200, 599) ?? 200);
  if (code < 200 || code > 599) throw new RangeError('code must be within 200..599');
  if (code === 204 || code === 304) {
    res.statusCode = code;
    res.end();
    return;
  }
  sendJson(res, code, { status: code });
};

/** /redirect?n=N answers 302 to /redirect?n=N-1 until n=0, which answers 200. */
export const redirect: Route = (_req, res, url) => {
  const n = intParam(url, 'n', 0, 50) ?? 1;
  if (n === 0) {
    sendJson(res, 200, { redirected: true });
    return;
  }
  res.statusCode = 302;
  res.setHeader('location', `/redirect?n=${n - 1}`);
  res.setHeader('content-length', 0);
  res.end();
};
