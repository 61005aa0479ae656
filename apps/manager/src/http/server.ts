// Assembles the manager's HTTP app from its services: every route module in one place.
import { agentPath } from './agent-path.js';
import type { App } from './app.js';
import { appBase, createApp, DEFAULT_BODY_LIMIT, requestId, type AppOptions } from './app.js';
import type { Deps } from './deps.js';
import { ApiKeyOut, apiKeyRoutes } from './routes/api-keys.js';
import { AuditOut, auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { OuOut, ouRoutes } from './routes/ous.js';
import { UserOut, userRoutes } from './routes/users.js';
import { agentStreamRoutes } from './routes/agent-stream.js';
import { configRoutes, LayerOut } from './routes/config.js';
import { DeviceOut, deviceRoutes } from './routes/devices.js';
import { enrollmentRoutes, SecretOut } from './routes/enrollment.js';
import { settingsRoutes } from './routes/settings.js';
import { resultRoutes } from './routes/results.js';
import { alertRoutes } from './routes/alerts.js';
import { liveRoutes } from './routes/live.js';
import { fleetRoutes } from './routes/fleet.js';

export async function buildServer(deps: Deps, options: Omit<AppOptions, 'auth'> = {}): Promise<App> {
  const app = await createApp({ ...options, auth: deps.auth });
  for (const schema of [UserOut, OuOut, ApiKeyOut, AuditOut, DeviceOut, SecretOut, LayerOut]) app.addSchema(schema);
  healthRoutes(app, deps);
  const metrics = metricsRoutes(app, deps);
  authRoutes(app, deps);
  userRoutes(app, deps);
  ouRoutes(app, deps);
  apiKeyRoutes(app, deps);
  auditRoutes(app, deps);
  enrollmentRoutes(app, deps);
  deviceRoutes(app, deps);
  configRoutes(app, deps);
  settingsRoutes(app, deps);
  resultRoutes(app, deps);
  alertRoutes(app, deps);
  fleetRoutes(app, deps);
  await agentStreamRoutes(app, deps);
  liveRoutes(app, deps);
  await app.ready();
  const base = appBase(app);
  base.first = agentPath({
    deps,
    log: options.logger,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    parseJson: app.getDefaultJsonParser('error', 'error') as never,
    compileBody: base.compileBody,
    requestId,
    observe: metrics.observeAgentPath,
    countUpload: metrics.countUpload,
    closing: () => base.closing,
  });
  return app;
}
