// Fleet-wide settings: config check-in window and the offline threshold.
import { readSettings, writeSettings } from '../db/queries/settings.js';
import type { Db } from '../db/database.js';
import { badRequest } from '../domain/errors.js';

export interface FleetSettings {
  /** seconds, lower bound of the config check-in draw. @default 1800 */
  client_checkin_min_seconds: number;
  /** seconds, upper bound of the config check-in draw. @default 3600 */
  client_checkin_max_seconds: number;
  /** seconds without contact after which a device is offline. @default 180 */
  offline_after_seconds: number;
}

export const DEFAULT_FLEET_SETTINGS: FleetSettings = {
  client_checkin_min_seconds: 1800,
  client_checkin_max_seconds: 3600,
  offline_after_seconds: 180,
};

export async function loadFleetSettings(db: Db): Promise<FleetSettings> {
  const raw = await readSettings(db);
  const out = { ...DEFAULT_FLEET_SETTINGS };
  for (const k of Object.keys(out) as (keyof FleetSettings)[]) {
    const v = Number(raw[k]);
    if (Number.isFinite(v) && v > 0) out[k] = v;
  }
  return out;
}

/** Validates and stores a partial update. @throws AppError 400 when min > max */
export async function saveFleetSettings(db: Db, patch: Partial<FleetSettings>): Promise<FleetSettings> {
  const next = { ...(await loadFleetSettings(db)), ...patch };
  if (next.client_checkin_min_seconds > next.client_checkin_max_seconds) {
    throw badRequest('client_checkin_min_seconds must not exceed client_checkin_max_seconds');
  }
  await writeSettings(db, patch);
  return next;
}
