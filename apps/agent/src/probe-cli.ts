// `./rookery probe KIND TARGET [--json]`: runs one probe and prints its result; exit 0 ok, 1 failed, 2 usage.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { formatResult } from './probes/cli-format.js';
import { type ProbeFlags, specFromFlags } from './probes/cli-spec.js';
import { ProbeFailure, runProbe } from './probes/index.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

const program = new Command('rookery probe')
  .description('Run one probe: http|tcp|udp|dns|icmp|traceroute')
  .argument('<kind>', 'http, tcp, udp, dns, icmp or traceroute')
  .argument('<target>', 'URL (http), host:port (tcp, udp), resolver IP[:port] (dns), host (icmp, traceroute)')
  .option('--json', 'print the result as JSON')
  .option('--timeout <ms>', 'whole-probe deadline')
  .option('-4, --ipv4', 'IPv4 only')
  .option('-6, --ipv6', 'IPv6 only')
  .option('--count <n>', 'udp/icmp: packets')
  .option('--interval <ms>', 'udp/icmp: between packets')
  .option('--size <bytes>', 'udp: datagram bytes; icmp: payload bytes')
  .option('--wait <ms>', 'udp/icmp: wait for late replies; traceroute: per probe')
  .option('--max-loss <pct>', 'udp/icmp: fail above this loss')
  .option('--ttl <n>', 'icmp: IP TTL')
  .option('--tool <ping|fping>', 'icmp: measuring tool')
  .option('--method <m>', 'http: GET, HEAD, POST, PUT')
  .option('--header <name: value>', 'http: request header (repeatable)', collect)
  .option('--data <body>', 'http: request body')
  .option('--expect-status <codes>', 'http: accepted statuses, comma-separated')
  .option('--expect-body <text>', 'http: body must contain')
  .option('--expect-regex <re>', 'http: body must match')
  .option('--expect-header <name: value>', 'http: header must contain (repeatable)', collect)
  .option('--max-redirects <n>', 'http: follow at most n (0: do not follow)')
  .option('--insecure', 'http/tcp: accept any TLS certificate')
  .option('--ca <file>', 'http/tcp: extra trusted CA (PEM file)')
  .option('--http1', 'http: offer only HTTP/1.1 over TLS')
  .option('--tls', 'tcp: TLS handshake after connect')
  .option('--servername <name>', 'tcp: TLS SNI')
  .option('--banner', 'tcp: read the first line the server sends')
  .option('--expect-banner <re>', 'tcp: banner must match')
  .option('--send <text>', 'tcp: write this (\\r \\n \\t understood)')
  .option('--expect <text>', 'tcp: wait for this reply')
  .option('--name <qname>', 'dns: name to query (required)')
  .option('--type <rrtype>', 'dns: record type (default A)')
  .option('--tcp', 'dns: query over TCP')
  .option('--no-tcp-fallback', 'dns: do not retry over TCP on truncation')
  .option('--expect-rcode <rcode>', 'dns: expected rcode (default NOERROR)')
  .option('--expect-answer <data>', 'dns: expected answer data (repeatable)', collect)
  .option('--max-hops <n>', 'traceroute: max TTL')
  .option('--queries <n>', 'traceroute: probes per hop')
  .option('--via <udp|icmp|tcp>', 'traceroute: probe method')
  .option('--port <n>', 'traceroute: destination port')
  .option('--mtu', 'traceroute: discover the path MTU')
  .action(async (kind: string, target: string, flags: ProbeFlags & { json?: boolean; ca?: string }) => {
    let spec;
    try {
      if (flags.ca) flags.caPem = readFileSync(flags.ca, 'utf8');
      spec = specFromFlags(kind, target, flags);
    } catch (err) {
      process.stderr.write(`rookery probe: ${err instanceof ProbeFailure ? err.message : String(err)}\n`);
      process.exit(2);
    }
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const result = await runProbe(spec, { signal: controller.signal });
    process.stdout.write(`${flags.json ? JSON.stringify(result, null, 2) : formatResult(result)}\n`);
    const usage = result.error?.code === 'invalid_spec' || result.error?.code === 'invalid_target';
    process.exitCode = result.ok ? 0 : usage ? 2 : 1;
  });

await program.parseAsync(process.argv);
