// SQL for devices: enrollment upsert, credential lookup, status, listing within scope.
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { escapeLike, inScope } from './scope.js';

export interface DeviceRow {
  id: string;
  ou_id: string;
  ou_path: string;
  serial: string;
  hostname: string;
  os: string;
  os_version: string;
  client_type: string;
  client_version: string;
  labels: string[];
  status: string;
  last_seen_at: Date;
  agent_state: string | null;
  config_version: number | null;
  spool_backlog: number | null;
  config_epoch: string;
  enrolled_at: Date;
  updated_at: Date;
}

function base(db: Db) {
  return db
    .selectFrom('devices')
    .innerJoin('ous', 'ous.id', 'devices.ou_id')
    .select([
      'devices.id',
      'devices.ou_id',
      'ous.path as ou_path',
      'devices.serial',
      'devices.hostname',
      'devices.os',
      'devices.os_version',
      'devices.client_type',
      'devices.client_version',
      'devices.labels',
      'devices.status',
      'devices.last_seen_at',
      'devices.agent_state',
      'devices.config_version',
      'devices.spool_backlog',
      'devices.config_epoch',
      'devices.enrolled_at',
      'devices.updated_at',
    ]);
}

export interface EnrollValues {
  ou_id: string;
  serial: string;
  hostname: string;
  os: string;
  os_version: string;
  client_type: string;
  client_version: string;
  credential_hash: string;
  enrolled_secret_id: string;
}

/**
 * Creates the device, or for a serial seen before keeps its id and replaces credential, facts and
 * OU (the OU always comes from the secret). Returns the id.
 */
export async function upsertEnrolledDevice(db: Db, v: EnrollValues): Promise<string> {
  const r = await db
    .insertInto('devices')
    .values(v)
    .onConflict((oc) =>
      oc.column('serial').doUpdateSet((eb) => ({
        ou_id: eb.ref('excluded.ou_id'),
        hostname: eb.ref('excluded.hostname'),
        os: eb.ref('excluded.os'),
        os_version: eb.ref('excluded.os_version'),
        client_type: eb.ref('excluded.client_type'),
        client_version: eb.ref('excluded.client_version'),
        credential_hash: eb.ref('excluded.credential_hash'),
        enrolled_secret_id: eb.ref('excluded.enrolled_secret_id'),
        credential_issued_at: sql`now()`,
        config_epoch: sql`CASE WHEN devices.ou_id <> excluded.ou_id THEN nextval('config_epoch') ELSE devices.config_epoch END`,
        status: 'online',
        last_seen_at: sql`now()`,
        updated_at: sql`now()`,
      })),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return r.id;
}

export function findDeviceBySerial(db: Db, serial: string): Promise<{ id: string; ou_id: string } | undefined> {
  return db.selectFrom('devices').select(['id', 'ou_id']).where('serial', '=', serial).executeTakeFirst();
}

/** Devices in an OU excluding one serial (for the per-OU cap). */
export async function countDevicesInOu(db: Db, ouId: string, exceptSerial?: string): Promise<number> {
  let q = db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('ou_id', '=', ouId);
  if (exceptSerial) q = q.where('serial', '<>', exceptSerial);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** The device holding this credential (unscoped: the credential is the authority). */
export function findDeviceByCredential(db: Db, credentialHash: string): Promise<DeviceRow | undefined> {
  return base(db).where('devices.credential_hash', '=', credentialHash).executeTakeFirst();
}

export function findDevice(db: Db, scope: Scope, id: string): Promise<DeviceRow | undefined> {
  return base(db)
    .where('devices.id', '=', id)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .executeTakeFirst();
}

export interface ListDevicesOptions {
  afterId?: string;
  limit: number;
  ouId?: string;
  /** include devices of descendant OUs of ouId. @default true */
  recursive?: boolean;
  status?: string;
  label?: string;
  q?: string;
}

export function listDevices(db: Db, scope: Scope, o: ListDevicesOptions): Promise<DeviceRow[]> {
  return listDevicesQuery(db, scope, o).execute();
}

/** The statement behind `listDevices`, unexecuted: benchmarks compile it as the manager runs it. */
export function listDevicesQuery(db: Db, scope: Scope, o: ListDevicesOptions) {
  let q = base(db)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('devices.id')
    .limit(o.limit + 1);
  if (o.afterId) q = q.where('devices.id', '>', o.afterId);
  if (o.ouId) {
    const ouId = o.ouId;
    q =
      o.recursive === false
        ? q.where('devices.ou_id', '=', ouId)
        : q.where('ous.path', 'like', sql<string>`(SELECT path FROM ous WHERE id = ${ouId}) || '%'`);
  }
  if (o.status) q = q.where('devices.status', '=', o.status);
  if (o.label) q = q.where(sql<boolean>`devices.labels @> ARRAY[${o.label}]::text[]`);
  if (o.q) {
    const like = `%${escapeLike(o.q)}%`;
    q = q.where((eb) => eb.or([eb('devices.hostname', 'ilike', like), eb('devices.serial', 'ilike', like)]));
  }
  return q;
}

/** Records a heartbeat (or any authenticated agent call): online, last seen now, reported state. */
export async function touchDevice(
  db: Db,
  id: string,
  v: { agent_state?: string; config_version?: number; spool_backlog?: number } = {},
): Promise<void> {
  await db
    .updateTable('devices')
    .set({
      status: 'online',
      last_seen_at: sql`now()` as never,
      ...(v.agent_state !== undefined ? { agent_state: v.agent_state } : {}),
      ...(v.config_version !== undefined ? { config_version: v.config_version } : {}),
      ...(v.spool_backlog !== undefined ? { spool_backlog: v.spool_backlog } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** Marks devices offline whose last contact is older than `seconds`; returns their ids. */
export async function markOffline(db: Db, seconds: number): Promise<string[]> {
  const rows = await db
    .updateTable('devices')
    .set({ status: 'offline' })
    .where('status', '=', 'online')
    .where('last_seen_at', '<', sql<Date>`now() - make_interval(secs => ${seconds})`)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function updateDevice(
  db: Db,
  id: string,
  v: { ou_id?: string; labels?: string[]; hostname?: string },
): Promise<void> {
  await db
    .updateTable('devices')
    .set({
      ...v,
      ...(v.ou_id !== undefined ? { config_epoch: sql`nextval('config_epoch')` as never } : {}),
      updated_at: sql`now()` as never,
    })
    .where('id', '=', id)
    .execute();
}

export async function deleteDevice(db: Db, id: string): Promise<void> {
  await db.deleteFrom('devices').where('id', '=', id).execute();
}
