// Tests of the state directory: 0600 credential, 0700 dir, atomic rewrite, corrupt files.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG_VALUES } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, type StoredCredential } from './state-store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'rk-state-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const credential: StoredCredential = {
  device_id: 42,
  ou_id: 3,
  device_credential: `rkd_${'x'.repeat(32)}`,
  device_serial: 's',
  manager_url: 'http://127.0.0.1:1',
  enrolled_at: '2026-01-01T00:00:00.000Z',
};

describe('StateStore', () => {
  it('writes the credential 0600 in a 0700 dir even under a permissive umask, and reads it back', async () => {
    const store = new StateStore(path.join(root, 'nested', 'state'));
    const old = process.umask(0o000);
    try {
      await store.saveCredential(credential);
    } finally {
      process.umask(old);
    }
    expect((await stat(path.join(store.dir, 'credential.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    expect(await store.loadCredential()).toEqual(credential);
    await store.saveCredential({ ...credential, device_id: 43 });
    expect((await store.loadCredential())?.device_id).toBe(43);
    expect(await readdir(store.dir)).toEqual(['credential.json']);
  });

  it('returns undefined when nothing is stored, throws on a corrupt credential', async () => {
    const store = new StateStore(root);
    expect(await store.loadCredential()).toBeUndefined();
    expect(await store.loadStatus()).toBeUndefined();
    await writeFile(path.join(root, 'credential.json'), '{"device_id":1}');
    await expect(store.loadCredential()).rejects.toThrow(/not a valid credential file/);
    await writeFile(path.join(root, 'credential.json'), '{oops');
    await expect(store.loadCredential()).rejects.toThrow(SyntaxError);
  });

  it('caches config 0600, ignores an invalid cache, and clears both on revocation', async () => {
    const store = new StateStore(root);
    await store.saveCredential(credential);
    await store.saveConfig({ config_name: 'c', config_version: 2, values: DEFAULT_CONFIG_VALUES, saved_at: '' });
    expect((await stat(path.join(root, 'config.json'))).mode & 0o777).toBe(0o600);
    expect((await store.loadConfig())?.config_version).toBe(2);
    await writeFile(path.join(root, 'config.json'), '{"config_version":2,"values":{}}');
    expect(await store.loadConfig()).toBeUndefined();
    await store.clearCredential();
    expect(await readdir(root)).toEqual([]);
  });
});
