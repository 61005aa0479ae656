// Tests of device fact detection.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_VERSION, detectDevice } from './device.js';

describe('detectDevice', () => {
  it('reads the serial from the first machine-id file, trims it, and reports hostname and OS', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rk-dev-'));
    try {
      await writeFile(path.join(dir, 'b'), 'abc123\n');
      const facts = await detectDevice({}, [path.join(dir, 'missing'), path.join(dir, 'b')]);
      expect(facts).toEqual({ serial: 'abc123', hostname: os.hostname(), os: 'Linux', osVersion: os.release() });
      await expect(detectDevice({}, [path.join(dir, 'missing')])).rejects.toThrow(/set DEVICE_SERIAL/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('prefers the overrides', async () => {
    const facts = await detectDevice({ serial: ' s-1 ', hostname: 'h-1' }, []);
    expect(facts).toMatchObject({ serial: 's-1', hostname: 'h-1' });
  });

  it('reports the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(CLIENT_VERSION).toBe(pkg.version);
  });
});
