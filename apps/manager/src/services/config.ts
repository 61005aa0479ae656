// Configuration layers (global → OU chain → device): read, validate, save with locks, effective view, nudges.
import {
  type ConfigKey,
  type ConfigLayer,
  type ConfigLayerDoc,
  type ConfigError as LayerError,
  type MergeResult,
  mergeLayers,
  validateLayer,
} from '@rookery/protocol';
import { findDevice, type DeviceRow } from '../db/queries/devices.js';
import {
  devicesWithLayers,
  findLayer,
  layerHistory,
  layersForChain,
  type HistoryRow,
  type LayerRow,
  type LayerScope,
  upsertLayer,
} from '../db/queries/config-layers.js';
import { findOu } from '../db/queries/ous.js';
import { AppError, forbidden, notFound } from '../domain/errors.js';
import { decodeCursor, type Page, toPage } from '../domain/pagination.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import type { ConfigChange } from '../ws/agent-gateway.js';
import { audit } from './audit.js';
import type { Actor, ServiceContext } from './context.js';
import { writeScope } from './ous.js';
import { Recent } from './recent.js';

/** Freezes `v` and everything reachable from it; returns it. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export interface Effective extends MergeResult {
  /** name of the most specific layer that exists, "Default" when none */
  name: string;
  /** increases whenever any layer of the chain changes or the device moves */
  version: number;
  layers: { id: string; name: string; version: number }[];
}

export interface LayerInput {
  name?: string;
  doc: unknown;
  locked?: unknown;
}

/** Sends a change to every replica (set by the composition root; a no-op in unit tests). */
export type Broadcast = (change: ConfigChange) => Promise<void>;

const layerId = (r: Pick<LayerRow, 'scope_type' | 'scope_id'>) =>
  r.scope_type === 'global' ? 'global' : `${r.scope_type}:${r.scope_id}`;

/** How long this replica trusts its copy of the layers without a change message (a missed NOTIFY). */
const LAYER_CACHE_MS = 5000;

export class ConfigService {
  /** merges by chain identity (layers and versions, device epoch) */
  private readonly merged = new Map<string, Effective>();
  /** global + OU layers per OU path, and which devices have a layer of their own (see `layersOf`) */
  private readonly chains = new Map<string, Recent<LayerRow[]>>();
  private readonly withOwnLayer: Recent<Set<string>>;

  constructor(
    private readonly ctx: ServiceContext,
    readonly broadcast: Broadcast = async () => {},
  ) {
    this.withOwnLayer = new Recent(LAYER_CACHE_MS, () => devicesWithLayers(ctx.db));
  }

  /**
   * Forgets the cached layers: called for every layer change, at once on the replica that saved it
   * and from the change broadcast on the others (before their agents are nudged).
   */
  invalidateLayers(): void {
    this.chains.clear();
    this.withOwnLayer.clear();
  }

  /**
   * The layers of a device's chain, root first. Devices of one OU share their chain, so a replica
   * keeps it (and the set of devices that have their own layer) for up to LAYER_CACHE_MS, dropped on
   * any change: a config check-in usually needs no query. A device with its own layer reads it.
   */
  private async layersOf(device: Pick<DeviceRow, 'id' | 'ou_path'>): Promise<LayerRow[]> {
    let chain = this.chains.get(device.ou_path);
    if (!chain) {
      if (this.chains.size >= 10_000) this.chains.clear();
      chain = new Recent(LAYER_CACHE_MS, () => layersForChain(this.ctx.db, device.ou_path));
      this.chains.set(device.ou_path, chain);
    }
    const [rows, own] = await Promise.all([chain.get(), this.withOwnLayer.get()]);
    if (!own.has(device.id)) return rows;
    const mine = await findLayer(this.ctx.db, { type: 'device', id: device.id });
    return mine ? [...rows, mine] : rows;
  }

  /**
   * The merged config of a device, every key with the layer that set it. Devices whose chain is the
   * same layers at the same versions share one merge (a layer's version changes with every save),
   * so the result must not be modified.
   */
  async effectiveFor(device: Pick<DeviceRow, 'id' | 'ou_path' | 'config_epoch'>): Promise<Effective> {
    const rows = await this.layersOf(device);
    const key = `${device.config_epoch}|${rows.map((r) => `${layerId(r)}@${r.version}`).join('|')}`;
    const hit = this.merged.get(key);
    if (hit) return hit;
    const merged = mergeLayers(rows.map(toLayer));
    const last = rows[rows.length - 1];
    const version = Math.max(Number(device.config_epoch), ...rows.map((r) => Number(r.version)), 0);
    const out = {
      ...merged,
      name: last?.name ?? 'Default',
      version,
      layers: rows.map((r) => ({ id: layerId(r), name: r.name, version: Number(r.version) })),
    };
    if (this.merged.size >= 10_000) this.merged.clear();
    // shared by every device with these layers and served as is on each check-in: nobody may change it
    this.merged.set(key, deepFreeze(out));
    return out;
  }

  /** Effective config of a device the caller may read. */
  async effectiveForDeviceId(p: Principal, id: string): Promise<Effective> {
    const d = await findDevice(this.ctx.db, scopeOf(p), id);
    if (!d) throw notFound('device');
    return this.effectiveFor(d);
  }

  /** Resolves the layer scope a caller addresses, checking read or write access. Returns the OU path it lives in. */
  private async resolve(
    p: Principal,
    s: LayerScope,
    write: boolean,
  ): Promise<{ ouPath: string | null; device?: DeviceRow }> {
    if (s.type === 'global') {
      if (write && p.role !== 'global_admin') throw forbidden('only a global_admin changes the global config');
      if (!write && p.role === 'user') throw forbidden('the config is for admins and reporters');
      return { ouPath: null };
    }
    const scope = write ? writeScope(p) : scopeOf(p);
    if (s.type === 'ou') {
      const ou = await findOu(this.ctx.db, scope, s.id);
      if (!ou) throw notFound('OU');
      return { ouPath: ou.path };
    }
    const d = await findDevice(this.ctx.db, scope, s.id);
    if (!d) throw notFound('device');
    return { ouPath: d.ou_path, device: d };
  }

  async get(p: Principal, s: LayerScope): Promise<LayerRow | null> {
    await this.resolve(p, s, false);
    return (await findLayer(this.ctx.db, s)) ?? null;
  }

  /** Checks a layer document without saving. */
  validate(input: LayerInput): LayerError[] {
    return validateLayer(input.doc, input.locked ?? []);
  }

  /**
   * Replaces a layer (validated, versioned, audited) and nudges the affected agents.
   * With `dryRun` nothing is saved. Keys locked by a layer above are refused with 409.
   * @throws AppError 400 invalid_config with the errors, 409 key_locked
   */
  async put(
    p: Principal,
    s: LayerScope,
    input: LayerInput,
    actor: Actor,
    dryRun = false,
  ): Promise<{ layer: LayerRow | null; errors: LayerError[] }> {
    const { ouPath, device } = await this.resolve(p, s, true);
    const errors = this.validate(input);
    if (errors.length) {
      if (dryRun) return { layer: null, errors };
      throw new AppError(400, 'invalid_config', `config has ${errors.length} error(s)`, { errors });
    }
    const doc = input.doc as ConfigLayerDoc;
    const lockedAbove = await this.lockedAbove(s, ouPath, device);
    const clash = this.keysSet(doc).filter((k) => lockedAbove.has(k));
    if (clash.length) {
      throw new AppError(409, 'key_locked', `locked by a layer above: ${clash.join(', ')}`, {
        keys: clash.map((k) => ({ key: k, locked_by: lockedAbove.get(k) })),
      });
    }
    if (dryRun) return { layer: null, errors: [] };
    const before = await findLayer(this.ctx.db, s);
    const layer = await upsertLayer(this.ctx.db, s, {
      name: input.name ?? before?.name ?? defaultName(s),
      doc,
      locked: (input.locked as string[] | undefined) ?? [],
      updated_by: p.userId,
    });
    await audit(this.ctx.db, actor, {
      action: 'config.update',
      targetType: `config_${s.type}`,
      targetId: s.id,
      ouPath,
      before: before ? { name: before.name, doc: before.doc, locked: before.locked } : null,
      after: { name: layer.name, doc: layer.doc, locked: layer.locked },
    });
    const version = Number(layer.version);
    await this.broadcast(
      s.type === 'global'
        ? { scope: 'global', version }
        : s.type === 'ou'
          ? { scope: 'ou', ou_path: ouPath ?? '', version }
          : { scope: 'device', device_id: s.id, version },
    );
    return { layer, errors: [] };
  }

  private keysSet(doc: ConfigLayerDoc): ConfigKey[] {
    const m = mergeLayers([{ id: 'x', doc }]);
    return (Object.keys(m.provenance) as ConfigKey[]).filter((k) => m.provenance[k] === 'x');
  }

  /** Keys locked by the layers above `s` (global for an OU; global + OU chain for a device). */
  private async lockedAbove(s: LayerScope, ouPath: string | null, device?: DeviceRow): Promise<Map<string, string>> {
    if (s.type === 'global') return new Map();
    const rows = device
      ? await layersForChain(this.ctx.db, device.ou_path)
      : (await layersForChain(this.ctx.db, ouPath ?? '/')).filter(
          (r) => !(r.scope_type === 'ou' && r.scope_id === s.id),
        );
    const merged = mergeLayers(rows.map(toLayer));
    return new Map(Object.entries(merged.locked) as [string, string][]);
  }

  async history(p: Principal, s: LayerScope, q: { limit: number; cursor?: string }): Promise<Page<HistoryRow>> {
    await this.resolve(p, s, false);
    const rows = await layerHistory(this.ctx.db, s, { limit: q.limit, beforeId: decodeCursor(q.cursor) });
    return toPage(rows, q.limit);
  }
}

function toLayer(r: LayerRow): ConfigLayer {
  return { id: layerId(r), doc: r.doc as ConfigLayerDoc, locked: r.locked as ConfigKey[] };
}

const defaultName = (s: LayerScope) =>
  s.type === 'global' ? 'Global default' : s.type === 'ou' ? `OU ${s.id} config` : `Device ${s.id} config`;
