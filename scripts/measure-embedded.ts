// Measures the embedded PostgreSQL's first init, restart time and RSS: `node --import tsx scripts/measure-embedded.ts`.
import { startEmbeddedPostgres } from '../apps/manager/src/db/embedded.js';
import { execFileSync } from 'node:child_process';
const rss = (pid: number) => {
  // postmaster and its children (checkpointer, walwriter, …)
  const out =
    execFileSync('ps', ['-o', 'rss=', '--ppid', String(pid)]).toString() +
    execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString();
  return (
    out
      .split('\n')
      .filter(Boolean)
      .reduce((a, b) => a + Number(b), 0) / 1024
  );
};
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const db = await startEmbeddedPostgres(process.env.RK_MEASURE_DIR ?? '/tmp/rk-measure-embedded');
  const total = performance.now() - t0;
  console.log(
    JSON.stringify({
      run: i,
      initMs: Math.round(db.initMs),
      startMs: Math.round(db.startMs),
      totalMs: Math.round(total),
      rssMiB: rss(db.pid ?? 0).toFixed(1),
    }),
  );
  await db.stop();
}
