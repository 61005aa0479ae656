// `./rookery test`: static checks, then the vitest suite on the PostgreSQL server and the
// DB-backed files again on the embedded engine; ends with one `N passed, N failed` line.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}
const total: Tally = { passed: 0, failed: 0, skipped: 0 };
const failures: string[] = [];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function check(name: string, cmd: string, args: string[]): Promise<void> {
  process.stdout.write(`\n== ${name}\n`);
  const code = await run(cmd, args);
  if (code === 0) total.passed++;
  else {
    total.failed++;
    failures.push(name);
  }
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { status: string; fullName: string }[];
  }[];
}

async function vitest(label: string, extraArgs: string[], env: NodeJS.ProcessEnv): Promise<void> {
  process.stdout.write(`\n== vitest (${label})\n`);
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-vitest-'));
  const out = path.join(dir, 'report.json');
  const code = await run(
    'npx',
    [
      'vitest',
      'run',
      '--passWithNoTests',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${out}`,
      ...extraArgs,
    ],
    env,
  );
  const report = JSON.parse(await readFile(out, 'utf8').catch(() => 'null')) as VitestJson | null;
  // the report stays for a look after a failure; a clean run leaves nothing in the temp dir
  if (code === 0 && report && report.numFailedTests === 0) await rm(dir, { recursive: true, force: true });
  if (!report) {
    total.failed++;
    failures.push(`vitest (${label}) produced no report (exit ${code})`);
    return;
  }
  total.passed += report.numPassedTests;
  total.failed += report.numFailedTests;
  total.skipped += report.numPendingTests + report.numTodoTests;
  for (const file of report.testResults) {
    for (const a of file.assertionResults) if (a.status === 'failed') failures.push(`[${label}] ${a.fullName}`);
    // a file that failed to load has no assertions but still failed
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      total.failed++;
      failures.push(`[${label}] ${path.relative(process.cwd(), file.name)}: ${file.message ?? 'failed'}`);
    }
  }
  // a suite that ran nothing (a global set-up that threw, a filter that matched no file) proves nothing
  if (report.testResults.length === 0) {
    total.failed++;
    failures.push(`vitest (${label}) ran no test files (exit ${code})`);
    return;
  }
  if (code !== 0 && report.numFailedTests === 0 && report.numFailedTestSuites === 0) {
    total.failed++;
    failures.push(`vitest (${label}) exited ${code}`);
  }
}

const only = process.argv.slice(2);
if (only.includes('--help') || only.includes('-h')) {
  process.stdout.write(`Usage: ./rookery test [FILTER…]

Without filters: typecheck, lint, format check, the vitest suite against the PostgreSQL server
(ROOKERY_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres), the cross-process
*.e2e.test.ts files one at a time, then every *.db.test.ts again against an embedded PostgreSQL. With filters: only the vitest files matching them, on the server.
Ends with one line "N passed, N failed, N skipped".
`);
  process.exit(0);
}
if (only.length === 0) {
  await check('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json']);
  await check('lint', 'npx', ['eslint', '.']);
  await check('format', 'npx', ['prettier', '--check', '--log-level', 'warn', '.']);
}
if (only.length) {
  await vitest('postgresql server', only, { ROOKERY_TEST_DB: 'server' });
} else {
  await vitest('postgresql server', ['--exclude', '**/*.e2e.test.ts'], { ROOKERY_TEST_DB: 'server' });
  // cross-process tests (real managers, agents, lab namespaces) one file at a time: their timing
  // assertions must not compete with another test file for the two cores
  await vitest('end-to-end, one file at a time', ['.e2e.test.ts', '--no-file-parallelism'], {
    ROOKERY_TEST_DB: 'server',
  });
}
if (only.length === 0) {
  await vitest('embedded postgresql', ['.db.test.ts'], { ROOKERY_TEST_DB: 'embedded' });
}

if (failures.length) {
  process.stdout.write('\nFailures:\n');
  for (const f of failures) process.stdout.write(`  - ${f}\n`);
}
process.stdout.write(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exit(total.failed === 0 ? 0 : 1);
