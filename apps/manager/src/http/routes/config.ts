// Configuration layers: global, per OU and per device; effective config with provenance; dry-run validation.
import { CONFIG_KEYS, ConfigValues } from '@rookery/protocol';
import { Type } from '@sinclair/typebox';
import type { HistoryRow, LayerRow, LayerScope } from '../../db/queries/config-layers.js';
import type { App } from '../app.js';
import { actorOf, type Deps } from '../deps.js';
import { errorResponses, IdParams, Page, PageQuery, Timestamp, toId } from '../schemas/common.js';

const Key = Type.Union(CONFIG_KEYS.map((k) => Type.Literal(k)));

export const LayerOut = Type.Object(
  {
    scope_type: Type.String(),
    scope_id: Type.Union([Type.Integer(), Type.Null()]),
    name: Type.String(),
    doc: Type.Unknown({ description: 'partial config document: any subset of the leaf keys' }),
    locked: Type.Array(Type.String()),
    version: Type.Integer(),
    updated_by: Type.Union([Type.Integer(), Type.Null()]),
    updated_at: Timestamp,
  },
  { $id: 'ConfigLayer' },
);

const LayerIn = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    doc: Type.Unknown({ description: 'partial config document, validated against the config model' }),
    locked: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: CONFIG_KEYS.length })),
  },
  { additionalProperties: false },
);

const ValidationOut = Type.Object({
  valid: Type.Boolean(),
  errors: Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() })),
});

const publicLayer = (r: LayerRow) => ({
  scope_type: r.scope_type,
  scope_id: toId(r.scope_id),
  name: r.name,
  doc: r.doc,
  locked: r.locked,
  version: Number(r.version),
  updated_by: toId(r.updated_by),
  updated_at: r.updated_at.toISOString(),
});

const publicHistory = (r: HistoryRow) => ({
  id: Number(r.id),
  version: Number(r.version),
  name: r.name,
  doc: r.doc,
  locked: r.locked,
  changed_by: toId(r.changed_by),
  changed_at: r.changed_at.toISOString(),
});

export function configRoutes(app: App, d: Deps): void {
  const scopes: { prefix: string; label: string; scope: (id: string) => LayerScope; params?: typeof IdParams }[] = [
    { prefix: '/api/v1/config/global', label: 'the global default', scope: () => ({ type: 'global', id: null }) },
    { prefix: '/api/v1/ous/:id/config', label: 'an OU', scope: (id) => ({ type: 'ou', id }), params: IdParams },
    {
      prefix: '/api/v1/devices/:id/config',
      label: 'a device',
      scope: (id) => ({ type: 'device', id }),
      params: IdParams,
    },
  ];
  for (const s of scopes) {
    const idOf = (req: { params: unknown }) => (req.params as { id?: string }).id ?? '';
    app.get(
      s.prefix,
      {
        schema: {
          tags: ['config'],
          summary: `Config layer of ${s.label} (null when none is set)`,
          ...(s.params ? { params: s.params } : {}),
          response: { 200: Type.Object({ layer: Type.Union([Type.Ref(LayerOut), Type.Null()]) }), ...errorResponses },
        },
      },
      async (req) => {
        const layer = await d.config.get(req.principal, s.scope(idOf(req)));
        return { layer: layer ? publicLayer(layer) : null };
      },
    );
    app.put(
      s.prefix,
      {
        schema: {
          tags: ['config'],
          summary: `Replace the config layer of ${s.label}; ?dry_run=true validates only`,
          ...(s.params ? { params: s.params } : {}),
          querystring: Type.Object(
            { dry_run: Type.Optional(Type.Boolean({ default: false })) },
            { additionalProperties: false },
          ),
          body: LayerIn,
          response: { 200: Type.Union([Type.Object({ layer: Type.Ref(LayerOut) }), ValidationOut]), ...errorResponses },
        },
      },
      async (req) => {
        const r = await d.config.put(
          req.principal,
          s.scope(idOf(req)),
          req.body,
          actorOf(req),
          req.query.dry_run === true,
        );
        if (req.query.dry_run) return { valid: r.errors.length === 0, errors: r.errors };
        return { layer: publicLayer(r.layer as LayerRow) };
      },
    );
    app.get(
      `${s.prefix}/history`,
      {
        schema: {
          tags: ['config'],
          summary: `Versions of the config layer of ${s.label}, newest first`,
          ...(s.params ? { params: s.params } : {}),
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: {
            200: Page(
              Type.Object({
                id: Type.Integer(),
                version: Type.Integer(),
                name: Type.String(),
                doc: Type.Unknown(),
                locked: Type.Array(Type.String()),
                changed_by: Type.Union([Type.Integer(), Type.Null()]),
                changed_at: Timestamp,
              }),
            ),
            ...errorResponses,
          },
        },
      },
      async (req) => {
        const page = await d.config.history(req.principal, s.scope(idOf(req)), {
          limit: req.query.limit ?? 50,
          cursor: req.query.cursor,
        });
        return { items: page.items.map(publicHistory), next_cursor: page.next_cursor };
      },
    );
  }

  app.post(
    '/api/v1/config/validate',
    {
      schema: {
        tags: ['config'],
        summary: 'Validate a config layer without saving it',
        body: LayerIn,
        response: { 200: ValidationOut, ...errorResponses },
      },
    },
    async (req) => {
      const errors = d.config.validate(req.body);
      return { valid: errors.length === 0, errors };
    },
  );

  app.get(
    '/api/v1/devices/:id/effective-config',
    {
      schema: {
        tags: ['config'],
        summary: 'The merged config of a device: every key with the layer that set it, locks and ignored overrides',
        params: IdParams,
        response: {
          200: Type.Object({
            config_name: Type.String(),
            config_version: Type.Integer(),
            values: ConfigValues,
            provenance: Type.Record(Type.String(), Type.String()),
            locked: Type.Record(Type.String(), Type.String()),
            ignored: Type.Array(
              Type.Object({ key: Key, layer: Type.String(), locked_by: Type.String(), value: Type.Unknown() }),
            ),
            layers: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), version: Type.Integer() })),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const e = await d.config.effectiveForDeviceId(req.principal, req.params.id);
      return {
        config_name: e.name,
        config_version: e.version,
        values: e.values,
        provenance: e.provenance,
        locked: e.locked as Record<string, string>,
        ignored: e.ignored,
        layers: e.layers,
      };
    },
  );
}
