// Keyset pagination: opaque cursors over descending or ascending bigint ids.
import { badRequest } from './errors.js';

export interface Page<T> {
  items: T[];
  /** pass as `cursor` to get the next page; null on the last page */
  next_cursor: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** Decodes a cursor to the id it stands for. @throws AppError 400 on a malformed cursor */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,19}$/.test(raw)) throw badRequest('malformed cursor', { cursor });
  return raw;
}

export const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

/** Builds a page from `limit + 1` fetched rows; the next cursor is `cursorOf` the page's last row. */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, next_cursor: more && last !== undefined ? cursorOf(last) : null };
}

/** Builds a page of id-keyed rows from `limit + 1` fetched rows. */
export const toPage = <T extends { id: string }>(rows: T[], limit: number): Page<T> =>
  pageOf(rows, limit, (last) => encodeCursor(last.id));
