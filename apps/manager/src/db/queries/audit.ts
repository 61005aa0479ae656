// SQL for the audit log of administrative changes.
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { inScope } from './scope.js';

export interface AuditEntry {
  actor_id: string | null;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string | null;
  /** path of the OU the change belongs to; null for global objects */
  ou_path: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
}

export interface AuditRow extends Omit<AuditEntry, 'ou_path'> {
  id: string;
  at: Date;
}

export async function insertAudit(db: Db, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      ...e,
      before: e.before === undefined ? null : JSON.stringify(e.before),
      after: e.after === undefined ? null : JSON.stringify(e.after),
    })
    .execute();
}

export interface ListAuditOptions {
  beforeId?: string;
  limit: number;
  action?: string;
  targetType?: string;
  actorId?: string;
  since?: Date;
  until?: Date;
}

/** Newest first, scoped by the OU the change belongs to (global entries only for global roles). */
export function listAudit(db: Db, scope: Scope, o: ListAuditOptions): Promise<AuditRow[]> {
  let q = db
    .selectFrom('audit_log')
    .select([
      'id',
      'at',
      'actor_id',
      'actor_name',
      'action',
      'target_type',
      'target_id',
      'before',
      'after',
      'request_id',
    ])
    .where((eb) => inScope(eb, scope, 'audit_log.ou_path'))
    .orderBy('id', 'desc')
    .limit(o.limit + 1);
  if (o.beforeId) q = q.where('id', '<', o.beforeId);
  if (o.action) q = q.where('action', '=', o.action);
  if (o.targetType) q = q.where('target_type', '=', o.targetType);
  if (o.actorId) q = q.where('actor_id', '=', o.actorId);
  if (o.since) q = q.where('at', '>=', o.since);
  if (o.until) q = q.where('at', '<', o.until);
  return q.execute() as Promise<AuditRow[]>;
}
