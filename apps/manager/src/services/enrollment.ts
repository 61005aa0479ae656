// Enrollment secrets, device enrollment and the agent-facing API (credential, config, heartbeat).
import {
  buildAgentConfig,
  type ConfigResponse,
  drawCheckin,
  type EnrollRequest,
  DEVICE_CREDENTIAL_PREFIX,
} from '@rookery/protocol';
import {
  countDevicesInOu,
  type DeviceRow,
  findDeviceByCredential,
  upsertEnrolledDevice,
} from '../db/queries/devices.js';
import {
  insertSecret,
  listSecrets,
  findSecret,
  revokeSecret,
  type SecretRow,
  spendSecret,
} from '../db/queries/enrollment-secrets.js';
import { findOuUnscoped } from '../db/queries/ous.js';
import { sql } from 'kysely';
import { AppError, expiryOf, notFound, unauthorized } from '../domain/errors.js';
import { decodeCursor, type Page, toPage } from '../domain/pagination.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import { audit } from './audit.js';
import type { ConfigService } from './config.js';
import type { Actor, ServiceContext } from './context.js';
import { randomToken, sha256 } from './crypto.js';
import { type FleetSettings, loadFleetSettings } from './fleet-settings.js';
import { Recent } from './recent.js';
import { type OuService, writeScope } from './ous.js';
import { credentialTag } from '../ws/agent-gateway.js';
import { RateLimiter } from './rate-limit.js';
import { HeartbeatBuffer, type HeartbeatFields } from './heartbeats.js';

export interface EnrollmentLimits {
  /** enrollment attempts per IP per minute. @default 120 */
  perIpPerMinute: number;
  /** enrollment attempts per secret per minute. @default 1200 */
  perSecretPerMinute: number;
}

export const DEFAULT_ENROLLMENT_LIMITS: EnrollmentLimits = { perIpPerMinute: 120, perSecretPerMinute: 1200 };

const SECRET_PREFIX = 'rke_';

export class EnrollmentService {
  private readonly perIp: RateLimiter;
  private readonly credentials = new Map<string, { device: DeviceRow; at: number }>();
  private readonly settings: Recent<FleetSettings>;
  /**
   * How long a resolved credential is trusted without a change message. Deleting, re-enrolling or moving
   * a device clears its entries on every replica at once (broadcast), and all entries go when the
   * replica's listening connection was lost (`forgetAll`); this only bounds a stale entry otherwise. At
   * 5 s (until 2026-12-06) agents that call every 10–60 s missed the cache on nearly every request.
   */
  credentialCacheMs = 60_000;
  private readonly perSecret: RateLimiter;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly ous: OuService,
    private readonly config: ConfigService,
    limits: EnrollmentLimits = DEFAULT_ENROLLMENT_LIMITS,
    /** coalesces heartbeats into periodic batch updates */
    readonly heartbeats: HeartbeatBuffer = new HeartbeatBuffer(ctx.db),
  ) {
    this.settings = new Recent(5000, () => loadFleetSettings(ctx.db));
    this.perIp = new RateLimiter(limits.perIpPerMinute, 60_000);
    this.perSecret = new RateLimiter(limits.perSecretPerMinute, 60_000);
  }

  /** Creates a secret for an OU the caller administers; the secret is returned only here. */
  async createSecret(
    p: Principal,
    v: { ou_id: string; name: string; expires_at?: string; max_uses?: number },
    actor: Actor,
  ): Promise<{ row: SecretRow; secret: string }> {
    const ou = await this.ous.requireWritable(p, v.ou_id);
    const expires = v.expires_at ? expiryOf(v.expires_at, 'expires_at') : null;
    const secret = randomToken(SECRET_PREFIX, 32);
    const row = await insertSecret(this.ctx.db, {
      ou_id: ou.id,
      name: v.name,
      secret_hash: sha256(secret),
      prefix: secret.slice(0, 10),
      created_by: p.userId,
      expires_at: expires,
      max_uses: v.max_uses ?? null,
    });
    await audit(this.ctx.db, actor, {
      action: 'enrollment_secret.create',
      targetType: 'enrollment_secret',
      targetId: row.id,
      ouPath: ou.path,
      after: row,
    });
    return { row, secret };
  }

  async listSecrets(p: Principal, q: { ou_id?: string; limit: number; cursor?: string }): Promise<Page<SecretRow>> {
    const rows = await listSecrets(this.ctx.db, scopeOf(p), {
      ouId: q.ou_id,
      limit: q.limit,
      afterId: decodeCursor(q.cursor),
    });
    return toPage(rows, q.limit);
  }

  async revokeSecret(p: Principal, id: string, actor: Actor): Promise<void> {
    const s = await findSecret(this.ctx.db, writeScope(p), id);
    if (!s) throw notFound('enrollment secret');
    await revokeSecret(this.ctx.db, id);
    await audit(this.ctx.db, actor, {
      action: 'enrollment_secret.revoke',
      targetType: 'enrollment_secret',
      targetId: id,
      ouPath: s.ou_path,
      before: s,
    });
  }

  /**
   * Enrolls a device: spends a use of the secret, takes the OU from the secret (never the body),
   * keeps the device id of a known serial and issues a new credential (the old one stops working).
   * @throws AppError 401 invalid secret, 409 device_cap_reached, 429 rate limited
   */
  async enroll(body: EnrollRequest, ip: string): Promise<{ ou_id: string; device_id: string; credential: string }> {
    this.perIp.hit(ip);
    const secretHash = sha256(body.secret);
    this.perSecret.hit(secretHash);
    const credential = randomToken(DEVICE_CREDENTIAL_PREFIX, 32);
    const result = await this.ctx.db.transaction().execute(async (tx) => {
      const secret = await spendSecret(tx, secretHash);
      if (!secret)
        throw new AppError(
          401,
          'invalid_enrollment_secret',
          'enrollment secret is unknown, expired, revoked or used up',
        );
      // serialise enrollments into one OU so that the cap holds under concurrency
      const ou = await sql<{
        device_cap: number | null;
      }>`SELECT device_cap FROM ous WHERE id = ${secret.ou_id} FOR UPDATE`.execute(tx);
      const cap = ou.rows[0]?.device_cap;
      if (cap !== null && cap !== undefined && (await countDevicesInOu(tx, secret.ou_id, body.device_serial)) >= cap) {
        throw new AppError(409, 'device_cap_reached', `the OU holds its maximum of ${cap} devices`, {
          device_cap: cap,
        });
      }
      const deviceId = await upsertEnrolledDevice(tx, {
        ou_id: secret.ou_id,
        serial: body.device_serial,
        hostname: body.device_hostname,
        os: body.device_os,
        os_version: body.device_os_version,
        client_type: body.client_type,
        client_version: body.client_version,
        credential_hash: sha256(credential),
        enrolled_secret_id: secret.id,
      });
      const ouRow = await findOuUnscoped(tx, secret.ou_id);
      await audit(
        tx,
        { id: null, name: `device:${body.device_serial}`, requestId: null },
        {
          action: 'device.enroll',
          targetType: 'device',
          targetId: deviceId,
          ouPath: ouRow?.path ?? null,
          after: {
            serial: body.device_serial,
            hostname: body.device_hostname,
            ou_id: secret.ou_id,
            secret_id: secret.id,
          },
        },
      );
      return { ou_id: secret.ou_id, device_id: deviceId };
    });
    // a re-enrolled device's open streams carry the old credential: close them
    await this.config.broadcast({
      scope: 'revoke',
      device_id: result.device_id,
      keep: credentialTag(sha256(credential)),
    });
    return { ...result, credential };
  }

  /**
   * Resolves a device credential, from a per-replica cache of at most `credentialCacheMs` (60 s).
   * Deleting, re-enrolling or moving a device clears its entries on every replica (the change is
   * broadcast), so a revoked credential is refused on its next call.
   * @throws AppError 401 when unknown or revoked
   */
  async authenticateDevice(bearer: string | undefined): Promise<DeviceRow> {
    if (!bearer?.startsWith(DEVICE_CREDENTIAL_PREFIX)) throw unauthorized('device credential required');
    const hash = sha256(bearer);
    const hit = this.credentials.get(hash);
    if (hit && Date.now() - hit.at < this.credentialCacheMs) return hit.device;
    const device = await findDeviceByCredential(this.ctx.db, hash);
    if (!device) {
      this.credentials.delete(hash);
      throw unauthorized('device credential unknown or revoked');
    }
    if (this.credentials.size >= 200_000) this.credentials.clear();
    this.credentials.set(hash, { device, at: Date.now() });
    return device;
  }

  /** Drops every cached credential (change messages may have been missed). */
  forgetAll(): void {
    this.credentials.clear();
  }

  /** Drops cached credentials of a device (deleted, re-enrolled or moved). */
  forgetDevice(deviceId: string): void {
    for (const [hash, v] of this.credentials) if (v.device.id === deviceId) this.credentials.delete(hash);
  }

  /**
   * Fleet settings for check-ins, read at most every 5 s per replica (a change made on another replica
   * reaches this one's check-ins within that time).
   */
  private fleetSettings(): Promise<FleetSettings> {
    return this.settings.get();
  }

  /** The config check-in of an authenticated device; the serial must be its own. */
  async checkIn(device: DeviceRow, serial: string): Promise<ConfigResponse> {
    if (serial !== device.serial) throw notFound('device');
    const [effective, settings] = await Promise.all([this.config.effectiveFor(device), this.fleetSettings()]);
    // a check-in is contact: coalesced like heartbeats
    this.heartbeats.add(device.id, {});
    const next = drawCheckin(settings.client_checkin_min_seconds, settings.client_checkin_max_seconds);
    const now = Date.now();
    return {
      config: buildAgentConfig(effective.values, now),
      config_name: effective.name,
      ou_id: Number(device.ou_id),
      next_checkin_seconds: next,
      next_checkin_at: now / 1000 + next,
      config_version: effective.version,
      provenance: effective.provenance,
    };
  }

  /**
   * The HTTP heartbeat: the device id in the path must be the caller's own.
   * @throws AppError 404 when it is another device's id
   */
  async heartbeat(device: DeviceRow, deviceId: number, body: HeartbeatFields): Promise<void> {
    if (String(deviceId) !== device.id) throw notFound('device');
    this.recordHeartbeat(device, body);
  }

  /**
   * Records a heartbeat of an authenticated device (HTTP or stream) into the coalescing buffer; the
   * next flush writes it. A device deleted meanwhile is not recreated (the flush only updates rows).
   */
  recordHeartbeat(device: Pick<DeviceRow, 'id'>, f: HeartbeatFields): void {
    this.heartbeats.add(device.id, {
      agent_state: f.agent_state,
      config_version: f.config_version,
      spool_backlog: f.spool_backlog,
    });
  }
}
