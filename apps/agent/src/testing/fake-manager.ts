// A small in-process manager on 127.0.0.1 speaking the agent contract (enroll, config, heartbeat, upload, stream) for tests.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AGENT_API_VERSION,
  AGENT_PATHS,
  buildAgentConfig,
  type ConfigResponse,
  type ConfigValues,
  DEFAULT_CONFIG_VALUES,
  EnrollRequest,
  HeartbeatRequest,
  RESULTS_UPLOAD_PATH,
  UploadRequest,
  type UploadResponse,
} from '@rookery/protocol';
import { Value } from '@sinclair/typebox/value';
import { type WebSocket, WebSocketServer } from 'ws';
import { registerContractFormats } from '../link/formats.js';

registerContractFormats();

interface Device {
  id: number;
  serial: string;
  credential: string;
  revoked: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  status: number;
}

/** The fake: mutate its public fields to script behaviour; `requests` records every HTTP call. */
export class FakeManager {
  readonly secrets = new Set<string>();
  readonly devices: Device[] = [];
  readonly requests: RecordedRequest[] = [];
  /** heartbeats that landed, over HTTP or the stream, with the credential they came with */
  readonly heartbeats: { deviceId: number; body: HeartbeatRequest; via: 'http' | 'stream'; credential: string }[] = [];
  /** stream heartbeats: acked like the real manager, or answered as an unknown type (a manager without them) */
  streamHeartbeats: 'ack' | 'unknown' = 'ack';
  config: ConfigValues = structuredClone(DEFAULT_CONFIG_VALUES);
  configVersion = 1;
  nextCheckinSeconds = 1800;
  /** stream upgrades refused (bad or revoked credential) */
  refusedUpgrades = 0;
  /** answer the next N calls with 429 + Retry-After: 1 */
  rateLimitNext = 0;
  /** stored results by id (a retried id is stored once) */
  readonly results = new Map<string, UploadRequest['results'][number]>();
  /** every upload that reached the route: ids, Idempotency-Key, what was answered (0: connection dropped) */
  readonly uploads: { ids: string[]; key: string; status: number; stored: number }[] = [];
  /** store the next N uploads, then drop the connection without answering (a lost response) */
  dropUploadResponses = 0;
  /** answer the next uploads with these statuses instead of storing (e.g. 422, 503, 429) */
  uploadStatuses: number[] = [];
  /** ids refused per record (`rejected` in a 200 answer) */
  readonly rejectIds = new Set<string>();
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<WebSocket, number>();
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.on('upgrade', (req, socket, head) => {
      const device = this.authenticate(req);
      if (!req.url?.startsWith(AGENT_PATHS.stream) || !device) {
        this.refusedUpgrades++;
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(ws, device.id);
        ws.on('close', () => this.sockets.delete(ws));
        ws.on('message', (data) => {
          const m = JSON.parse(String(data)) as { type?: string; id?: string };
          if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
          if (m.type !== 'heartbeat') return;
          if (this.streamHeartbeats === 'unknown') {
            ws.send(JSON.stringify({ type: 'error', error: 'unknown_message_type', message: 'unknown', id: m.id }));
            return;
          }
          const { type: _type, id, ...body } = m;
          if (!Value.Check(HeartbeatRequest, body)) {
            ws.send(JSON.stringify({ type: 'error', error: 'invalid_message', message: 'bad heartbeat', id }));
            return;
          }
          this.heartbeats.push({ deviceId: device.id, body, via: 'stream', credential: device.credential });
          ws.send(JSON.stringify({ type: 'heartbeat_ack', id }));
        });
        ws.send(JSON.stringify({ type: 'hello', device_id: device.id }));
      });
    });
  }

  /** Listens on 127.0.0.1 (`port` 0: any free port; pass the old port to restart a closed fake). */
  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets.keys()) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Connected stream count. */
  get streams(): number {
    return this.sockets.size;
  }

  /** Bumps the config version and nudges every connected agent. */
  changeConfig(patch: (config: ConfigValues) => void): number {
    patch(this.config);
    this.configVersion++;
    for (const ws of this.sockets.keys()) {
      ws.send(JSON.stringify({ type: 'nudge', reason: 'config_changed', config_version: this.configVersion }));
    }
    return this.configVersion;
  }

  /** Revokes every credential issued to `deviceId` and drops its streams. */
  revoke(deviceId: number): void {
    for (const d of this.devices) if (d.id === deviceId) d.revoked = true;
    for (const [ws, id] of this.sockets) if (id === deviceId) ws.close();
  }

  private authenticate(req: IncomingMessage): Device | undefined {
    const m = /^Bearer (rkd_[A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
    return this.devices.find((d) => d.credential === m?.[1] && !d.revoked);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    const url = new URL(req.url ?? '/', 'http://fake');
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
    };
    const error = (status: number, code: string, message: string, headers?: Record<string, string>) =>
      send(status, { error: code, message, details: {} }, headers);

    if (this.rateLimitNext > 0) {
      this.rateLimitNext--;
      return error(429, 'too_many_requests', 'slow down', { 'retry-after': '1' });
    }
    if (req.headers['x-api-version'] !== String(AGENT_API_VERSION)) return error(426, 'api_version', 'need v1');
    if (req.method === 'POST' && !req.headers['idempotency-key']) return error(400, 'bad_request', 'no key');

    if (req.method === 'POST' && url.pathname === AGENT_PATHS.enroll) {
      if (!Value.Check(EnrollRequest, body)) return error(400, 'validation_failed', 'bad enroll body');
      if (!this.secrets.has(body.secret)) return error(401, 'unauthorized', 'invalid enrollment secret');
      const existing = this.devices.find((d) => d.serial === body.device_serial);
      const device: Device = {
        id: existing?.id ?? 42 + this.devices.length,
        serial: body.device_serial,
        credential: `rkd_${randomBytes(24).toString('base64url')}`,
        revoked: false,
      };
      this.devices.push(device);
      return send(201, {
        message: 'Device enrolled successfully',
        ou_id: 3,
        device_id: device.id,
        device_credential: device.credential,
      });
    }
    const device = this.authenticate(req);
    if (!device) return error(401, 'unauthorized', 'unknown or revoked credential');
    if (req.method === 'GET' && url.pathname === AGENT_PATHS.config) {
      if (url.searchParams.get('device_serial') !== device.serial) return error(404, 'not_found', 'device not found');
      const response: ConfigResponse = {
        config: buildAgentConfig(this.config, Date.now()),
        config_name: 'Engineering Config',
        ou_id: 3,
        next_checkin_seconds: this.nextCheckinSeconds,
        next_checkin_at: Date.now() / 1000 + this.nextCheckinSeconds,
        config_version: this.configVersion,
        provenance: {},
      };
      return send(200, response);
    }
    if (req.method === 'POST' && url.pathname === RESULTS_UPLOAD_PATH) return this.upload(req, res, body, send);
    const hb = /^\/api\/v1\/enrollment\/devices\/(\d+)\/heartbeat$/.exec(url.pathname);
    if (req.method === 'POST' && hb) {
      if (Number(hb[1]) !== device.id) return error(404, 'not_found', 'device not found');
      const parsed = body ?? {};
      if (!Value.Check(HeartbeatRequest, parsed)) return error(400, 'validation_failed', 'bad heartbeat');
      this.heartbeats.push({ deviceId: device.id, body: parsed, via: 'http', credential: device.credential });
      return send(200, { message: 'Heartbeat recorded' });
    }
    return error(404, 'not_found', 'no such route');
  }

  private upload(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    send: (status: number, payload: unknown, headers?: Record<string, string>) => void,
  ): void {
    const key = String(req.headers['idempotency-key']);
    const ids = Value.Check(UploadRequest, body) ? body.results.map((r) => r.id) : [];
    const scripted = this.uploadStatuses.shift();
    if (scripted !== undefined || !Value.Check(UploadRequest, body)) {
      const status = scripted ?? 422;
      this.uploads.push({ ids, key, status, stored: 0 });
      const headers: Record<string, string> = status === 429 ? { 'retry-after': '1' } : {};
      return send(status, { error: `http_${status}`, message: 'scripted by the test', details: {} }, headers);
    }
    const accepted: string[] = [];
    const rejected: UploadResponse['rejected'] = [];
    let stored = 0;
    for (const r of body.results) {
      if (this.rejectIds.has(r.id)) {
        rejected.push({ id: r.id, error: 'validation_failed', message: 'refused by the test' });
        continue;
      }
      if (!this.results.has(r.id)) stored++;
      this.results.set(r.id, r);
      accepted.push(r.id);
    }
    if (this.dropUploadResponses > 0) {
      this.dropUploadResponses--;
      this.uploads.push({ ids, key, status: 0, stored });
      res.socket?.destroy();
      return;
    }
    this.uploads.push({ ids, key, status: 200, stored });
    send(200, { accepted, rejected, stored } satisfies UploadResponse);
  }
}
