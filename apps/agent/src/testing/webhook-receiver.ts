// Test tool: a webhook receiver for lab e2e tests; prints each POST (raw body, signature, delivery id) as a JSON line.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: webhook-receiver.ts PORT\n');
  process.exit(2);
}

/** Every request gets 200; bodies above 1 MiB are cut off (a receiver in a test never needs more). */
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    if (body.length < 1 << 20) body += chunk;
  });
  req.on('end', () => {
    const line = {
      method: req.method,
      path: req.url,
      at: new Date().toISOString(),
      signature: req.headers['x-rookery-signature'] ?? null,
      delivery: req.headers['x-rookery-delivery'] ?? null,
      body,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    res.statusCode = 200;
    res.end();
  });
});
server.listen(port, '0.0.0.0', () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
