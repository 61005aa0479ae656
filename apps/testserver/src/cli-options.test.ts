// Tests: testserver flags → options.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashSecret } from './auth.js';
import { optionsFromFlags, parseListen } from './cli-options.js';

describe('parseListen', () => {
  it('reads HOST:PORT and [V6]:PORT', () => {
    expect(parseListen('--listen', '127.0.0.1:8088')).toEqual({ host: '127.0.0.1', port: 8088 });
    expect(parseListen('--listen', '[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListen('--listen', '8088')).toThrow('--listen: expected HOST:PORT');
    expect(() => parseListen('--listen', 'h:70000')).toThrow('HOST:PORT');
  });
});

describe('optionsFromFlags', () => {
  it('maps flags onto options', () => {
    const o = optionsFromFlags({
      listen: '127.0.0.1:9000',
      tcpEcho: 'off',
      udpReflector: '127.0.0.1:9100',
      tls: true,
      rate: '50',
      maxConcurrentTests: '4',
      corsOrigin: ['http://c.test'],
      banner: 'SSH-2.0-x',
    });
    expect(o).toMatchObject({
      http: { host: '127.0.0.1', port: 9000 },
      tcpEcho: false,
      udpReflector: { host: '127.0.0.1', port: 9100 },
      tls: 'self-signed',
      limits: { requestsPerSecond: 50, requestBurst: 100, maxConcurrentTests: 4 },
      corsOrigins: ['http://c.test'],
      tcpBanner: 'SSH-2.0-x',
    });
  });

  it('reads an auth file and refuses bad values', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rk-ts-'));
    try {
      const file = path.join(dir, 'auth.json');
      writeFileSync(file, JSON.stringify({ serverKeySha256: [hashSecret('k')] }));
      expect(optionsFromFlags({ listen: '127.0.0.1:1', authFile: file }).auth).toEqual({
        serverKeySha256: [hashSecret('k')],
        deviceCredentialSha256: {},
      });
      writeFileSync(file, JSON.stringify({ serverKeySha256: ['plaintext'] }));
      expect(() => optionsFromFlags({ listen: '127.0.0.1:1', authFile: file })).toThrow('64 hex');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => optionsFromFlags({ listen: '127.0.0.1:1', rate: '-1' })).toThrow('--rate');
    expect(() => optionsFromFlags({ listen: '127.0.0.1:1', tlsCert: 'x' })).toThrow('go together');
  });
});
