// Naming rules for everything a lab creates: every name starts with `rk` and carries the lab id.
import { randomBytes } from 'node:crypto';

/** A lab id: a digit then five lowercase letters/digits, e.g. `4k2x9a`; unique per run. */
export type LabId = string;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Creates a fresh random lab id (a digit first, so lab names are easy to tell from other `rk` names). */
export function newLabId(): LabId {
  const bytes = randomBytes(6);
  const first = String((bytes[0] ?? 0) % 10);
  let rest = '';
  for (let i = 1; i < 6; i++) rest += ID_ALPHABET[(bytes[i] ?? 0) % ID_ALPHABET.length];
  return first + rest;
}

/** Matches a namespace or WireGuard interface made by a lab; group 1 is the lab id. */
export const LAB_NAME_PATTERN = /^rk([0-9][0-9a-z]{5})[-w]/;

/** The lab id inside a lab-made name, or undefined for any other name. */
export function labIdOf(name: string): LabId | undefined {
  return LAB_NAME_PATTERN.exec(name)?.[1];
}

/** Host names: a lowercase letter, then up to 15 lowercase letters or digits. */
export const HOST_NAME_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

/** Link names: a lowercase letter, then up to 7 lowercase letters or digits (interface names are ≤ 15 bytes). */
export const LINK_NAME_PATTERN = /^[a-z][a-z0-9]{0,7}$/;

/** The network namespace of a host, e.g. `rk4k2x9a-client`. */
export function namespaceName(id: LabId, host: string): string {
  return `rk${id}-${host}`;
}

/** The namespace that holds the bridges of links with three or more hosts. */
export function switchNamespaceName(id: LabId): string {
  return `rk${id}-sw`;
}

/** The interface a host has on a link, e.g. `rk-lan` (names only need to be unique inside one namespace). */
export function hostInterfaceName(link: string): string {
  return `rk-${link}`;
}

/** The switch-side port of host number `index` on a bridged link. */
export function switchPortName(link: string, index: number): string {
  return `rk${index}-${link}`;
}

/**
 * The WireGuard interface number `n` of a lab, e.g. `rk4k2x9aw0`. Globally unique, because
 * wireguard-go's control socket `/var/run/wireguard/NAME.sock` is shared by all namespaces.
 */
export function wireguardInterfaceName(id: LabId, n: number): string {
  return `rk${id}w${n}`;
}
