// Heartbeat coalescing: many heartbeats, one statement per flush, latest values win, none lost on failure.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../testing/harness.js';
import { HeartbeatBuffer } from './heartbeats.js';

let h: Harness;
const ids: string[] = [];
beforeAll(async () => {
  h = await createHarness();
  const secret = (await h.createSecret(await h.createOu('HB'))).secret;
  for (let i = 0; i < 5; i++) ids.push(String((await h.enroll(secret, `hb-${i}`)).body.device_id));
  await sql`UPDATE devices SET status = 'offline', last_seen_at = now() - interval '1 day'`.execute(h.tdb.db);
});
afterAll(() => h.close());

const row = async (id: string) =>
  (
    await sql<{ status: string; agent_state: string | null; spool_backlog: number | null; fresh: boolean }>`
    SELECT status, agent_state, spool_backlog, last_seen_at > now() - interval '1 minute' AS fresh FROM devices WHERE id = ${id}`.execute(
      h.tdb.db,
    )
  ).rows[0];

describe('HeartbeatBuffer', () => {
  it('writes every buffered device in one flush; later fields merge over earlier ones', async () => {
    const b = new HeartbeatBuffer(h.tdb.db);
    for (const id of ids) b.add(id, { agent_state: 'enrolled', spool_backlog: 1 });
    b.add(ids[0] as string, { spool_backlog: 9 });
    expect(b.size).toBe(5);
    await b.flush();
    expect(b.size).toBe(0);
    expect(await row(ids[0] as string)).toEqual({
      status: 'online',
      agent_state: 'enrolled',
      spool_backlog: 9,
      fresh: true,
    });
    expect(await row(ids[4] as string)).toMatchObject({ status: 'online', spool_backlog: 1 });
  });

  it('rewrites no index: a flush updates the rows in place (HOT) when only liveness fields change', async () => {
    await h.tdb.db.transaction().execute(async (trx) => {
      await sql`UPDATE devices SET status = 'online' WHERE id = ANY (${ids}::bigint[])`.execute(trx);
      const counts = async () =>
        (
          await sql<{ upd: string; hot: string }>`
          SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'devices'`.execute(
            trx,
          )
        ).rows[0] as { upd: string; hot: string };
      const before = await counts();
      const b = new HeartbeatBuffer(trx);
      for (const id of ids) b.add(id, { agent_state: 'running', config_version: 3, spool_backlog: 0 });
      await b.flush();
      const after = await counts();
      expect(Number(after.upd) - Number(before.upd)).toBe(ids.length);
      expect(Number(after.hot) - Number(before.hot)).toBe(ids.length);
    });
  });

  it('keeps a failed batch for the next flush', async () => {
    const errors: unknown[] = [];
    const b = new HeartbeatBuffer(h.tdb.db, 1000, (e) => errors.push(e));
    b.add(ids[1] as string, { agent_state: 'stopping' });
    await sql`ALTER TABLE devices ADD CONSTRAINT hb_block CHECK (agent_state IS DISTINCT FROM 'stopping') NOT VALID`.execute(
      h.tdb.db,
    );
    await b.flush();
    expect(errors).toHaveLength(1);
    expect(b.size).toBe(1);
    await sql`ALTER TABLE devices DROP CONSTRAINT hb_block`.execute(h.tdb.db);
    await b.flush();
    expect((await row(ids[1] as string))?.agent_state).toBe('stopping');
  });
});
