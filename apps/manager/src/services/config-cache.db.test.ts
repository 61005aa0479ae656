// A replica keeps the config layers of an OU chain: check-ins of the OU's devices need no query, and a
// change message (the broadcast every replica gets) drops the copy before agents are nudged.
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDeviceByCredential, type DeviceRow } from '../db/queries/devices.js';
import { createHarness, type Harness } from '../testing/harness.js';
import { ConfigService } from './config.js';
import { sha256 } from './crypto.js';

let h: Harness;
let ou = 0;
const devices: DeviceRow[] = [];
/** another replica's config service on the same database, counting its statements */
let replicaB: ConfigService;
const statements = { n: 0 };

beforeAll(async () => {
  h = await createHarness();
  ou = await h.createOu('Cached');
  const { secret } = await h.createSecret(ou);
  for (let i = 0; i < 20; i++) {
    const e = await h.enroll(secret, `cache-${i}`);
    devices.push((await findDeviceByCredential(h.tdb.db, sha256(e.body.device_credential))) as DeviceRow);
  }
  const counting: KyselyPlugin = {
    transformQuery: (a) => {
      statements.n++;
      return a.node;
    },
    transformResult: async (a) => a.result,
  };
  replicaB = new ConfigService({ ...h.deps.ctx, db: h.deps.ctx.db.withPlugin(counting) });
});
afterAll(() => h.close());

const put = async (url: string, body: unknown) => {
  const r = await h.req('PUT', url, { token: await h.adminToken(), body });
  expect(r.status).toBe(200);
};
const interval = async (d: DeviceRow) =>
  (await replicaB.effectiveFor(d)).values.schedule?.interval_seconds as number | undefined;

describe('config layer cache', () => {
  it('serves an OU’s devices from one read of their chain', async () => {
    await put(`/api/v1/ous/${ou}/config`, { doc: { schedule: { interval_seconds: 120 } } });
    replicaB.invalidateLayers();
    const before = statements.n;
    for (const d of devices) expect(await interval(d)).toBe(120);
    // the chain and the set of devices with their own layer, once each
    expect(statements.n - before).toBe(2);
  });

  it('a change is seen once its message arrives, and by the replica that made it at once', async () => {
    await put(`/api/v1/ous/${ou}/config`, { doc: { schedule: { interval_seconds: 300 } } });
    const d = devices[0] as DeviceRow;
    // replica B has not had the message yet: its copy is at most a few seconds old
    expect(await interval(d)).toBe(120);
    replicaB.invalidateLayers();
    expect(await interval(d)).toBe(300);
    expect((await h.deps.config.effectiveFor(d)).values.schedule?.interval_seconds).toBe(300);
  });

  it('a device with its own layer reads it on top of the shared chain', async () => {
    const [d, other] = devices as [DeviceRow, DeviceRow];
    await put(`/api/v1/devices/${d.id}/config`, { doc: { schedule: { interval_seconds: 45 } } });
    replicaB.invalidateLayers();
    expect(await interval(d)).toBe(45);
    expect(await interval(other)).toBe(300);
    const e = await replicaB.effectiveFor(d);
    expect(e.layers.map((l) => l.id)).toEqual([`ou:${ou}`, `device:${d.id}`]);
  });
});
