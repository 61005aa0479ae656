// The OU tree: create, rename, move with subtree, delete only when empty, cycles refused, paging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, expectErrorShape, type Harness } from '../../testing/harness.js';

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await createHarness();
  admin = await h.adminToken();
});
afterAll(() => h.close());

const get = async (id: number) => (await h.req('GET', `/api/v1/ous/${id}`, { token: admin })).body;

describe('OU tree', () => {
  it('creates roots and children with materialised paths', async () => {
    const root = await h.createOu('Corp');
    const eng = await h.createOu('Engineering', root);
    expect((await get(eng)).path).toBe(`/${root}/${eng}/`);
    expect((await get(eng)).parent_id).toBe(root);
  });

  it('refuses a duplicate sibling name (case-insensitive) with 409', async () => {
    const root = await h.createOu('Dup');
    await h.createOu('Team', root);
    const r = await h.req('POST', '/api/v1/ous', { token: admin, body: { name: 'TEAM', parent_id: root } });
    expect(r.status).toBe(409);
    expectErrorShape(r);
  });

  it('moves an OU with its whole subtree, and the subtree’s users stay reachable by scope', async () => {
    const a = await h.createOu('MoveA');
    const b = await h.createOu('MoveB');
    const child = await h.createOu('Child', a);
    const grandchild = await h.createOu('Grandchild', child);
    await h.createUser('mover_admin', 'ou_admin', b);
    const r = await h.req('PATCH', `/api/v1/ous/${child}`, { token: admin, body: { parent_id: b } });
    expect(r.status).toBe(200);
    expect(r.body.path).toBe(`/${b}/${child}/`);
    expect((await get(grandchild)).path).toBe(`/${b}/${child}/${grandchild}/`);
    const t = await h.login('mover_admin', 'mover_admin-password-123');
    expect((await h.req('GET', `/api/v1/ous/${grandchild}`, { token: t })).status).toBe(200);
  });

  it('refuses to move an OU into its own subtree', async () => {
    const a = await h.createOu('CycleA');
    const b = await h.createOu('CycleB', a);
    const r = await h.req('PATCH', `/api/v1/ous/${a}`, { token: admin, body: { parent_id: b } });
    expect(r.status).toBe(409);
    expect((await get(a)).parent_id).toBeNull();
  });

  it('renames', async () => {
    const a = await h.createOu('OldName');
    const r = await h.req('PATCH', `/api/v1/ous/${a}`, { token: admin, body: { name: 'NewName' } });
    expect(r.body.name).toBe('NewName');
  });

  it('deletes only when empty, saying what is left', async () => {
    const a = await h.createOu('Full');
    const child = await h.createOu('Kid', a);
    const u = await h.createUser('resident', 'user', child);
    const r1 = await h.req('DELETE', `/api/v1/ous/${a}`, { token: admin });
    expect(r1.status).toBe(409);
    expect(r1.body).toMatchObject({ error: 'ou_not_empty', details: { child_ous: 1 } });
    const r2 = await h.req('DELETE', `/api/v1/ous/${child}`, { token: admin });
    expect(r2.body.details).toMatchObject({ users: 1 });
    await h.req('DELETE', `/api/v1/users/${u}`, { token: admin });
    expect((await h.req('DELETE', `/api/v1/ous/${child}`, { token: admin })).status).toBe(204);
    expect((await h.req('DELETE', `/api/v1/ous/${a}`, { token: admin })).status).toBe(204);
    expect((await h.req('GET', `/api/v1/ous/${a}`, { token: admin })).status).toBe(404);
  });

  it('pages with a cursor and no duplicates', async () => {
    const parent = await h.createOu('Pager');
    for (let i = 0; i < 7; i++) await h.createOu(`p${i}`, parent);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/ous?parent_id=${parent}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await h.req('GET', q, { token: admin });
      expect(r.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.items.map((o: { id: number }) => o.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });
});
