// Organisation units: a tree; OU roles cover their OU and its descendants.
import {
  deleteOu,
  findOu,
  findOuUnscoped,
  insertOu,
  listOus,
  moveOu,
  raiseConfigEpochs,
  type OuRow,
  ouDependents,
  updateOu,
} from '../db/queries/ous.js';
import { AppError, conflict, forbidden, notFound } from '../domain/errors.js';
import { decodeCursor, type Page, toPage } from '../domain/pagination.js';
import { type Principal, type Scope, scopeOf } from '../domain/principal.js';
import { canWrite } from '../domain/roles.js';
import { audit } from './audit.js';
import type { Broadcast } from './config.js';
import type { Actor, ServiceContext } from './context.js';

/** The scope a principal may change: global_admin everything, ou_admin its subtree. @throws 403 */
export function writeScope(p: Principal): Scope {
  if (!canWrite(p.role)) throw forbidden(`role ${p.role} cannot change this`);
  return scopeOf(p);
}

/** The scope a principal may read administrative objects in. */
export const readScope = (p: Principal): Scope => scopeOf(p);

export class OuService {
  constructor(
    private readonly ctx: ServiceContext,
    /** tells every replica that a subtree moved (caches, agent sockets) */
    private readonly broadcast: Broadcast = async () => {},
  ) {}

  async get(p: Principal, id: string): Promise<OuRow> {
    const ou = await findOu(this.ctx.db, readScope(p), id);
    if (!ou) throw notFound('OU');
    return ou;
  }

  async list(
    p: Principal,
    q: { limit: number; cursor?: string; parent_id?: string; q?: string },
  ): Promise<Page<OuRow>> {
    const rows = await listOus(this.ctx.db, readScope(p), {
      limit: q.limit,
      afterId: decodeCursor(q.cursor),
      parentId: q.parent_id,
      q: q.q,
    });
    return toPage(rows, q.limit);
  }

  /** Creates an OU; only a global_admin creates roots, an ou_admin creates inside its subtree. */
  async create(
    p: Principal,
    v: { name: string; description?: string; parent_id?: string | null },
    actor: Actor,
  ): Promise<OuRow> {
    const scope = writeScope(p);
    let parent: OuRow | undefined;
    if (v.parent_id) {
      parent = await findOu(this.ctx.db, scope, v.parent_id);
      if (!parent) throw notFound('parent OU');
    } else if (scope.kind !== 'all') {
      throw forbidden('only a global_admin can create a top-level OU');
    }
    const ou = await insertOu(this.ctx.db, {
      name: v.name.trim(),
      description: v.description ?? '',
      parent: parent ?? null,
    });
    await audit(this.ctx.db, actor, {
      action: 'ou.create',
      targetType: 'ou',
      targetId: ou.id,
      ouPath: ou.path,
      after: ou,
    });
    return ou;
  }

  /** Renames and/or moves an OU (with its subtree). An ou_admin cannot move its own OU. */
  async update(
    p: Principal,
    id: string,
    v: { name?: string; description?: string; parent_id?: string; device_cap?: number | null },
    actor: Actor,
  ): Promise<OuRow> {
    const scope = writeScope(p);
    const db = this.ctx.db;
    let move: { from: string; to: string; version: number } | undefined;
    const out = await db.transaction().execute(async (tx) => {
      const ou = await findOu(tx, scope, id);
      if (!ou) throw notFound('OU');
      let moved = ou;
      if (v.parent_id !== undefined && v.parent_id !== ou.parent_id) {
        if (scope.kind !== 'all' && ou.path === p.ouPath) throw forbidden('an ou_admin cannot move its own OU');
        const parent = await findOu(tx, scope, v.parent_id);
        if (!parent) throw notFound('parent OU');
        if (parent.path.startsWith(ou.path)) throw conflict('cannot move an OU into its own subtree');
        await moveOu(tx, ou, parent);
        moved = (await findOuUnscoped(tx, id)) ?? ou;
        // its devices' layer chains changed: their config versions go up, as when a device moves
        move = { from: ou.path, to: moved.path, version: await raiseConfigEpochs(tx, moved.path) };
      }
      const updated =
        v.name !== undefined || v.description !== undefined || v.device_cap !== undefined
          ? await updateOu(tx, id, { name: v.name?.trim(), description: v.description, device_cap: v.device_cap })
          : moved;
      await audit(tx, actor, {
        action: 'ou.update',
        targetType: 'ou',
        targetId: id,
        ouPath: updated.path,
        before: ou,
        after: updated,
      });
      return updated;
    });
    if (move) await this.broadcast({ scope: 'ou', ou_path: move.to, version: move.version, moved_from: move.from });
    return out;
  }

  /** Deletes an empty OU. @throws 409 with what still lives in it */
  async remove(p: Principal, id: string, actor: Actor): Promise<void> {
    const scope = writeScope(p);
    await this.ctx.db.transaction().execute(async (tx) => {
      const ou = await findOu(tx, scope, id);
      if (!ou) throw notFound('OU');
      if (scope.kind !== 'all' && ou.path === p.ouPath) throw forbidden('an ou_admin cannot delete its own OU');
      const deps = await ouDependents(tx, id);
      if (Object.values(deps).some((n) => n > 0)) {
        throw new AppError(409, 'ou_not_empty', 'OU is not empty; move or delete what it holds first', deps);
      }
      await deleteOu(tx, id);
      await audit(tx, actor, { action: 'ou.delete', targetType: 'ou', targetId: id, ouPath: ou.path, before: ou });
    });
  }

  /** Resolves an OU id the caller may write into (for users, secrets, devices). */
  async requireWritable(p: Principal, id: string): Promise<OuRow> {
    const ou = await findOu(this.ctx.db, writeScope(p), id);
    if (!ou) throw notFound('OU');
    return ou;
  }
}
