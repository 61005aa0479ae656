// The five roles of seed 004 and what each may do; pure, no I/O.

export const ROLES = ['global_admin', 'global_reporter', 'ou_admin', 'ou_reporter', 'user'] as const;
export type Role = (typeof ROLES)[number];

/** Rank used for "cannot grant a role above your own". */
const RANK: Record<Role, number> = { global_admin: 4, global_reporter: 3, ou_admin: 2, ou_reporter: 1, user: 0 };

export const isGlobalRole = (r: Role) => r === 'global_admin' || r === 'global_reporter';
export const isOuRole = (r: Role) => r === 'ou_admin' || r === 'ou_reporter';
/** Roles that may change administrative objects (within their scope). */
export const canWrite = (r: Role) => r === 'global_admin' || r === 'ou_admin';
/** Roles that may read administrative objects of their scope beyond themselves. */
export const canReadAdmin = (r: Role) => r !== 'user';

/**
 * May a caller with role `granter` give role `granted`? Only a global_admin grants global roles;
 * an ou_admin grants ou_admin, ou_reporter and user (never above its own).
 */
export function canGrant(granter: Role, granted: Role): boolean {
  if (granter === 'global_admin') return true;
  if (granter !== 'ou_admin') return false;
  return !isGlobalRole(granted) && RANK[granted] <= RANK[granter];
}
