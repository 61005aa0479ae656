// E2E helpers: PostgreSQL, `rookery manager` and `rookery agent` as real processes in lab hosts, a curl admin client, log waits.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab, ProcessHandle, RunResult } from '@rookery/lab';
import { waitFor } from '@rookery/lab/testing';
import type { AgentStatus } from '../state-store.js';

// the shared poll, also for the tests that import it from here
export { waitFor };

/** Repository root (where `./rookery` lives). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const ROOKERY = path.join(ROOT, 'rookery');
const LAB_POSTGRES = path.join(ROOT, 'apps/manager/src/testing/lab-postgres.ts');
const REGISTER_SECRET = path.join(ROOT, 'apps/manager/src/testing/register-secret.ts');

/** Starts one embedded PostgreSQL inside `host` (loopback of that namespace); resolves with its URL. */
export async function startLabPostgres(
  lab: Lab,
  host: string,
  dataDir: string,
): Promise<{ url: string; process: ProcessHandle }> {
  const proc = lab.spawnNode(host, LAB_POSTGRES, [dataDir], { cwd: ROOT });
  await proc.waitForOutput(/"url"/, 60_000);
  const { url } = JSON.parse(proc.stdout.trim().split('\n')[0] ?? '{}') as { url: string };
  return { url, process: proc };
}

export interface LabManagerOptions {
  port: number;
  databaseUrl: string;
  /** SECRET_KEY shared by every replica, ≥ 32 characters */
  secretKey: string;
  admin: { username: string; password: string };
}

/** Runs `./rookery manager --database-url … --listen 0.0.0.0:PORT` in `host`; resolves once it listens. */
export async function startLabManager(lab: Lab, host: string, o: LabManagerOptions): Promise<ProcessHandle> {
  const proc = lab.spawn(
    host,
    ROOKERY,
    ['manager', '--database-url', o.databaseUrl, '--listen', `0.0.0.0:${o.port}`, '--log-level', 'warn'],
    {
      cwd: ROOT,
      env: { SECRET_KEY: o.secretKey, ADMIN_USERNAME: o.admin.username, ADMIN_PASSWORD: o.admin.password },
    },
  );
  await proc.waitForOutput('listening on', 45_000);
  return proc;
}

/**
 * Registers an enrollment secret with a chosen value directly in the database (from `host`, where
 * PostgreSQL listens); the API only issues generated secrets. Resolves with the secret's id.
 */
export async function registerSecret(
  lab: Lab,
  host: string,
  o: { databaseUrl: string; ouId: number; name: string; secret: string; maxUses?: number },
): Promise<number> {
  const args = [String(o.ouId), o.name, ...(o.maxUses ? [String(o.maxUses)] : [])];
  const r = await lab.execNode(host, REGISTER_SECRET, args, {
    cwd: ROOT,
    env: { DATABASE_URL: o.databaseUrl, ENROLLMENT_SECRET: o.secret },
    timeoutMs: 30_000,
    check: true,
  });
  return Number(r.stdout.trim());
}

export interface ApiReply {
  status: number;
  body: any;
}

/**
 * What `curl -sS -w '%{stderr}%{http_code}'` printed: the body on stdout, the status last on stderr.
 * @throws Error when curl failed (no HTTP answer)
 */
export function parseCurlReply(r: Pick<RunResult, 'code' | 'stdout' | 'stderr'>): ApiReply {
  if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr.trim()}`);
  const status = Number(/(\d{3})\s*$/.exec(r.stderr)?.[1]);
  if (!status) throw new Error(`curl printed no status: ${r.stderr.trim()}`);
  const text = r.stdout.trim();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status, body };
}

/** The manager's REST API, called with curl from inside a lab host (the root namespace cannot reach the lab). */
export class LabApi {
  token: string | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    /** e.g. http://127.0.0.1:8080 as seen from `host` */
    readonly baseUrl: string,
  ) {}

  /** The same client (and token) against another replica. */
  at(baseUrl: string): LabApi {
    const other = new LabApi(this.lab, this.host, baseUrl);
    other.token = this.token;
    return other;
  }

  async call(method: string, urlPath: string, body?: unknown): Promise<ApiReply> {
    const args = ['-sS', '-m', '10', '-X', method, '-w', '%{stderr}%{http_code}'];
    if (this.token) args.push('-H', `authorization: Bearer ${this.token}`);
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    args.push(`${this.baseUrl}${urlPath}`);
    return parseCurlReply(await this.lab.exec(this.host, 'curl', args, { timeoutMs: 15_000 }));
  }

  /** `call`, then the body; throws when the status is not `status`. */
  async expect(status: number, method: string, urlPath: string, body?: unknown): Promise<any> {
    const r = await this.call(method, urlPath, body);
    if (r.status !== status) {
      throw new Error(`${method} ${urlPath}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    }
    return r.body;
  }

  async login(username: string, password: string): Promise<void> {
    this.token = (await this.expect(200, 'POST', '/api/v1/auth/login', { username, password })).access_token;
  }

  /** The device with this serial, or undefined. */
  async device(serial: string): Promise<any> {
    const page = await this.expect(200, 'GET', `/api/v1/devices?q=${encodeURIComponent(serial)}`);
    return (page.items as { serial: string }[]).find((d) => d.serial === serial);
  }
}

/** One pino line of the agent. */
export interface LogLine {
  msg: string;
  time: string;
  pid: number;
  [key: string]: any;
}

export interface LabAgentOptions {
  managerUrl: string;
  serial: string;
  stateDir: string;
  /** ENROLLMENT_SECRET and local ENV config (ENABLE_*_TEST, *_TARGETS, TEST_INTERVAL_SECONDS) */
  env: Record<string, string>;
}

/** `./rookery agent` in a lab host, observed through its JSON log lines and status.json. */
export class LabAgent {
  readonly process: ProcessHandle;
  private parsed: LogLine[] = [];
  private consumed = 0;

  constructor(
    lab: Lab,
    readonly host: string,
    readonly options: LabAgentOptions,
  ) {
    this.process = lab.spawn(host, ROOKERY, ['agent', '--state-dir', options.stateDir], {
      cwd: ROOT,
      env: {
        MANAGER_URL: options.managerUrl,
        DEVICE_SERIAL: options.serial,
        DEVICE_HOSTNAME: host,
        LOG_LEVEL: 'info',
        ...options.env,
      },
    });
  }

  /** Every complete log line so far (non-JSON lines are skipped). */
  lines(): LogLine[] {
    const out = this.process.stdout;
    const end = out.lastIndexOf('\n') + 1;
    if (end > this.consumed) {
      for (const l of out.slice(this.consumed, end).split('\n')) {
        if (!l.startsWith('{')) continue;
        try {
          this.parsed.push(JSON.parse(l) as LogLine);
        } catch {
          // a line that is not JSON (should not happen with pino)
        }
      }
      this.consumed = end;
    }
    return this.parsed;
  }

  /** Index to pass as `from`: only lines logged after this call count. */
  mark(): number {
    return this.lines().length;
  }

  /** Lines whose msg equals (string) or matches (RegExp) `msg`, from index `from`. */
  logs(msg: string | RegExp, from = 0): LogLine[] {
    return this.lines()
      .slice(from)
      .filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)));
  }

  /** `result` of every "test result" line from `from`. */
  results(from = 0): any[] {
    return this.logs('test result', from).map((l) => l.result);
  }

  /** Completed test runs from `from`: their results and the earliest probe start (epoch ms). */
  runs(from = 0): { startedAt: number; results: any[] }[] {
    const runs: { startedAt: number; results: any[] }[] = [];
    let results: any[] = [];
    for (const l of this.lines().slice(from)) {
      if (l.msg === 'test result') results.push(l.result);
      if (l.msg !== 'test run finished') continue;
      runs.push({
        startedAt: Math.min(...results.map((r: { started_at: string }) => Date.parse(r.started_at))),
        results,
      });
      results = [];
    }
    return runs;
  }

  /** Waits for the `count`-th line (default 1st) from `from` matching `msg` and `where`; resolves with it. */
  waitForLog(
    msg: string | RegExp,
    o: { from?: number; timeoutMs?: number; count?: number; where?: (l: LogLine) => boolean } = {},
  ): Promise<LogLine> {
    const count = o.count ?? 1;
    return waitFor(
      `${this.host}: log ${String(msg)} ×${count}`,
      () => this.logs(msg, o.from).filter(o.where ?? (() => true))[count - 1],
      o.timeoutMs ?? 15_000,
      () => this.tail(),
    );
  }

  /** status.json as the daemon last wrote it. */
  async status(): Promise<AgentStatus | undefined> {
    const text = await readFile(path.join(this.options.stateDir, 'status.json'), 'utf8').catch(() => undefined);
    return text ? (JSON.parse(text) as AgentStatus) : undefined;
  }

  /** Waits until status.json satisfies `pred`; resolves with it. */
  waitForStatus(what: string, pred: (s: AgentStatus) => boolean, timeoutMs = 15_000): Promise<AgentStatus> {
    return waitFor(
      `${this.host}: status ${what}`,
      async () => {
        const s = await this.status();
        return s && pred(s) ? s : undefined;
      },
      timeoutMs,
      () => this.tail(),
    );
  }

  /** The last log lines and stderr, for failure messages. */
  tail(n = 25): string {
    const lines = this.lines()
      .slice(-n)
      .map((l) => {
        const { level: _level, time, pid: _pid, service: _service, hostname: _hostname, msg, ...rest } = l;
        return `  ${time.slice(11, 23)} ${msg} ${JSON.stringify(rest)}`;
      });
    return `${this.host} log tail:\n${lines.join('\n')}\n${this.process.stderr.trim().slice(-500)}`;
  }
}

/** Milliseconds from `t0` (epoch ms) to a log line's time. */
export const msSince = (t0: number, line: LogLine): number => Date.parse(line.time) - t0;
