// Test relay between an agent and the real manager on 127.0.0.1: forwards TCP both ways and, when armed,
// cuts the connection as the response to the next result upload starts to arrive. The manager has stored
// the batch; the agent never hears so and must retry it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /;

export class UploadResponseCutter {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed = 0;
  /** responses cut so far */
  cut = 0;

  /** `target()` is read for each new connection, so the manager may come back on another port. */
  constructor(private readonly target: () => { hostname: string; port: string }) {
    this.server = createServer((client) => this.relay(client));
  }

  /** Listens on 127.0.0.1 (free port); resolves with the URL agents should use. */
  listen(): Promise<string> {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        const a = this.server.address();
        resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
      });
    });
  }

  /** Cuts the response of the next `n` result uploads. */
  arm(n = 1): void {
    this.armed += n;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket): void {
    const t = this.target();
    const upstream = createConnection({ host: t.hostname, port: Number(t.port) });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    }
    // the last request on this connection was a result upload (HTTP/1.1 without pipelining: its response is next)
    let upload = false;
    client.on('data', (chunk: Buffer) => {
      const head = chunk.subarray(0, 40).toString('latin1');
      if (REQUEST_LINE.test(head)) upload = head.startsWith('POST /api/v1/results/upload');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (upload && this.armed > 0) {
        this.armed--;
        this.cut++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
