// Devices: list/detail within scope, move to another OU, labels, delete (revokes at once).
import { sql } from 'kysely';
import {
  countDevicesInOu,
  deleteDevice,
  type DeviceRow,
  findDevice,
  listDevices,
  updateDevice,
} from '../db/queries/devices.js';
import { deleteLayer } from '../db/queries/config-layers.js';
import { findOu } from '../db/queries/ous.js';
import { AppError, notFound } from '../domain/errors.js';
import { decodeCursor, type Page, toPage } from '../domain/pagination.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import { audit } from './audit.js';
import type { Broadcast } from './config.js';
import type { Actor, ServiceContext } from './context.js';
import { writeScope } from './ous.js';

export interface DeviceQuery {
  limit: number;
  cursor?: string;
  ou_id?: string;
  recursive?: boolean;
  status?: string;
  label?: string;
  q?: string;
}

export class DeviceService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly broadcast: Broadcast = async () => {},
  ) {}

  async list(p: Principal, q: DeviceQuery): Promise<Page<DeviceRow>> {
    const rows = await listDevices(this.ctx.db, scopeOf(p), {
      limit: q.limit,
      afterId: decodeCursor(q.cursor),
      ouId: q.ou_id,
      recursive: q.recursive,
      status: q.status,
      label: q.label,
      q: q.q,
    });
    return toPage(rows, q.limit);
  }

  async get(p: Principal, id: string): Promise<DeviceRow> {
    const d = await findDevice(this.ctx.db, scopeOf(p), id);
    if (!d) throw notFound('device');
    return d;
  }

  /** Moves (within the caller's subtree, honouring the target's cap) and/or relabels a device. */
  async update(p: Principal, id: string, v: { ou_id?: string; labels?: string[] }, actor: Actor): Promise<DeviceRow> {
    const scope = writeScope(p);
    const moved = await this.ctx.db.transaction().execute(async (tx) => {
      const before = await findDevice(tx, scope, id);
      if (!before) throw notFound('device');
      let target = before.ou_path;
      if (v.ou_id !== undefined && v.ou_id !== before.ou_id) {
        const ou = await findOu(tx, scope, v.ou_id);
        if (!ou) throw notFound('OU');
        await sql`SELECT 1 FROM ous WHERE id = ${ou.id} FOR UPDATE`.execute(tx);
        if (ou.device_cap !== null && (await countDevicesInOu(tx, ou.id)) >= ou.device_cap) {
          throw new AppError(409, 'device_cap_reached', `the OU holds its maximum of ${ou.device_cap} devices`, {
            device_cap: ou.device_cap,
          });
        }
        target = ou.path;
      }
      await updateDevice(tx, id, { ou_id: v.ou_id, labels: v.labels ? [...new Set(v.labels)] : undefined });
      const after = (await findDevice(tx, scope, id)) ?? before;
      await audit(tx, actor, {
        action: 'device.update',
        targetType: 'device',
        targetId: id,
        ouPath: target,
        before,
        after,
      });
      return { after, movedTo: target !== before.ou_path ? target : null };
    });
    if (moved.movedTo) {
      await this.broadcast({
        scope: 'device',
        device_id: id,
        version: Number(moved.after.config_epoch),
        ou_path: moved.movedTo,
      });
    }
    return moved.after;
  }

  /** Deletes the device: its credential stops working on the next call and its stream is closed. */
  async remove(p: Principal, id: string, actor: Actor): Promise<void> {
    const scope = writeScope(p);
    const d = await findDevice(this.ctx.db, scope, id);
    if (!d) throw notFound('device');
    await this.ctx.db.transaction().execute(async (tx) => {
      await deleteLayer(tx, { type: 'device', id });
      await deleteDevice(tx, id);
      await audit(tx, actor, {
        action: 'device.delete',
        targetType: 'device',
        targetId: id,
        ouPath: d.ou_path,
        before: d,
      });
    });
    await this.broadcast({ scope: 'revoke', device_id: id });
  }
}
