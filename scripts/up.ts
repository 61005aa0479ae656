// `./rookery up`: start the manager on its embedded database in ./data and print the URL and login.
// Also starts the probe test server and one local agent enrolled into the OU "Local".
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`Usage: ./rookery up [--listen HOST:PORT] [--data DIR] [--testserver HOST:PORT]

Starts the Rookery manager on its embedded PostgreSQL (data in ./data by default), the probe test
server (127.0.0.1:8088) and one local agent enrolled into the OU "Local", and prints the URL and the
admin login. The first run creates the admin 'admin' with a random password kept in
DATA/admin-password (0600); set ADMIN_USERNAME/ADMIN_PASSWORD to choose them. Ctrl-C stops everything.
`);
  process.exit(0);
}
const listen = flag('--listen', process.env.ROOKERY_LISTEN ?? '127.0.0.1:8080');
const dataDir = path.resolve(flag('--data', path.join(ROOT, 'data')));
const testserverListen = flag('--testserver', '127.0.0.1:8088');

await mkdir(dataDir, { recursive: true, mode: 0o700 });
const pwFile = path.join(dataDir, 'admin-password');
const username = process.env.ADMIN_USERNAME ?? 'admin';
let password = process.env.ADMIN_PASSWORD ?? (await readFile(pwFile, 'utf8').catch(() => '')).trim();
if (!password) {
  password = randomBytes(12).toString('base64url');
  await writeFile(pwFile, password, { mode: 0o600 });
}

const children: ChildProcess[] = [];
let stopping = false;

/** Tracks a child; one that ends on its own (not stopped by this script) stops everything with exit 1. */
function adopt(name: string, child: ChildProcess): void {
  children.push(child);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(
      `rookery up: the ${name} exited (${signal ? `signal ${signal}` : `code ${code}`}); stopping everything\n`,
    );
    stopAll(1);
  });
}

/** Starts `command` (program and arguments) and resolves with the URL it says it listens on. */
function start(name: string, command: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // own process group: Ctrl-C reaches only this script, which stops the children in order. In the
    // terminal's group the embedded PostgreSQL got the SIGINT too and shut down under the draining manager.
    detached: true,
  });
  adopt(name, child);
  return new Promise((resolve, reject) => {
    let seen = '';
    // the manager says "listening on URL" on stderr, the test server {"event":"listening","url":…} on stdout
    const watch = (out: NodeJS.WriteStream) => (d: Buffer) => {
      out.write(d);
      seen += d.toString();
      const m = /listening on (\S+)/.exec(seen) ?? /"event":"listening","url":"([^"]+)"/.exec(seen);
      if (m) resolve(m[1] as string);
    };
    child.stdout?.on('data', watch(process.stdout));
    child.stderr?.on('data', watch(process.stderr));
    child.on('exit', (code, signal) => reject(new Error(`${name} exited (${signal ?? `code ${code}`})`)));
  });
}

/** Whether a child has ended (by exiting or by a signal: then `exitCode` stays null). */
const ended = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  // however the process ends from here (the loop running dry included), it ends with this code
  process.exitCode = code;
  for (const c of children) if (!ended(c)) c.kill('SIGTERM');
  const t = setTimeout(() => process.exit(code), 12_000);
  t.unref();
  void Promise.all(children.map((c) => new Promise((r) => (ended(c) ? r(null) : c.on('exit', r))))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
// the children have their own process groups: however this script ends, they do not outlive it
process.on('exit', () => {
  for (const c of children) if (!ended(c)) c.kill('SIGTERM');
});

async function api(url: string, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * Enrolls one agent on this host into the OU "Local" (created on first run) with a single-use
 * secret, unless its state dir already holds a credential; then starts it.
 */
async function startLocalAgent(url: string, testserverUrl: string): Promise<string> {
  const stateDir = path.join(dataDir, 'agent');
  // the agent drops a stored credential issued by another manager URL, so only a matching one counts
  const stored = await readFile(path.join(stateDir, 'credential.json'), 'utf8').then(
    (t) => JSON.parse(t) as { manager_url?: string },
    () => null,
  );
  const enrolled = stored?.manager_url === url;
  const env: NodeJS.ProcessEnv = { MANAGER_URL: url, DEVICE_SERIAL: 'rookery-up-local-agent', LOG_LEVEL: 'warn' };
  if (!enrolled) {
    const { access_token: token } = await api(url, 'POST', '/api/v1/auth/login', undefined, { username, password });
    const ous = await api(url, 'GET', '/api/v1/ous?q=Local&limit=500', token);
    const local = ous.items.find(
      (o: { name: string; parent_id: number | null }) => o.name === 'Local' && o.parent_id === null,
    );
    const ouId =
      local?.id ??
      (await api(url, 'POST', '/api/v1/ous', token, { name: 'Local', description: 'agents started by ./rookery up' }))
        .id;
    if (!local) {
      // something to measure from the first minute: the local test server, every 30 s (a layer of the
      // new OU only; change or delete it like any other)
      const t = new URL(testserverUrl);
      await api(url, 'PUT', `/api/v1/ous/${ouId}/config`, token, {
        name: 'rookery up: local test server',
        doc: {
          tests: {
            http: { enabled: true, targets: [`${testserverUrl}/echo`] },
            tcp: { enabled: true, targets: [`${t.hostname}:${Number(t.port) + 1}`] },
            icmp: { enabled: true, targets: [t.hostname] },
          },
          schedule: { interval_seconds: 30 },
        },
      });
    }
    const secret = await api(url, 'POST', '/api/v1/enrollment/secrets', token, {
      ou_id: ouId,
      name: 'rookery up',
      max_uses: 1,
    });
    env.ENROLLMENT_SECRET = secret.secret;
  }
  // through ./rookery: the agent runs bundled on plain node, as in production
  const child = spawn(path.join(ROOT, 'rookery'), ['agent', '--state-dir', stateDir], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  adopt('agent', child);
  return `one local agent (OU "Local", state in ${stateDir}); see it in GET ${url}/api/v1/devices
             on first start its OU gets a layer probing the test server every 30 s; results in
             GET ${url}/api/v1/results?device_id=ID (raw),
             /api/v1/results/latest, /api/v1/results/series, /api/v1/fleet/summary`;
}

try {
  process.stderr.write(`rookery up: starting the manager (embedded PostgreSQL in ${dataDir})…\n`);
  // through ./rookery: the manager runs bundled on plain node, as `./rookery manager` does (ADR 12)
  const url = await start(
    'manager',
    [path.join(ROOT, 'rookery'), 'manager', '--data', dataDir, '--listen', listen, '--log-level', 'warn'],
    {
      ADMIN_USERNAME: username,
      ADMIN_PASSWORD: password,
    },
  );
  const testserverUrl = await start(
    'test server',
    [process.execPath, '--import', 'tsx', path.join(ROOT, 'apps/testserver/src/main.ts'), '--listen', testserverListen],
    {},
  );
  const agentNote = await startLocalAgent(url, testserverUrl);
  process.stdout.write(`
  Rookery is running.

    URL        ${url}
    API docs   ${url}/api/docs
    Login      ${username} / ${password}   (POST ${url}/api/v1/auth/login)
    Data       ${dataDir}
    Password   kept in ${pwFile} (only used if no admin exists yet)

  Agent      ${agentNote}
  Testserver ${testserverUrl} (HTTP), TCP echo on the next port, UDP reflector on the one after;
             try: ./rookery probe http ${testserverUrl}/echo

  Press Ctrl-C to stop.
`);
} catch (err) {
  // a child that died has said so already (adopt)
  if (!stopping) process.stderr.write(`rookery up: ${(err as Error).message}\n`);
  stopAll(1);
}
