// Turns `./rookery testserver` flags into TestServerOptions (pure, so it is unit-tested).
import { readFileSync } from 'node:fs';
import { type AuthConfig, validateAuthConfig } from './auth.js';
import type { Limits, ListenAddress, TestServerOptions } from './options.js';

export interface CliFlags {
  listen: string;
  tcpEcho?: string;
  udpReflector?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  authFile?: string;
  corsOrigin?: string[];
  banner?: string;
  graceMs?: string;
  maxUploadBytes?: string;
  maxDownloadBytes?: string;
  rate?: string;
  maxConcurrentTests?: string;
}

/** HOST:PORT or [V6]:PORT; throws Error with the flag name. */
export function parseListen(flag: string, value: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`${flag}: expected HOST:PORT, got "${value}"`);
  }
  return { host: m[1] as string, port };
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got "${value}"`);
  return n;
}

function optionalListen(flag: string, value: string | undefined): ListenAddress | false | undefined {
  if (value === undefined) return undefined;
  if (value === 'off') return false;
  return parseListen(flag, value);
}

/** Reads an auth file: {"serverKeySha256": [...], "deviceCredentialSha256": {"id": "hex"}}. */
export function readAuthFile(path: string): AuthConfig {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuthConfig>;
  return validateAuthConfig({
    serverKeySha256: raw.serverKeySha256 ?? [],
    deviceCredentialSha256: raw.deviceCredentialSha256 ?? {},
  });
}

/** Validates flags into options; throws Error with a message fit for the operator. */
export function optionsFromFlags(flags: CliFlags): TestServerOptions {
  const limits: Partial<Limits> = {};
  const up = positive('--max-upload-bytes', flags.maxUploadBytes);
  if (up !== undefined) limits.maxUploadBytes = up;
  const down = positive('--max-download-bytes', flags.maxDownloadBytes);
  if (down !== undefined) limits.maxDownloadBytes = down;
  const rate = positive('--rate', flags.rate);
  if (rate !== undefined) {
    limits.requestsPerSecond = rate;
    limits.requestBurst = rate * 2;
  }
  const conc = positive('--max-concurrent-tests', flags.maxConcurrentTests);
  if (conc !== undefined) limits.maxConcurrentTests = Math.floor(conc);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const options: TestServerOptions = {
    http: parseListen('--listen', flags.listen),
    tcpEcho: optionalListen('--tcp-echo', flags.tcpEcho),
    udpReflector: optionalListen('--udp-reflector', flags.udpReflector),
    limits,
    corsOrigins: flags.corsOrigin?.length ? flags.corsOrigin : undefined,
    tcpBanner: flags.banner,
    graceMs: positive('--grace-ms', flags.graceMs),
  };
  if (flags.tlsCert && flags.tlsKey) {
    options.tls = { cert: readFileSync(flags.tlsCert, 'utf8'), key: readFileSync(flags.tlsKey, 'utf8') };
  } else if (flags.tls) options.tls = 'self-signed';
  if (flags.authFile) options.auth = readAuthFile(flags.authFile);
  return options;
}
