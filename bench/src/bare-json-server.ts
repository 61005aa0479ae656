// Reference server for B1 and B3: bare node:http that reads the body, parses JSON and answers 200 with a small
// JSON. `--workers N` runs N processes behind the one port (node:cluster), as `rookery manager --workers N`.
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const workers = Number(/^--workers=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 1);

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', (_w, a) => {
    if (++listening === workers) process.stderr.write(`bare server listening on http://127.0.0.1:${a.port}\n`);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  });
} else {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let parsed: unknown = null;
      try {
        if (chunks.length) parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.stringify({ ok: true, n: Array.isArray((parsed as { results?: unknown[] })?.results) ? 1 : 0 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    if (cluster.isPrimary && a && typeof a === 'object') {
      process.stderr.write(`bare server listening on http://127.0.0.1:${a.port}\n`);
    }
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
