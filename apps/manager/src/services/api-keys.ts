// API keys of the calling user: shown once, stored as SHA-256, prefix visible, revocable.
import { findApiKey, insertApiKey, listApiKeys, type ApiKeyRow, revokeApiKey } from '../db/queries/api-keys.js';
import { expiryOf, notFound } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { audit } from './audit.js';
import type { Actor, ServiceContext } from './context.js';
import { randomToken, sha256 } from './crypto.js';

export class ApiKeyService {
  constructor(private readonly ctx: ServiceContext) {}

  list(p: Principal): Promise<ApiKeyRow[]> {
    return listApiKeys(this.ctx.db, p.userId);
  }

  /** Creates a key `rk_<8 chars>_<43 chars>`; the full key is returned only here. */
  async create(
    p: Principal,
    v: { name: string; expires_at?: string },
    actor: Actor,
  ): Promise<{ row: ApiKeyRow; key: string }> {
    const prefix = randomToken('rk_', 6);
    const key = `${prefix}_${randomToken('', 32)}`;
    const row = await insertApiKey(this.ctx.db, {
      user_id: p.userId,
      name: v.name,
      prefix,
      key_hash: sha256(key),
      expires_at: v.expires_at ? expiryOf(v.expires_at, 'expires_at') : null,
    });
    await audit(this.ctx.db, actor, {
      action: 'api_key.create',
      targetType: 'api_key',
      targetId: row.id,
      ouPath: p.ouPath,
      after: row,
    });
    return { row, key };
  }

  async revoke(p: Principal, id: string, actor: Actor): Promise<void> {
    const row = await findApiKey(this.ctx.db, p.userId, id);
    if (!row) throw notFound('API key');
    await revokeApiKey(this.ctx.db, id);
    await audit(this.ctx.db, actor, {
      action: 'api_key.revoke',
      targetType: 'api_key',
      targetId: id,
      ouPath: p.ouPath,
      before: row,
    });
  }
}
