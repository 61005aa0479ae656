// A small fetch over node:http(s) for the agent's manager calls: the global fetch loads undici,
// which costs ~10 MB of RSS in a process that must stay small (bench B8).
import http from 'node:http';
import https from 'node:https';

/** The part of a fetch Response the agent reads. */
export interface SmallResponse {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface SmallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/**
 * fetch-compatible for what the agent does: one request, whole body buffered, no redirects
 * followed, aborts with `signal`. Rejects on network errors and aborts, never on HTTP status.
 */
export function smallFetch(url: string | URL, init: SmallInit = {}): Promise<SmallResponse> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    if (init.signal?.aborted) return reject(init.signal.reason ?? new Error('aborted'));
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const headers: Record<string, string | number> = { ...init.headers };
    if (body) {
      headers['content-length'] = body.byteLength;
      headers['content-type'] ??= 'application/json';
    }
    const req = mod.request(u, { method: init.method ?? 'GET', headers, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: res.statusMessage ?? '',
          headers: {
            get: (name) => {
              const v = res.headers[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
            },
          },
          text: async () => text,
          json: async () => JSON.parse(text) as unknown,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
