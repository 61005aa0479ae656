// Test helper: runs `rookery testserver` as a child process on free loopback ports and reports
// where it listens (and its self-signed certificate with --tls).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

export interface TestServerChild {
  url: string;
  /** host:port */
  tcpEcho: string;
  /** host:port */
  udpReflector: string;
  certificatePem?: string;
  child: ChildProcess;
  /** SIGTERM, then waits for exit (SIGKILL after 5 s) */
  stop(): Promise<void>;
}

/** Starts the test server with `args` (default listens on 127.0.0.1:0); rejects after 20 s. */
export function startTestServerChild(args: string[] = []): Promise<TestServerChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/testserver/src/main.ts', '--listen', '127.0.0.1:0', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise<TestServerChild>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`testserver did not start: ${stderr}`));
    }, 20_000);
    const check = () => {
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (!line) return;
      const wantsCert = args.includes('--tls');
      const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(stderr)?.[0];
      if (wantsCert && !cert) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { url: string; tcpEcho: string; udpReflector: string };
      resolve({ ...ready, certificatePem: cert, child, stop });
    };
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      check();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      check();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`testserver exited ${code}: ${stderr}`));
    });
  });
}

/** A loopback TCP port with nothing listening (bound then released). */
export async function closedTcpPort(): Promise<number> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
