// Can this machine run a lab (root, network namespaces, tools)? Installs missing Debian packages when root.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { newLabId } from './names.js';
import { run } from './run.js';

/** Debian package that provides each program the lab uses. */
export const LAB_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  tc: 'iproute2',
  bridge: 'iproute2',
  ss: 'iproute2',
  nft: 'nftables',
  wg: 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  iperf3: 'iperf3',
  ping: 'iputils-ping',
  fping: 'fping',
  sysctl: 'procps',
};

/** Whether labs can run here, and if not, why (one sentence). */
export interface LabAvailability {
  available: boolean;
  reason?: string;
}

function which(program: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(`${dir}/${program}`)) return true;
  }
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((dir) => existsSync(`${dir}/${program}`));
}

/** Programs from `LAB_PACKAGES` that are not installed. */
export function missingPrograms(): string[] {
  return Object.keys(LAB_PACKAGES).filter((p) => !which(p));
}

let cached: LabAvailability | undefined;

/**
 * Checks, once per process and synchronously: Linux, root, the programs, /dev/net/tun, and that a
 * network namespace can really be created (a probe namespace is added and deleted). Never throws.
 */
export function labAvailability(): LabAvailability {
  cached ??= check();
  return cached;
}

/** True when `labAvailability()` is. */
export function labAvailable(): boolean {
  return labAvailability().available;
}

function check(): LabAvailability {
  if (process.env.ROOKERY_LAB_DISABLE) return { available: false, reason: 'ROOKERY_LAB_DISABLE is set' };
  if (process.platform !== 'linux')
    return { available: false, reason: `network namespaces need Linux, not ${process.platform}` };
  if (process.getuid?.() !== 0) return { available: false, reason: 'network namespaces need root (run as root)' };
  const missing = missingPrograms();
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((p) => LAB_PACKAGES[p]))].join(' ');
    return { available: false, reason: `missing programs ${missing.join(', ')} (apt-get install ${pkgs})` };
  }
  if (!existsSync('/dev/net/tun'))
    return { available: false, reason: '/dev/net/tun is missing (needed by wireguard-go)' };
  const probe = `rk${newLabId()}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    const detail = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    return { available: false, reason: `cannot create a network namespace: ${detail || (err as Error).message}` };
  }
  try {
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    // best effort: a probe namespace holds nothing
  }
  return { available: true };
}

/**
 * Installs the Debian packages of missing lab programs with apt-get when running as root.
 * Resolves with the packages installed (empty when nothing was missing); rejects with
 * `CommandError` when apt-get fails, or `Error` when something is missing and we are not root.
 */
export async function ensureLabTools(options: { timeoutMs?: number } = {}): Promise<string[]> {
  const missing = missingPrograms();
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((p) => LAB_PACKAGES[p] ?? p))];
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new Error(`lab needs ${pkgs.join(' ')}; install them as root (apt-get install ${pkgs.join(' ')})`);
  }
  const timeoutMs = options.timeoutMs ?? 600_000;
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { timeoutMs, env });
  const r = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { timeoutMs, env });
  if (r.code !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed: ${r.stderr.trim().slice(-500)}`);
  cached = undefined;
  return pkgs;
}
