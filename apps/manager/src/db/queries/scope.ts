// OU scoping in the data layer: every query over OU-owned rows goes through `inScope`.
import { type ExpressionBuilder, type ExpressionWrapper, sql, type SqlBool } from 'kysely';
import type { Scope } from '../../domain/principal.js';

/** Escapes LIKE wildcards (\, %, _) so user text matches literally. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** `LIKE` pattern for everything under a materialised path. */
const likePrefix = (path: string) => `${escapeLike(path)}%`;

/**
 * A WHERE condition restricting `pathColumn` (an OU path, e.g. `ous.path`) to the scope. Rows
 * whose path is NULL are visible only to `all`.
 */
export function inScope<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  scope: Scope,
  pathColumn: string,
): ExpressionWrapper<DB, TB, SqlBool> {
  const col = sql.ref(pathColumn);
  switch (scope.kind) {
    case 'all':
      return eb.val(true) as unknown as ExpressionWrapper<DB, TB, SqlBool>;
    case 'subtree':
      return eb(col as never, 'like', likePrefix(scope.path) as never) as ExpressionWrapper<DB, TB, SqlBool>;
    case 'own':
      return eb(col as never, '=', scope.path as never) as ExpressionWrapper<DB, TB, SqlBool>;
    case 'none':
      return eb.val(false) as unknown as ExpressionWrapper<DB, TB, SqlBool>;
  }
}
