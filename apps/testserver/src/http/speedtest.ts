// Browser speed-test endpoints for the console: download, upload, ping and info (CORS applied by the app).
import type { Route } from './routes.js';
import { download, upload } from './routes.js';
import { sendJson } from './respond.js';

/** Tiny no-store response for latency sampling from a browser. */
export const ping: Route = (_req, res) => {
  res.statusCode = 200;
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', 4);
  res.setHeader('server-timing', 'app;dur=0');
  res.end('pong');
};

/** What a browser needs to plan a test: limits, its own address as seen here, protocol. */
export function info(version: string, startedAt: number): Route {
  return (req, res, _url, ctx) => {
    sendJson(res, 200, {
      server: 'rookery-testserver',
      version,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      clientAddress: req.socket.remoteAddress,
      httpVersion: req.httpVersion,
      tls: Boolean(req.socket.encrypted),
      limits: {
        maxDownloadBytes: ctx.limits.maxDownloadBytes,
        maxUploadBytes: ctx.limits.maxUploadBytes,
        maxConcurrentTests: ctx.limits.maxConcurrentTests,
      },
      runningTests: ctx.gate.running,
      endpoints: {
        download: '/speedtest/download?bytes=N',
        upload: '/speedtest/upload',
        ping: '/speedtest/ping',
      },
    });
  };
}

export const speedtestDownload = download;
export const speedtestUpload = upload;
