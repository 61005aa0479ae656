// Webhooks for alert changes: CRUD within scope, signed deliveries (HMAC-SHA256) with retries.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { findOu } from '../db/queries/ous.js';
import { forbidden, notFound } from '../domain/errors.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import { audit } from './audit.js';
import type { Actor, ServiceContext } from './context.js';
import { deriveKey, open, randomToken, seal } from './crypto.js';
import { writeScope } from './ous.js';
import { assertOutboundUrl, type GuardOptions, guardedLookup } from './url-guard.js';

export interface WebhookRow {
  id: string;
  ou_id: string | null;
  name: string;
  url: string;
  format: string;
  enabled: boolean;
  created_at: Date;
}

interface Delivery {
  id: string;
  attempts: number;
  url: string;
  format: string;
  secret: string;
  event: Record<string, unknown>;
}

/** Retries after 5 s, 10 s, 20 s, 40 s; the 5th failure is final. */
const MAX_ATTEMPTS = 5;

export class WebhookService {
  private readonly key: Buffer;

  constructor(
    private readonly ctx: ServiceContext,
    readonly guard: GuardOptions,
  ) {
    this.key = deriveKey(ctx.secretKey, 'webhook-secret');
  }

  async create(
    p: Principal,
    v: { ou_id?: string | null; name: string; url: string; format: 'generic' | 'slack' },
    actor: Actor,
  ): Promise<{ row: WebhookRow; secret: string }> {
    const scope = writeScope(p);
    let ouPath: string | null = null;
    if (v.ou_id) {
      const ou = await findOu(this.ctx.db, scope, v.ou_id);
      if (!ou) throw notFound('OU');
      ouPath = ou.path;
    } else if (scope.kind !== 'all') throw forbidden('only a global_admin creates fleet-wide webhooks');
    assertOutboundUrl(v.url, this.guard);
    const secret = randomToken('rkw_', 32);
    const row = await this.ctx.db
      .insertInto('webhooks')
      .values({ ou_id: v.ou_id ?? null, name: v.name, url: v.url, format: v.format, secret: seal(this.key, secret) })
      .returning(['id', 'ou_id', 'name', 'url', 'format', 'enabled', 'created_at'])
      .executeTakeFirstOrThrow();
    await audit(this.ctx.db, actor, {
      action: 'webhook.create',
      targetType: 'webhook',
      targetId: row.id,
      ouPath,
      after: row,
    });
    return { row, secret };
  }

  list(p: Principal): Promise<WebhookRow[]> {
    const scope = scopeOf(p);
    if (p.role === 'user') throw forbidden();
    let q = this.ctx.db
      .selectFrom('webhooks')
      .leftJoin('ous', 'ous.id', 'webhooks.ou_id')
      .select([
        'webhooks.id',
        'webhooks.ou_id',
        'webhooks.name',
        'webhooks.url',
        'webhooks.format',
        'webhooks.enabled',
        'webhooks.created_at',
      ])
      .orderBy('webhooks.id');
    if (scope.kind === 'subtree' || scope.kind === 'own') q = q.where('ous.path', 'like', `${scope.path}%`);
    if (scope.kind === 'none') q = q.where(sql<boolean>`false`);
    return q.execute();
  }

  async remove(p: Principal, id: string, actor: Actor): Promise<void> {
    const scope = writeScope(p);
    const row = (await this.list(p)).find((w) => w.id === id);
    if (!row || (row.ou_id === null && scope.kind !== 'all')) throw notFound('webhook');
    await this.ctx.db.deleteFrom('webhooks').where('id', '=', id).execute();
    await audit(this.ctx.db, actor, {
      action: 'webhook.delete',
      targetType: 'webhook',
      targetId: id,
      ouPath: null,
      before: row,
    });
  }

  /** Sends due deliveries (claimed with SKIP LOCKED, so replicas never send one twice). */
  async sendDue(limit = 20): Promise<number> {
    return this.ctx.db.transaction().execute(async (tx) => {
      const due = await sql<Delivery>`SELECT d.id, d.attempts, w.url, w.format, w.secret,
          jsonb_build_object('id', e.id, 'device_id', e.device_id, 'hostname', dv.hostname, 'ou_id', e.ou_id, 'kind', e.kind,
            'target', e.target, 'metric', e.metric, 'from', e.from_state, 'to', e.to_state, 'value', e.value,
            'threshold', e.threshold, 'at', e.at) AS event
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN alert_events e ON e.id = d.event_id
        LEFT JOIN devices dv ON dv.id = e.device_id
        WHERE d.status = 'pending' AND d.next_at <= now()
        ORDER BY d.next_at LIMIT ${limit} FOR UPDATE OF d SKIP LOCKED`.execute(tx);
      for (const d of due.rows) {
        const err = await this.post(d).then(
          () => null,
          (e: Error) => e.message,
        );
        await markDelivery(tx, d, err);
      }
      return due.rows.length;
    });
  }

  private post(d: Delivery): Promise<void> {
    const url = assertOutboundUrl(d.url, this.guard);
    const e = d.event;
    const body = JSON.stringify(
      d.format === 'slack'
        ? {
            text: `[${String(e.to).toUpperCase()}] ${e.hostname ?? `device ${e.device_id}`} ${e.kind} ${e.target}: ${e.metric} ${e.value ?? ''} (was ${e.from})`,
          }
        : { type: 'alert.changed', event: e },
    );
    const ts = Math.floor(Date.now() / 1000);
    const sig = createHmac('sha256', open(this.key, d.secret)).update(`${ts}.${body}`).digest('hex');
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'POST',
          timeout: 5000,
          lookup: guardedLookup(this.guard) as never,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'rookery-webhook/1',
            'x-rookery-signature': `t=${ts},v1=${sig}`,
            'x-rookery-delivery': d.id,
          },
        },
        (res) => {
          res.resume();
          // redirects are never followed: a 3xx is a failed delivery
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve();
          else reject(new Error(`HTTP ${code}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

async function markDelivery(db: Db, d: Delivery, err: string | null): Promise<void> {
  const attempts = d.attempts + 1;
  if (err === null) {
    await sql`UPDATE webhook_deliveries SET status = 'delivered', attempts = ${attempts}, delivered_at = now(), last_error = NULL WHERE id = ${d.id}`.execute(
      db,
    );
  } else if (attempts >= MAX_ATTEMPTS) {
    await sql`UPDATE webhook_deliveries SET status = 'failed', attempts = ${attempts}, last_error = ${err} WHERE id = ${d.id}`.execute(
      db,
    );
  } else {
    const wait = 5 * 2 ** (attempts - 1);
    await sql`UPDATE webhook_deliveries SET attempts = ${attempts}, last_error = ${err}, next_at = now() + make_interval(secs => ${wait}) WHERE id = ${d.id}`.execute(
      db,
    );
  }
}
