// Child process for the clean-up e2e test: builds a lab with processes and WireGuard, then dies as told.
import { createLab } from '../lab.js';

const mode = process.argv[2] ?? 'throw';
const lab = await createLab({ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'] }] });
const sleeper = lab.spawn('a', 'sleep', ['60']);
const wg = await lab.wireguard({ hosts: ['a', 'b'] });
process.stdout.write(
  `${JSON.stringify({
    id: lab.id,
    namespaces: lab.hosts.map((h) => lab.namespace(h)),
    wireguard: wg.members.map((m) => m.ifname),
    pids: [sleeper.pid, ...wg.members.map((m) => m.process.pid)],
  })}\n`,
);
if (mode === 'throw') throw new Error('failing on purpose mid-run');
if (mode === 'exit') process.exit(3);
// 'wait': stay until the parent sends SIGINT/SIGTERM/SIGKILL (bounded, in case it never does)
setTimeout(() => process.exit(4), 60_000);
