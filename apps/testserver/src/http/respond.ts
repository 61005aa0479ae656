// Response helpers shared by HTTP/1.1 and h2 (compat API) handlers: JSON, the error shape, CORS.
import type { IncomingHttpHeaders } from 'node:http';

/** The request surface the handlers use; both http.IncomingMessage and Http2ServerRequest fit. */
export interface Req extends AsyncIterable<Buffer> {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  socket: { remoteAddress?: string; remotePort?: number; encrypted?: boolean; alpnProtocol?: string | false };
  on(event: 'close' | 'aborted', fn: () => void): unknown;
  destroy?(err?: Error): unknown;
}

/** The response surface the handlers use; both http.ServerResponse and Http2ServerResponse fit. */
export interface Res {
  statusCode: number;
  headersSent: boolean;
  writableEnded: boolean;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  on(event: 'close' | 'finish', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Sends a JSON body with no-store caching. */
export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(text);
}

/** Sends Rookery's error shape `{error, message, details}`. */
export function sendError(
  res: Res,
  status: number,
  error: string,
  message: string,
  details: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status, { error, message, details }, headers);
}

/** Applies CORS headers when the request's Origin is allowed (`*` allows any). */
export function applyCors(req: Req, res: Res, allowed: readonly string[]): void {
  const origin = req.headers.origin;
  if (allowed.length === 0) return;
  const any = allowed.includes('*');
  if (!any && (!origin || !allowed.includes(origin))) return;
  res.setHeader('access-control-allow-origin', any ? '*' : (origin as string));
  if (!any) res.setHeader('vary', 'Origin');
  res.setHeader('access-control-allow-methods', 'GET, POST, PUT, OPTIONS');
  res.setHeader('access-control-allow-headers', 'authorization, content-type, x-device-id, x-server-key');
  res.setHeader('access-control-expose-headers', 'server-timing, content-length, x-bytes-received');
  res.setHeader('access-control-max-age', '600');
  // lets the browser's Resource Timing API see connect/TTFB phases of these requests
  res.setHeader('timing-allow-origin', any ? '*' : (origin as string));
}

/** Integer query parameter within [min, max]; undefined when absent; throws RangeError when bad. */
export function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw)) throw new RangeError(`${name} must be a non-negative integer`);
  const n = Number(raw);
  if (n < min || n > max) throw new RangeError(`${name} must be within ${min}..${max}`);
  return n;
}
