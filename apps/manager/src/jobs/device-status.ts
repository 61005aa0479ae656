// Job: devices silent for longer than the offline threshold become offline.
import type { Db } from '../db/database.js';
import { markOffline } from '../db/queries/devices.js';
import { loadFleetSettings } from '../services/fleet-settings.js';
import type { Job } from './leader.js';

export function deviceStatusJob(db: Db, everyMs = 5000, onOffline: (ids: string[]) => void = () => {}): Job {
  return {
    name: 'device-offline',
    everyMs,
    async run() {
      const { offline_after_seconds } = await loadFleetSettings(db);
      const ids = await markOffline(db, offline_after_seconds);
      if (ids.length) onOffline(ids);
    },
  };
}
