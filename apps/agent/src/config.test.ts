// Tests of settings resolution: precedence CLI > file > env > defaults, parsing of the seed's ENV names, errors.
import { DEFAULT_CONFIG_VALUES } from '@rookery/protocol';
import { describe, expect, it } from 'vitest';
import { AgentConfigError, defaultStateDir, envLayerDoc, parseByteSize, resolveAgentSettings } from './config.js';

const baseEnv = { MANAGER_URL: 'http://127.0.0.1:8080/', ENROLLMENT_SECRET: 'env-secret' };

describe('resolveAgentSettings', () => {
  it('takes CLI flags over the file over the environment, per setting', () => {
    const env = {
      ...baseEnv,
      DEVICE_SERIAL: 'env-serial',
      DEVICE_HOSTNAME: 'env-host',
      RUN_SECONDS: '30',
      LOG_LEVEL: 'warn',
    };
    const file = {
      manager_url: 'http://127.0.0.2:8080',
      device_serial: 'file-serial',
      run_seconds: 20,
      state_dir: '/tmp/file-dir',
    };
    const flags = { manager: 'http://127.0.0.3:8080', stateDir: '/tmp/cli-dir' };
    const s = resolveAgentSettings({ flags, env, file, uid: 1000 });
    expect(s.managerUrl).toBe('http://127.0.0.3:8080');
    expect(s.stateDir).toBe('/tmp/cli-dir');
    expect(s.deviceSerial).toBe('file-serial');
    expect(s.runSeconds).toBe(20);
    expect(s.deviceHostname).toBe('env-host');
    expect(s.enrollmentSecret).toBe('env-secret');
    expect(s.logLevel).toBe('warn');
    expect(resolveAgentSettings({ flags: {}, env, uid: 1000 }).managerUrl).toBe('http://127.0.0.1:8080');
    expect(
      resolveAgentSettings({ flags: { enrollSecret: 'cli' }, env, file: { enrollment_secret: 'f' } }).enrollmentSecret,
    ).toBe('cli');
  });

  it('builds the local fallback config from the seed ENV names, file local_config over ENV per key', () => {
    const env = {
      ...baseEnv,
      ENABLE_HTTP_TEST: 'false',
      ENABLE_UDP_TEST: 'TRUE',
      ENABLE_DNS_TEST: '1',
      TCP_TARGETS: '127.0.0.1:22, [::1]:443,,',
      ICMP_TARGETS: '127.0.0.1',
      DNS_TARGETS: 'example.test@127.0.0.1:5353',
      TEST_INTERVAL_SECONDS: '120',
    };
    const file = { local_config: { tests: { tcp: { targets: ['127.0.0.1:7'] } }, schedule: { offset_percent: 5 } } };
    const s = resolveAgentSettings({ flags: {}, env, file });
    expect(s.localConfig.tests.http.enabled).toBe(false);
    expect(s.localConfig.tests.udp.enabled).toBe(true);
    expect(s.localConfig.tests.dns).toEqual({ enabled: true, targets: ['example.test@127.0.0.1:5353'] });
    expect(s.localConfig.tests.tcp).toEqual({ enabled: true, targets: ['127.0.0.1:7'] });
    expect(s.localConfig.schedule).toEqual({ interval_seconds: 120, offset_percent: 5 });
    expect(s.localConfig.thresholds).toEqual(DEFAULT_CONFIG_VALUES.thresholds);
    expect(s.localProvenance).toMatchObject({
      'tests.http.enabled': 'env',
      'tests.tcp.targets': 'file',
      'tests.icmp.targets': 'env',
      'schedule.interval_seconds': 'env',
      'schedule.offset_percent': 'file',
      'tests.traceroute.enabled': 'default',
    });
  });

  it('uses the seed defaults when no test ENV is set (http, tcp, icmp on; udp off; 300 s)', () => {
    const s = resolveAgentSettings({ flags: {}, env: baseEnv });
    expect(s.localConfig).toEqual(DEFAULT_CONFIG_VALUES);
    expect(envLayerDoc({})).toEqual({});
  });

  it('rejects bad input with the source and key named', () => {
    const bad = (env: Record<string, string>, file?: unknown) => () =>
      resolveAgentSettings({ flags: {}, env: { ...baseEnv, ...env }, file });
    expect(bad({ ENABLE_TCP_TEST: 'maybe' })).toThrow(/ENABLE_TCP_TEST: expected true or false, got "maybe"/);
    expect(bad({ TEST_INTERVAL_SECONDS: 'soon' })).toThrow(/TEST_INTERVAL_SECONDS/);
    expect(bad({ TEST_INTERVAL_SECONDS: '5' })).toThrow(/environment: schedule.interval_seconds must be between 10/);
    expect(bad({ TCP_TARGETS: 'nohost' })).toThrow(/environment: tests.tcp.targets\[0\] "nohost"/);
    expect(bad({ RUN_SECONDS: '-1' })).toThrow(/RUN_SECONDS: expected a positive number/);
    expect(bad({ MANAGER_URL: '' })).toThrow(/manager URL missing/);
    expect(bad({ MANAGER_URL: 'ftp://x' })).toThrow(/must use http or https/);
    expect(bad({ LOG_LEVEL: 'loud' })).toThrow(/log level "loud"/);
    expect(bad({}, { manager: 'x' })).toThrow(/config file: \/manager/);
    expect(bad({}, { local_config: { tests: { smtp: {} } } })).toThrow(
      /config file local_config: unknown config key "tests.smtp"/,
    );
    expect(bad({ ENABLE_TCP_TEST: 'maybe' })).toThrow(AgentConfigError);
  });

  it('defaults the state dir by uid', () => {
    expect(defaultStateDir(0, '/root')).toBe('/var/lib/rookery-agent');
    expect(defaultStateDir(1000, '/home/ada')).toBe('/home/ada/.rookery-agent');
    expect(resolveAgentSettings({ flags: {}, env: baseEnv, uid: 0 }).stateDir).toBe('/var/lib/rookery-agent');
  });

  it('resolves the spool settings: default under the state dir, sizes with units, limits checked', () => {
    const s = resolveAgentSettings({ flags: { stateDir: '/tmp/st' }, env: baseEnv });
    expect(s).toMatchObject({
      spoolDir: '/tmp/st/spool',
      spoolMaxBytes: 64 * 1024 * 1024,
      spoolMaxAgeSeconds: 604_800,
    });
    const env = { ...baseEnv, SPOOL_DIR: '/tmp/env-spool', SPOOL_MAX_BYTES: '512KiB', SPOOL_MAX_AGE_SECONDS: '3600' };
    expect(resolveAgentSettings({ flags: {}, env })).toMatchObject({
      spoolDir: '/tmp/env-spool',
      spoolMaxBytes: 512 * 1024,
      spoolMaxAgeSeconds: 3600,
    });
    const file = { spool_dir: '/tmp/file-spool', spool_max_bytes: 1048576, spool_max_age_seconds: 120 };
    expect(resolveAgentSettings({ flags: { spoolMaxBytes: '2m' }, env, file })).toMatchObject({
      spoolDir: '/tmp/file-spool',
      spoolMaxBytes: 2 * 1024 * 1024,
      spoolMaxAgeSeconds: 120,
    });
    expect(parseByteSize('X', '1GiB')).toBe(1024 ** 3);
    const bad = (e: Record<string, string>) => () => resolveAgentSettings({ flags: {}, env: { ...baseEnv, ...e } });
    expect(bad({ SPOOL_MAX_BYTES: 'lots' })).toThrow(
      /SPOOL_MAX_BYTES: expected a size like 67108864 or 64MiB, got "lots"/,
    );
    expect(bad({ SPOOL_MAX_BYTES: '10TB' })).toThrow(/SPOOL_MAX_BYTES: expected a size/);
    expect(bad({ SPOOL_MAX_BYTES: '1000' })).toThrow(/SPOOL_MAX_BYTES: must be at least 64KiB/);
    expect(bad({ SPOOL_MAX_AGE_SECONDS: '5' })).toThrow(/SPOOL_MAX_AGE_SECONDS: must be at least 60 seconds/);
  });
});
