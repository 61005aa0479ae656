// The uploader with a real spool and HTTP client against the fake manager on 127.0.0.1: batches, keys, faults.
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool } from '../spool/spool.js';
import { envelope, tempSpoolDir } from '../spool/testing.js';
import { FakeManager } from '../testing/fake-manager.js';
import { memoryLogger } from '../testing/fakes.js';
import { HttpManagerApi } from './manager-api.js';
import { batchIdempotencyKey, ResultUploader, type ResultUploaderOptions } from './result-uploader.js';

const CREDENTIAL = 'rkd_uploader_test_credential_0001';
let manager: FakeManager;
let dir: string;
let spool: Spool;
let uploader: ResultUploader | undefined;

beforeEach(async () => {
  manager = new FakeManager();
  manager.devices.push({ id: 42, serial: 'up-1', credential: CREDENTIAL, revoked: false });
  await manager.listen();
  dir = await tempSpoolDir();
  spool = await Spool.open({ dir, logger: memoryLogger().logger });
});
afterEach(async () => {
  await uploader?.stop(100);
  uploader = undefined;
  await spool.close();
  await manager.close();
  await rm(dir, { recursive: true, force: true });
});

function startUploader(options: Partial<ResultUploaderOptions> = {}) {
  const { logger, lines } = memoryLogger();
  uploader = new ResultUploader({
    spool,
    api: new HttpManagerApi(manager.url, { timeoutMs: 2000 }),
    logger,
    backoff: { initialMs: 20, maxMs: 200 },
    idleCheckMs: 1000,
    ...options,
  });
  return { uploader, lines };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function appendMany(n: number) {
  const envs = Array.from({ length: n }, (_, i) => envelope(i));
  for (const e of envs) expect(await spool.append(e)).toBe(true);
  return envs;
}

describe('batchIdempotencyKey', () => {
  it('is a UUID derived only from the ids, in order', () => {
    const a = batchIdempotencyKey(['x', 'y']);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(batchIdempotencyKey(['x', 'y'])).toBe(a);
    expect(batchIdempotencyKey(['y', 'x'])).not.toBe(a);
    expect(batchIdempotencyKey(['x'])).not.toBe(a);
  });
});

describe('ResultUploader', () => {
  it('uploads the backlog in batches with the device credential, API version and a batch-derived key', async () => {
    const envs = await appendMany(23);
    const { uploader: u } = startUploader({ batchRecords: 10 });
    u.setCredential(CREDENTIAL);
    await waitFor('all stored', () => manager.results.size === 23);
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.uploads.map((up) => up.ids.length)).toEqual([10, 10, 3]);
    expect(manager.uploads.flatMap((up) => up.ids)).toEqual(envs.map((e) => e.id));
    const requests = manager.requests.filter((r) => r.path === '/api/v1/results/upload');
    for (const [i, r] of requests.entries()) {
      expect(r.headers.authorization).toBe(`Bearer ${CREDENTIAL}`);
      expect(r.headers['x-api-version']).toBe('1');
      expect(r.headers['idempotency-key']).toBe(batchIdempotencyKey(manager.uploads[i]!.ids));
    }
    expect(manager.results.get(envs[5]!.id)).toEqual(envs[5]);
    expect(u.status()).toMatchObject({ uploaded: 23, backlog: 0, upload_batches: 3, last_upload_error: null });

    // results appended later wake the idle uploader at once (idle check is 1 s)
    const later = await appendMany(2);
    await waitFor('late results', () => later.every((e) => manager.results.has(e.id)), 800);
  });

  it('a lost response is retried with the same ids and Idempotency-Key and stored once', async () => {
    const envs = await appendMany(5);
    manager.dropUploadResponses = 1;
    const { uploader: u, lines } = startUploader();
    u.setCredential(CREDENTIAL);
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.uploads.map((up) => [up.status, up.stored])).toEqual([
      [0, 5],
      [200, 0],
    ]);
    expect(manager.uploads[1]!.ids).toEqual(manager.uploads[0]!.ids);
    expect(manager.uploads[1]!.key).toBe(manager.uploads[0]!.key);
    expect(manager.results.size).toBe(5);
    expect([...manager.results.keys()]).toEqual(envs.map((e) => e.id));
    expect(lines.some((l) => l.msg === 'result upload failed')).toBe(true);
  });

  it('honours 429 Retry-After even when the backoff is shorter', async () => {
    await appendMany(3);
    manager.uploadStatuses = [429];
    const { uploader: u } = startUploader();
    const started = Date.now();
    u.setCredential(CREDENTIAL);
    await waitFor('spool empty', () => spool.backlog === 0, 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(manager.uploads.map((up) => up.status)).toEqual([429, 200]);
    expect(manager.uploads[1]!.key).toBe(manager.uploads[0]!.key);
  });

  it('retries transient failures with backoff until they succeed', async () => {
    await appendMany(4);
    manager.uploadStatuses = [503, 502, 500];
    const { uploader: u } = startUploader();
    u.setCredential(CREDENTIAL);
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.uploads.map((up) => up.status)).toEqual([503, 502, 500, 200]);
    expect(new Set(manager.uploads.map((up) => up.key)).size).toBe(1);
  });

  it('sets a 422 batch aside in rejected/ and carries on with the next one', async () => {
    const envs = await appendMany(6);
    manager.uploadStatuses = [422];
    const { uploader: u } = startUploader({ batchRecords: 4 });
    u.setCredential(CREDENTIAL);
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.uploads.map((up) => up.status)).toEqual([422, 200]);
    expect([...manager.results.keys()]).toEqual(envs.slice(4).map((e) => e.id));
    const [file] = await readdir(path.join(dir, 'rejected'));
    const doc = JSON.parse(await readFile(path.join(dir, 'rejected', file!), 'utf8')) as { status: number };
    expect(doc).toMatchObject({ status: 422, results: envs.slice(0, 4) });
    expect(u.status()).toMatchObject({ rejected: 4, uploaded: 2 });
  });

  it('sets per-record rejections aside and deletes the accepted rest', async () => {
    const envs = await appendMany(4);
    manager.rejectIds.add(envs[1]!.id);
    const { uploader: u } = startUploader();
    u.setCredential(CREDENTIAL);
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.uploads).toHaveLength(1);
    expect(u.status()).toMatchObject({ rejected: 1, uploaded: 3 });
    const [file] = await readdir(path.join(dir, 'rejected'));
    expect(await readFile(path.join(dir, 'rejected', file!), 'utf8')).toContain(envs[1]!.id);
  });

  it('on 401 hands back to re-enrollment, keeps the spool, and resumes with the new credential', async () => {
    await appendMany(3);
    manager.devices[0]!.revoked = true;
    let refused = 0;
    const { uploader: u } = startUploader();
    u.setCredential(CREDENTIAL, () => refused++);
    await waitFor('refused', () => refused === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(manager.requests.filter((r) => r.status === 401)).toHaveLength(1);
    expect(spool.backlog).toBe(3);
    manager.devices.push({ id: 42, serial: 'up-1', credential: 'rkd_fresh_after_reenroll', revoked: false });
    u.setCredential('rkd_fresh_after_reenroll');
    await waitFor('spool empty', () => spool.backlog === 0);
    expect(manager.results.size).toBe(3);
  });

  it('manager stopped for a while and restarted: every spooled result arrives exactly once', async () => {
    const before = await appendMany(20);
    const port = Number(new URL(manager.url).port);
    const { uploader: u, lines } = startUploader({ batchRecords: 7 });
    u.setCredential(CREDENTIAL);
    await waitFor('first results', () => manager.results.size > 0);
    await manager.close();
    const during = await appendMany(30); // measured while the manager is down
    await waitFor(
      'failed attempts while down',
      () => lines.filter((l) => l.msg === 'result upload failed').length >= 2,
    );
    expect(spool.backlog).toBeGreaterThanOrEqual(30);
    await manager.listen(port);
    await waitFor('spool empty', () => spool.backlog === 0);
    const all = [...before, ...during].map((e) => e.id);
    expect(new Set(manager.results.keys())).toEqual(new Set(all));
    expect(manager.uploads.reduce((n, up) => n + up.stored, 0)).toBe(all.length);
  });

  it('flushes on stop within the time given, and leaves the rest spooled when the manager is gone', async () => {
    const { uploader: u } = startUploader({ idleCheckMs: 60_000 });
    u.setCredential(CREDENTIAL);
    await appendMany(3);
    await u.stop(2000);
    expect(manager.results.size).toBe(3);

    uploader = undefined;
    const { uploader: v } = startUploader();
    await manager.close();
    await appendMany(2);
    v.setCredential(CREDENTIAL);
    const started = Date.now();
    await v.stop(300);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(spool.backlog).toBe(2);
    await manager.listen();
  });
});
