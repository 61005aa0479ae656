// Wires the services over one database context.
import type { Deps, Health } from '../http/deps.js';
import { AgentGateway, type ConfigChange } from '../ws/agent-gateway.js';
import { LiveFeed, type LiveMessage } from '../ws/live-feed.js';
import { FleetSummaryService } from './fleet-summary.js';
import { liveMessagesOf } from './live.js';
import { ApiKeyService } from './api-keys.js';
import { AuthService } from './auth.js';
import { type Broadcast, ConfigService } from './config.js';
import type { ServiceContext } from './context.js';
import { DeviceService } from './devices.js';
import { type EnrollmentLimits, EnrollmentService } from './enrollment.js';
import { OuService } from './ous.js';
import type { IngestQueueOptions } from './ingest-queue.js';
import { type ExportLimits, type IngestLimits, ResultService } from './results.js';
import { AlertService } from './alerts.js';
import { WebhookService } from './webhooks.js';
import { UserService } from './users.js';

export interface ServiceOptions {
  /** sends config changes to every replica; default: straight to this replica's gateway */
  broadcast?: (gateway: AgentGateway) => Broadcast;
  enrollmentLimits?: EnrollmentLimits;
  ingestLimits?: IngestLimits;
  /** raw result exports; each missing field from DEFAULT_EXPORT_LIMITS */
  exportLimits?: Partial<ExportLimits>;
  /** group commit of uploads; @default DEFAULT_INGEST_QUEUE */
  ingestQueue?: IngestQueueOptions;
  /** hosts/addresses outbound calls (webhooks) may reach despite the guard */
  outboundAllow?: string[];
  /** how long a replica uses the fleet summary's per-OU counts, ms; @default 5000 */
  fleetSummaryMaxAgeMs?: number;
  /** sends live messages to every replica's viewers; default: this replica's only */
  publishLive?: (live: LiveFeed) => LivePublisher;
}

export interface LivePublisher {
  publish(m: LiveMessage): Promise<void>;
  /** whether anyone may want live messages now (uploads make none otherwise) */
  watched(): boolean;
}

export function createServices(ctx: ServiceContext, health: Health, o: ServiceOptions = {}): Deps {
  const gateway = new AgentGateway();
  // the broadcast needs services that need the config service it is given to
  const late: { alerts?: AlertService; enrollment?: EnrollmentService; config?: ConfigService } = {};
  /** every cache change messages keep current: for an OU move, and when messages may have been missed */
  const dropAll = () => {
    late.config?.invalidateLayers();
    late.alerts?.invalidate();
    late.enrollment?.forgetAll();
  };
  /** what a change means for this replica's caches (applied at once here, and again from NOTIFY) */
  const invalidate = (c: ConfigChange) => {
    // cached devices of a moved subtree hold its old path and config epoch; OU moves are rare
    if (c.scope === 'ou' && c.moved_from) return dropAll();
    if (c.scope !== 'revoke') late.config?.invalidateLayers();
    late.alerts?.invalidate();
    if (c.scope === 'revoke' || (c.scope === 'device' && c.ou_path)) late.enrollment?.forgetDevice(c.device_id);
  };
  const remote = o.broadcast?.(gateway);
  const broadcast: Broadcast = async (c: ConfigChange) => {
    invalidate(c);
    if (remote) await remote(c);
    else gateway.handle(c);
  };
  const ous = new OuService(ctx, broadcast);
  const config = new ConfigService(ctx, broadcast);
  late.config = config;
  const alerts = new AlertService(config);
  const live = new LiveFeed();
  const pub: LivePublisher = o.publishLive?.(live) ?? {
    publish: async (m) => live.deliver(m),
    watched: () => live.size > 0,
  };
  late.alerts = alerts;
  const enrollment = new EnrollmentService(ctx, ous, config, o.enrollmentLimits);
  late.enrollment = enrollment;
  return {
    ctx,
    auth: new AuthService(ctx),
    users: new UserService(ctx),
    ous,
    apiKeys: new ApiKeyService(ctx),
    config,
    results: new ResultService(
      ctx,
      o.ingestLimits,
      alerts,
      (device, stored, events) => {
        if (!pub.watched()) return;
        for (const m of liveMessagesOf(device, stored, events)) void pub.publish(m).catch(() => undefined);
      },
      o.ingestQueue,
      o.exportLimits,
    ),
    live,
    fleet: FleetSummaryService.forDb(ctx.db, o.fleetSummaryMaxAgeMs),
    alerts,
    webhooks: new WebhookService(ctx, { allow: o.outboundAllow ?? [] }),
    enrollment,
    applyChange: (c: ConfigChange) => {
      invalidate(c);
      gateway.handle(c);
    },
    /** change messages may have been missed (the listening connection was lost): drop what they keep current */
    resync: dropAll,
    devices: new DeviceService(ctx, broadcast),
    gateway,
    health,
  };
}
