// Waits until a new lab's links really carry traffic: veths UP and bridge ports forwarding.
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './run.js';

/** Lab interfaces (`rk*`) in `ip -j link show` output whose operstate is not UP. Pure. */
export function interfacesNotUp(ipLinkJson: string): string[] {
  const links = JSON.parse(ipLinkJson || '[]') as { ifname?: string; operstate?: string }[];
  return links.filter((l) => l.ifname?.startsWith('rk') && l.operstate !== 'UP').map((l) => l.ifname ?? '');
}

/** Bridge ports in `bridge -j link show` output that are not forwarding yet. Pure. */
export function portsNotForwarding(bridgeLinkJson: string): string[] {
  const ports = JSON.parse(bridgeLinkJson || '[]') as { ifname?: string; state?: string }[];
  return ports.filter((p) => p.state !== 'forwarding').map((p) => p.ifname ?? '');
}

/**
 * Polls every 20 ms until every `rk*` interface of the host namespaces is UP and every port of the
 * switch namespace forwards. The kernel applies carrier changes up to a second late (linkwatch),
 * and a bridge drops frames until then. Rejects with `Error` naming what is still down after `timeoutMs`.
 */
export async function waitForLinks(
  hostNamespaces: string[],
  switchNamespace?: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending: string[] = [];
    await Promise.all([
      ...hostNamespaces.map(async (ns) => {
        const r = await run('ip', ['-n', ns, '-j', 'link', 'show'], { timeoutMs: 5000 });
        pending.push(...interfacesNotUp(r.stdout).map((i) => `${ns}/${i}`));
      }),
      ...(switchNamespace
        ? [
            (async () => {
              const r = await run('bridge', ['-n', switchNamespace, '-j', 'link', 'show'], { timeoutMs: 5000 });
              pending.push(...portsNotForwarding(r.stdout).map((p) => `${switchNamespace}/${p}`));
            })(),
          ]
        : []),
    ]);
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`links still down after ${timeoutMs} ms: ${pending.join(', ')}`);
    await sleep(20);
  }
}
