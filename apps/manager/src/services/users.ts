// User accounts: CRUD within the caller's scope, role grants bounded by the caller's own role.
import {
  countUsers,
  deleteUser,
  findUserScoped,
  insertUser,
  listUsers,
  type UserRow,
  updateUser,
} from '../db/queries/users.js';
import { findOuUnscoped } from '../db/queries/ous.js';
import { badRequest, conflict, forbidden, notFound } from '../domain/errors.js';
import { decodeCursor, type Page, toPage } from '../domain/pagination.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import { canGrant, isGlobalRole, isOuRole, type Role } from '../domain/roles.js';
import { audit } from './audit.js';
import type { Actor, ServiceContext } from './context.js';
import { writeScope } from './ous.js';
import { assertPasswordPolicy, hashPassword } from './passwords.js';

export interface NewUserInput {
  username: string;
  password: string;
  role: Role;
  ou_id?: string | null;
  email?: string | null;
  full_name?: string;
}

export interface UserPatchInput {
  role?: Role;
  ou_id?: string | null;
  email?: string | null;
  full_name?: string;
  disabled?: boolean;
  password?: string;
}

export class UserService {
  constructor(private readonly ctx: ServiceContext) {}

  async get(p: Principal, id: string): Promise<UserRow> {
    const u = await findUserScoped(this.ctx.db, scopeOf(p), id, p.userId);
    if (!u) throw notFound('user');
    return u;
  }

  async list(
    p: Principal,
    q: { limit: number; cursor?: string; ou_id?: string; role?: string; q?: string },
  ): Promise<Page<UserRow>> {
    const rows = await listUsers(this.ctx.db, scopeOf(p), p.userId, {
      limit: q.limit,
      afterId: decodeCursor(q.cursor),
      ouId: q.ou_id,
      role: q.role,
      q: q.q,
    });
    return toPage(rows, q.limit);
  }

  /** Checks that `p` may give `role` in `ouId`. @throws 403 / 404 / 400 */
  private async assertPlacement(p: Principal, role: Role, ouId: string | null): Promise<void> {
    if (!canGrant(p.role, role)) throw forbidden(`${p.role} cannot grant ${role}`);
    if (isGlobalRole(role)) {
      if (ouId) throw badRequest(`${role} is a global role and takes no ou_id`, { field: 'ou_id' });
      return;
    }
    if (!ouId) {
      if (isOuRole(role) || p.role !== 'global_admin') throw badRequest(`${role} needs an ou_id`, { field: 'ou_id' });
      return;
    }
    const ou = await findOuUnscoped(this.ctx.db, ouId);
    const scope = writeScope(p);
    if (!ou || (scope.kind === 'subtree' && !ou.path.startsWith(scope.path))) throw notFound('OU');
  }

  async create(p: Principal, v: NewUserInput, actor: Actor): Promise<UserRow> {
    writeScope(p);
    const ouId = v.ou_id ?? null;
    await this.assertPlacement(p, v.role, ouId);
    assertPasswordPolicy(v.password, v.username);
    const id = await insertUser(this.ctx.db, {
      username: v.username,
      email: v.email ?? null,
      full_name: v.full_name ?? '',
      password_hash: await hashPassword(v.password),
      role: v.role,
      ou_id: ouId,
    });
    const u = await this.get(p, id);
    await audit(this.ctx.db, actor, {
      action: 'user.create',
      targetType: 'user',
      targetId: id,
      ouPath: u.ou_path,
      after: publicUser(u),
    });
    return u;
  }

  async update(p: Principal, id: string, v: UserPatchInput, actor: Actor): Promise<UserRow> {
    const scope = writeScope(p);
    const before = await findUserScoped(this.ctx.db, scope, id, p.userId);
    if (!before) throw notFound('user');
    const self = before.id === p.userId;
    if (self && (v.role !== undefined || v.disabled || v.ou_id !== undefined)) {
      throw forbidden('you cannot change your own role, OU or disable yourself');
    }
    // an ou_admin may edit users of its subtree only up to its own rank
    if (!canGrant(p.role, before.role as Role)) throw forbidden(`${p.role} cannot change a ${before.role}`);
    const role = v.role ?? (before.role as Role);
    const ouId = v.ou_id !== undefined ? v.ou_id : before.ou_id;
    if (v.role !== undefined || v.ou_id !== undefined) await this.assertPlacement(p, role, ouId);
    if (v.password !== undefined) assertPasswordPolicy(v.password, before.username);
    await updateUser(this.ctx.db, id, {
      role,
      ou_id: ouId,
      email: v.email,
      full_name: v.full_name,
      disabled: v.disabled,
      password_hash: v.password !== undefined ? await hashPassword(v.password) : undefined,
      revokeTokens: v.disabled === true || v.password !== undefined || v.role !== undefined,
    });
    const after = await this.get(p, id).catch(() => before);
    await audit(this.ctx.db, actor, {
      action: 'user.update',
      targetType: 'user',
      targetId: id,
      ouPath: after.ou_path,
      before: publicUser(before),
      after: { ...publicUser(after), ...(v.password !== undefined ? { password: 'changed' } : {}) },
    });
    return after;
  }

  async remove(p: Principal, id: string, actor: Actor): Promise<void> {
    const scope = writeScope(p);
    const u = await findUserScoped(this.ctx.db, scope, id, p.userId);
    if (!u) throw notFound('user');
    if (u.id === p.userId) throw conflict('you cannot delete yourself');
    if (!canGrant(p.role, u.role as Role)) throw forbidden(`${p.role} cannot delete a ${u.role}`);
    await deleteUser(this.ctx.db, id);
    await audit(this.ctx.db, actor, {
      action: 'user.delete',
      targetType: 'user',
      targetId: id,
      ouPath: u.ou_path,
      before: publicUser(u),
    });
  }

  /** Creates the first global admin when no user exists yet. Returns true when it did. */
  async bootstrapAdmin(username: string, password: string): Promise<boolean> {
    if ((await countUsers(this.ctx.db)) > 0) return false;
    try {
      await insertUser(this.ctx.db, {
        username,
        email: null,
        full_name: 'Administrator',
        password_hash: await hashPassword(password),
        role: 'global_admin',
        ou_id: null,
      });
    } catch (err) {
      // another replica (or worker) bootstrapped at the same moment: it reports the creation
      if ((err as { code?: string }).code === '23505') return false;
      throw err;
    }
    return true;
  }
}

/** The user as the API shows it (no hashes, no TOTP secret). */
export function publicUser(u: UserRow) {
  return {
    id: Number(u.id),
    username: u.username,
    email: u.email,
    full_name: u.full_name,
    role: u.role as Role,
    ou_id: u.ou_id === null ? null : Number(u.ou_id),
    disabled: u.disabled,
    totp_enabled: u.totp_enabled,
    created_at: u.created_at.toISOString(),
    updated_at: u.updated_at.toISOString(),
  };
}
