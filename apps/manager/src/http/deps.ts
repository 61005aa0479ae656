// The services routes use, assembled in main.ts (or a test).
import type { FastifyRequest } from 'fastify';
import type { ApiKeyService } from '../services/api-keys.js';
import type { AuthService } from '../services/auth.js';
import type { Actor, ServiceContext } from '../services/context.js';
import type { ConfigService } from '../services/config.js';
import type { DeviceService } from '../services/devices.js';
import type { EnrollmentService } from '../services/enrollment.js';
import type { OuService } from '../services/ous.js';
import type { ResultService } from '../services/results.js';
import type { AlertService } from '../services/alerts.js';
import type { WebhookService } from '../services/webhooks.js';
import type { AgentGateway, ConfigChange } from '../ws/agent-gateway.js';
import type { LiveFeed } from '../ws/live-feed.js';
import type { FleetSummaryService } from '../services/fleet-summary.js';
import type { UserService } from '../services/users.js';

export interface Health {
  /** resolves to true when the database answers */
  database(): Promise<boolean>;
  /** background jobs and whether this replica leads them */
  jobs(): Record<string, unknown>;
}

export interface Deps {
  ctx: ServiceContext;
  auth: AuthService;
  users: UserService;
  ous: OuService;
  apiKeys: ApiKeyService;
  enrollment: EnrollmentService;
  devices: DeviceService;
  config: ConfigService;
  results: ResultService;
  alerts: AlertService;
  webhooks: WebhookService;
  /** agent sockets connected to this replica */
  gateway: AgentGateway;
  /** applies a change broadcast by any replica to this one (caches, agent sockets) */
  applyChange(change: ConfigChange): void;
  /** drops the caches change messages keep current (the listening connection was lost and is back) */
  resync(): void;
  /** console viewers connected to this replica */
  live: LiveFeed;
  fleet: FleetSummaryService;
  health: Health;
}

export const actorOf = (req: FastifyRequest): Actor => ({
  id: req.principal?.userId ?? null,
  name: req.principal?.username ?? 'anonymous',
  requestId: req.id,
});
