// Schemas shared by routes: ids, pagination, error responses.
import { type TSchema, Type } from '@sinclair/typebox';

/** Database ids travel as JSON integers; path params arrive as digit strings. */
export const IdString = Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'numeric id' });
export const IdParams = Type.Object({ id: IdString }, { additionalProperties: false });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'page size' })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'next_cursor of the previous page' })),
};

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
  });

const Err = Type.Ref('ErrorBody');
/** Error responses every authenticated route may return. */
export const errorResponses = {
  400: Err,
  401: Err,
  403: Err,
  404: Err,
  409: Err,
  413: Err,
  415: Err,
  429: Err,
  // the database cannot be reached or is restarting: retry after Retry-After
  503: Err,
};

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const toId = (id: string | null) => (id === null ? null : Number(id));
export const toIso = (d: Date | null) => (d === null ? null : d.toISOString());
