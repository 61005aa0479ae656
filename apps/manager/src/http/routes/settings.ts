// /api/v1/settings/fleet: config check-in window and offline threshold.
import { Type } from '@sinclair/typebox';
import { forbidden } from '../../domain/errors.js';
import { audit } from '../../services/audit.js';
import { loadFleetSettings, saveFleetSettings } from '../../services/fleet-settings.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses } from '../schemas/common.js';

const Seconds = (min: number, max: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, description });
const FleetSettings = Type.Object({
  client_checkin_min_seconds: Seconds(10, 604_800, 'lower bound of the config check-in draw'),
  client_checkin_max_seconds: Seconds(10, 604_800, 'upper bound of the config check-in draw'),
  offline_after_seconds: Seconds(10, 604_800, 'silence after which a device is offline'),
});

export function settingsRoutes(app: App, d: Deps): void {
  app.get(
    '/api/v1/settings/fleet',
    {
      schema: {
        tags: ['settings'],
        summary: 'Fleet-wide settings',
        response: { 200: FleetSettings, ...errorResponses },
      },
    },
    async (req) => {
      if (req.principal.role === 'user') throw forbidden();
      return loadFleetSettings(d.ctx.db);
    },
  );
  app.patch(
    '/api/v1/settings/fleet',
    {
      schema: {
        tags: ['settings'],
        summary: 'Change fleet-wide settings (global_admin)',
        body: Type.Partial(FleetSettings, { additionalProperties: false, minProperties: 1 }),
        response: { 200: FleetSettings, ...errorResponses },
      },
    },
    async (req) => {
      if (req.principal.role !== 'global_admin') throw forbidden('only a global_admin changes fleet settings');
      const before = await loadFleetSettings(d.ctx.db);
      const after = await saveFleetSettings(d.ctx.db, req.body);
      await audit(d.ctx.db, actorOf(req), {
        action: 'settings.update',
        targetType: 'settings',
        targetId: 'fleet',
        ouPath: null,
        before,
        after,
      });
      return after;
    },
  );
}
