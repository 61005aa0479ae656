// `./rookery testserver`: runs the probe test server until SIGINT/SIGTERM, then shuts down gracefully.
import { Command } from 'commander';
import { type CliFlags, optionsFromFlags } from './cli-options.js';
import { startTestServer, TESTSERVER_VERSION } from './index.js';

const program = new Command('rookery testserver')
  .description('Probe targets: HTTP(S) echo/download/upload/delay/status, TCP echo, UDP reflector, speed test')
  .version(TESTSERVER_VERSION)
  .option('--listen <host:port>', 'HTTP(S) listener', '127.0.0.1:8088')
  .option('--tcp-echo <host:port|off>', 'TCP echo listener (default: HTTP port + 1)')
  .option('--udp-reflector <host:port|off>', 'UDP reflector (default: HTTP port + 2)')
  .option('--tls', 'serve HTTPS (h2 and HTTP/1.1) with a generated self-signed certificate')
  .option('--tls-cert <file>', 'certificate PEM (with --tls-key) instead of a generated one')
  .option('--tls-key <file>', 'private key PEM')
  .option('--auth-file <file>', 'JSON {serverKeySha256:[hex], deviceCredentialSha256:{id:hex}}; requires credentials')
  .option('--cors-origin <origin...>', 'allowed browser origins for the speed test (default *)')
  .option('--banner <text>', 'line the TCP echo server sends on connect')
  .option('--grace-ms <ms>', 'shutdown grace period', '5000')
  .option('--max-upload-bytes <n>', 'largest upload body')
  .option('--max-download-bytes <n>', 'largest download')
  .option('--rate <n>', 'requests per second per client address')
  .option('--max-concurrent-tests <n>', 'downloads/uploads/delays at once')
  .action(async (flags: CliFlags) => {
    let options;
    try {
      options = optionsFromFlags(flags);
    } catch (err) {
      process.stderr.write(`rookery testserver: ${(err as Error).message}\n`);
      process.exit(2);
    }
    const server = await startTestServer(options);
    const hostPort = (a: { address: string; port: number }) =>
      a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    const ready = {
      url: server.url,
      tcpEcho: server.tcpEcho ? hostPort(server.tcpEcho) : null,
      udpReflector: server.udpReflector ? hostPort(server.udpReflector) : null,
      tls: Boolean(server.certificatePem),
      auth: Boolean(options.auth),
    };
    process.stdout.write(`${JSON.stringify({ event: 'listening', ...ready })}\n`);
    if (server.certificatePem && options.tls === 'self-signed') process.stderr.write(server.certificatePem);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`rookery testserver: ${signal}, shutting down\n`);
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

await program.parseAsync(process.argv);
