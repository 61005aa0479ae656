// Test server options: listen addresses, TLS, authentication and the limits that protect it.
import type { AuthConfig } from './auth.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port */
  port: number;
}

export interface Limits {
  /** largest /upload (and speed-test upload) body, bytes. @default 1 GiB */
  maxUploadBytes: number;
  /** largest /echo request body, bytes. @default 1 MiB */
  maxEchoBytes: number;
  /** largest /download, bytes. @default 1 GiB */
  maxDownloadBytes: number;
  /** longest /delay, ms. @default 30 000 */
  maxDelayMs: number;
  /** requests per second per client address (token bucket), /healthz exempt. @default 1000 */
  requestsPerSecond: number;
  /** token bucket depth. @default 2000 */
  requestBurst: number;
  /** downloads, uploads and delays running at once; more get 503. @default 32 */
  maxConcurrentTests: number;
  /** TCP echo connections at once. @default 256 */
  maxTcpConnections: number;
  /** TCP echo idle timeout, ms. @default 30 000 */
  tcpIdleMs: number;
  /** bytes echoed per TCP connection before it is closed. @default 64 MiB */
  maxTcpBytes: number;
  /** UDP reflector datagrams per second per source address. @default 20 000 */
  udpPacketsPerSecond: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxUploadBytes: 1024 ** 3,
  maxEchoBytes: 1024 ** 2,
  maxDownloadBytes: 1024 ** 3,
  maxDelayMs: 30_000,
  requestsPerSecond: 1000,
  requestBurst: 2000,
  maxConcurrentTests: 32,
  maxTcpConnections: 256,
  tcpIdleMs: 30_000,
  maxTcpBytes: 64 * 1024 ** 2,
  udpPacketsPerSecond: 20_000,
};

export interface TestServerOptions {
  /** HTTP(S) listener; false disables it. @default 127.0.0.1:8088 */
  http?: ListenAddress | false;
  /** TCP echo listener; false disables it. @default http port + 1 */
  tcpEcho?: ListenAddress | false;
  /** UDP reflector; false disables it. @default http port + 2 */
  udpReflector?: ListenAddress | false;
  /** TLS for HTTP (h2 + HTTP/1.1 by ALPN): PEM pair, or 'self-signed' to generate one */
  tls?: { cert: string; key: string } | 'self-signed';
  /** require a server key or device credential on every route but /healthz and preflight */
  auth?: AuthConfig;
  /** allowed CORS origins for the browser speed test; ['*'] allows any. @default ['*'] */
  corsOrigins?: string[];
  /** line the TCP echo server sends first (e.g. an SSH-like banner); none by default */
  tcpBanner?: string;
  /** how long close() waits for running tests before cutting them, ms. @default 5000 */
  graceMs?: number;
  limits?: Partial<Limits>;
}
