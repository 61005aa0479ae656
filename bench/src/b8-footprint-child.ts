// B8 child process: probes 50 targets for N cycles through the agent's runner ("agent"), the same
// operations on bare sockets ("raw"), or nothing ("idle"); prints RSS and CPU per probe as JSON.
// Usage: b8-footprint-child.ts agent|raw|idle HTTP_URL TCP_HOSTPORT UDP_HOSTPORT CYCLES
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { encodeUdpEchoRequest, type ProbeSpec } from '@rookery/protocol';
import { ProbeRunner } from '../../apps/agent/src/probes/index.js';

const [mode = 'idle', url = '', tcp = '', udp = '', cyclesText = '10'] = process.argv.slice(2);
const cycles = Number(cyclesText);
const CONCURRENCY = 8;
const UDP_PACKETS = 5;
const UDP_INTERVAL_MS = 10;

/** The 50 targets: 20 HTTP GETs, 20 TCP connects, 10 UDP echo runs of 5 datagrams. */
export function targets(): ProbeSpec[] {
  const specs: ProbeSpec[] = [];
  for (let i = 0; i < 20; i++) specs.push({ kind: 'http', target: `${url}/speedtest/ping?t=${i}` });
  for (let i = 0; i < 20; i++) specs.push({ kind: 'tcp', target: tcp });
  for (let i = 0; i < 10; i++) {
    specs.push({ kind: 'udp', target: udp, count: UDP_PACKETS, intervalMs: UDP_INTERVAL_MS, waitMs: 200 });
  }
  return specs;
}

function split(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}

/** The same work with bare node sockets: no validation, no phases, no result objects. */
function raw(spec: ProbeSpec): Promise<void> {
  if (spec.kind === 'http') {
    return new Promise((resolve) => {
      const req = http.get(spec.target, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => resolve());
    });
  }
  if (spec.kind === 'tcp') {
    const [host, port] = split(spec.target);
    return new Promise((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => resolve());
    });
  }
  const [host, port] = split(spec.target);
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    let got = 0;
    const done = () => {
      clearTimeout(timer);
      s.close();
      resolve();
    };
    const timer = setTimeout(done, UDP_PACKETS * UDP_INTERVAL_MS + 200);
    s.on('message', () => {
      if (++got === UDP_PACKETS) done();
    });
    s.connect(port, host, () => {
      for (let i = 0; i < UDP_PACKETS; i++) {
        setTimeout(() => s.send(encodeUdpEchoRequest(1, i, process.hrtime.bigint(), 64)), i * UDP_INTERVAL_MS);
      }
    });
  });
}

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function main(): Promise<void> {
  const specs = targets();
  const runner = new ProbeRunner({ concurrency: CONCURRENCY });
  let failures = 0;
  const cycle = async () => {
    if (mode === 'agent') {
      const results = await Promise.all(specs.map((s) => runner.run(s)));
      failures += results.filter((r) => !r.ok).length;
    } else if (mode === 'raw') await pool(specs, CONCURRENCY, raw);
  };
  await cycle(); // warm-up: JIT and lazy modules
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) await cycle();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (mode === 'idle') await new Promise((r) => setTimeout(r, 500));
  const probes = mode === 'idle' ? 0 : cycles * specs.length;
  process.stdout.write(
    `${JSON.stringify({
      mode,
      probes,
      failures,
      wallMs,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      cpuPerProbeUs: probes ? (cpu.user + cpu.system) / probes : null,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      peakRssMb: Math.max(peakRss, process.memoryUsage().rss) / 2 ** 20,
      heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
      heapTotalMb: process.memoryUsage().heapTotal / 2 ** 20,
      externalMb: process.memoryUsage().external / 2 ** 20,
    })}\n`,
  );
}

await main();
