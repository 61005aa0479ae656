// Writes audit entries with secrets redacted.
import type { Db } from '../db/database.js';
import { type AuditEntry, insertAudit } from '../db/queries/audit.js';
import type { Actor } from './context.js';

const SECRET_FIELDS = /pass|secret|token|hash|key|credential|totp|recovery/i;

/** Deep copy with every secret-looking field replaced by "[redacted]". */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.test(k) && v !== null ? '[redacted]' : redact(v)]),
    );
  }
  return value;
}

export interface AuditChange {
  action: string;
  targetType: string;
  targetId: string | null;
  ouPath: string | null;
  before?: unknown;
  after?: unknown;
}

export async function audit(db: Db, actor: Actor, c: AuditChange): Promise<void> {
  const entry: AuditEntry = {
    actor_id: actor.id,
    actor_name: actor.name,
    action: c.action,
    target_type: c.targetType,
    target_id: c.targetId,
    ou_path: c.ouPath,
    before: c.before === undefined ? null : redact(c.before),
    after: c.after === undefined ? null : redact(c.after),
    request_id: actor.requestId,
  };
  await insertAudit(db, entry);
}
