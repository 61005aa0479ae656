// Configuration parsing and the refusal of sample secrets outside --dev.
import { describe, expect, it } from 'vitest';
import { assertSafeSecrets, ConfigError, loadConfig, parseListen, parseWorkers } from './config.js';

const base = (env: Record<string, string>, flags: Record<string, unknown> = {}) => loadConfig(flags, env);

describe('config', () => {
  it('parses HOST:PORT including IPv6', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseListen('8080')).toThrow(ConfigError);
    expect(() => parseListen('h:99999')).toThrow(ConfigError);
  });

  it('prefers flags over environment', () => {
    const c = base({ DATABASE_URL: 'postgres://env/db' }, { databaseUrl: 'postgres://flag/db', listen: '0.0.0.0:1' });
    expect(c.databaseUrl).toBe('postgres://flag/db');
    expect(c.port).toBe(1);
  });

  it('refuses the seed sample secret key and admin password outside --dev', () => {
    expect(() => assertSafeSecrets(base({ SECRET_KEY: 'your-secret-key-here-change-in-production' }))).toThrow(
      /SECRET_KEY/,
    );
    expect(() => assertSafeSecrets(base({ ADMIN_PASSWORD: 'admin123' }))).toThrow(/ADMIN_PASSWORD/);
    expect(() => assertSafeSecrets(base({ SECRET_KEY: 'short' }))).toThrow(/SECRET_KEY/);
    expect(() => assertSafeSecrets(base({ ADMIN_PASSWORD: 'admin123' }, { dev: true }))).not.toThrow();
  });

  it('reads the ingest collection window, whole ms 0–1000, default 20', () => {
    expect(base({}).ingestLingerMs).toBe(20);
    expect(base({ ROOKERY_INGEST_LINGER_MS: '0' }).ingestLingerMs).toBe(0);
    expect(base({ ROOKERY_INGEST_LINGER_MS: '5' }).ingestLingerMs).toBe(5);
    for (const bad of ['-1', '1.5', 'soon', '1001', ' 5']) {
      expect(() => base({ ROOKERY_INGEST_LINGER_MS: bad })).toThrow(/ROOKERY_INGEST_LINGER_MS/);
    }
  });

  it('reads the worker count: default 1, 1–64, auto = one per CPU; flag over environment', () => {
    expect(base({}).workers).toBe(1);
    expect(base({ ROOKERY_WORKERS: '2' }).workers).toBe(2);
    expect(base({ ROOKERY_WORKERS: '2' }, { workers: '3' }).workers).toBe(3);
    expect(parseWorkers('auto', 4)).toBe(4);
    expect(parseWorkers('auto', 200)).toBe(64);
    for (const bad of ['0', '65', '1.5', '-2', 'many', ' 2']) {
      expect(() => base({ ROOKERY_WORKERS: bad })).toThrow(/--workers must be/);
    }
  });

  it('reads PGOPTIONS for the sessions, none when unset or empty', () => {
    expect(base({ PGOPTIONS: '-c backend_flush_after=256kB' }).pgOptions).toBe('-c backend_flush_after=256kB');
    expect(base({}).pgOptions).toBeUndefined();
    expect(base({ PGOPTIONS: '' }).pgOptions).toBeUndefined();
  });

  it('needs SECRET_KEY with a PostgreSQL server, not with the embedded engine', () => {
    expect(() => assertSafeSecrets(base({ DATABASE_URL: 'postgres://x/y' }))).toThrow(/SECRET_KEY is required/);
    expect(() => assertSafeSecrets(base({}))).not.toThrow();
  });
});
