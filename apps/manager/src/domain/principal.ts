// Who is calling, and the OU subtree their reads and writes are confined to.
import type { Role } from './roles.js';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** OU of the user; null for global roles (and for users without an OU) */
  ouId: string | null;
  /** materialised path of that OU, '/1/4/'; null when ouId is null */
  ouPath: string | null;
  /** how the caller authenticated */
  via: 'jwt' | 'api_key';
  /** access-token id when via jwt */
  jti?: string;
  tokenExp?: number;
}

/**
 * The OU subtree a principal sees: `all` for global roles, a path prefix for OU roles,
 * `own` for plain users (their own OU only, not descendants), `none` for users without an OU.
 */
export type Scope = { kind: 'all' } | { kind: 'subtree'; path: string } | { kind: 'own'; path: string } | { kind: 'none' };

export function scopeOf(p: Principal): Scope {
  if (p.role === 'global_admin' || p.role === 'global_reporter') return { kind: 'all' };
  if (!p.ouPath) return { kind: 'none' };
  if (p.role === 'user') return { kind: 'own', path: p.ouPath };
  return { kind: 'subtree', path: p.ouPath };
}

/** Is the OU at `path` inside the scope? */
export function scopeContains(scope: Scope, path: string): boolean {
  switch (scope.kind) {
    case 'all':
      return true;
    case 'subtree':
      return path.startsWith(scope.path);
    case 'own':
      return path === scope.path;
    case 'none':
      return false;
  }
}
