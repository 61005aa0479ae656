// Fakes of the agent's ports for unit tests: scripted manager API, stream, store, probe runner, sink.
import type {
  ClientStreamMessage,
  ConfigResponse,
  EnrollRequest,
  HeartbeatRequest,
  ServerStreamMessage,
  UploadRequest,
  UploadResponse,
} from '@rookery/protocol';
import { buildAgentConfig, DEFAULT_CONFIG_VALUES, type ConfigValues } from '@rookery/protocol';
import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import type { CallOptions, ManagerApi } from '../link/manager-api.js';
import type { AgentStream, StreamHandlers } from '../link/stream.js';
import type { AgentStatus, AgentStore, CachedConfig, StoredCredential } from '../state-store.js';
import type { ProbeOutcome, ProbeRunner, ProbeSpec } from '../tasks/probe-runner.js';
import type { ResultSink, TestResult } from '../tasks/result-sink.js';

type Call =
  | { op: 'enroll'; at: number; body: EnrollRequest; key: string | undefined }
  | { op: 'config'; at: number; credential: string }
  | {
      op: 'heartbeat';
      at: number;
      credential: string;
      deviceId: number;
      body: HeartbeatRequest;
      key: string | undefined;
    }
  | { op: 'upload'; at: number; credential: string; ids: string[]; key: string | undefined };

/** A manager whose answers tests script; every call is recorded with the (fake) time it arrived. */
export class FakeManagerApi implements ManagerApi {
  readonly calls: Call[] = [];
  /** throw this from the next enroll calls (shifted per call) */
  enrollFailures: Error[] = [];
  configFailures: Error[] = [];
  heartbeatFailures: Error[] = [];
  uploadFailures: Error[] = [];
  /** results stored by upload, by id (a retried id is stored once) */
  readonly results = new Map<string, UploadRequest['results'][number]['result']>();
  /** credentials the fake accepts; enroll adds one */
  readonly valid = new Set<string>();
  private issued = 0;
  configValues: ConfigValues = structuredClone(DEFAULT_CONFIG_VALUES);
  configVersion = 1;
  nextCheckinSeconds = 2000;
  rng: () => number = () => 0.5;

  count(op: Call['op']): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  enroll(body: EnrollRequest, options: CallOptions) {
    this.calls.push({ op: 'enroll', at: Date.now(), body, key: options.idempotencyKey });
    const failure = this.enrollFailures.shift();
    if (failure) return Promise.reject(failure);
    const credential = `rkd_${String(++this.issued).padStart(24, '0')}`;
    this.valid.add(credential);
    return Promise.resolve({
      message: 'Device enrolled successfully',
      ou_id: 3,
      device_id: 42,
      device_credential: credential,
    });
  }

  getConfig(credential: string, _serial: string, _options: CallOptions): Promise<ConfigResponse> {
    this.calls.push({ op: 'config', at: Date.now(), credential });
    const failure = this.configFailures.shift();
    if (failure) return Promise.reject(failure);
    return Promise.resolve({
      config: buildAgentConfig(this.configValues, Date.now(), this.rng),
      config_name: 'Engineering Config',
      ou_id: 3,
      next_checkin_seconds: this.nextCheckinSeconds,
      next_checkin_at: Date.now() / 1000 + this.nextCheckinSeconds,
      config_version: this.configVersion,
      provenance: {},
    });
  }

  heartbeat(credential: string, deviceId: number, body: HeartbeatRequest, options: CallOptions) {
    this.calls.push({ op: 'heartbeat', at: Date.now(), credential, deviceId, body, key: options.idempotencyKey });
    const failure = this.heartbeatFailures.shift();
    if (failure) return Promise.reject(failure);
    return Promise.resolve({ message: 'Heartbeat recorded' });
  }

  uploadResults(credential: string, body: UploadRequest, options: CallOptions): Promise<UploadResponse> {
    const ids = body.results.map((r) => r.id);
    this.calls.push({ op: 'upload', at: Date.now(), credential, ids, key: options.idempotencyKey });
    const failure = this.uploadFailures.shift();
    if (failure) return Promise.reject(failure);
    let stored = 0;
    for (const r of body.results) {
      if (!this.results.has(r.id)) stored++;
      this.results.set(r.id, r.result);
    }
    return Promise.resolve({ accepted: ids, rejected: [], stored });
  }
}

/**
 * A stream the test drives: `connect`/`drop` the connection, `deliver` a server message, `refuse` a
 * 401 upgrade. Started streams stay disconnected until `connect()`. Heartbeats sent while connected
 * are recorded in `sent` and answered per `heartbeatAnswer`.
 */
export class FakeStream implements AgentStream {
  handlers: StreamHandlers | undefined;
  credential: string | undefined;
  starts = 0;
  private open = false;
  readonly sent: ClientStreamMessage[] = [];
  /** how heartbeats are answered (on the next microtask): ack, an error, or not at all */
  heartbeatAnswer: 'ack' | 'error' | 'silent' = 'ack';
  get connected(): boolean {
    return this.open;
  }
  start(credential: string, handlers: StreamHandlers): void {
    this.stop();
    this.starts++;
    this.credential = credential;
    this.handlers = handlers;
  }
  stop(): void {
    this.open = false;
    this.handlers = undefined;
  }
  send(message: ClientStreamMessage): boolean {
    if (!this.open) return false;
    this.sent.push(message);
    if (message.type === 'heartbeat' && this.heartbeatAnswer !== 'silent') {
      const id = message.id;
      const answer: ServerStreamMessage =
        this.heartbeatAnswer === 'ack'
          ? { type: 'heartbeat_ack', id }
          : { type: 'error', error: 'unknown_message_type', message: 'unknown message type "heartbeat"', id };
      queueMicrotask(() => this.deliver(answer));
    }
    return true;
  }
  /** the connection opened (the manager's hello follows separately, via `deliver`) */
  connect(): void {
    if (!this.handlers || this.open) return;
    this.open = true;
    this.handlers.onConnectionChange?.(true);
  }
  /** the connection dropped; the real stream would reconnect */
  drop(): void {
    if (!this.open) return;
    this.open = false;
    this.handlers?.onConnectionChange?.(false);
  }
  deliver(message: ServerStreamMessage): void {
    this.handlers?.onMessage(message);
  }
  refuse(): void {
    const h = this.handlers;
    this.stop();
    h?.onUnauthorized();
  }
  /** heartbeats sent on the stream */
  heartbeats(): Extract<ClientStreamMessage, { type: 'heartbeat' }>[] {
    return this.sent.filter((m) => m.type === 'heartbeat');
  }
}

/** In-memory {@link AgentStore}. */
export class MemoryStore implements AgentStore {
  readonly dir = '(memory)';
  credential: StoredCredential | undefined;
  config: CachedConfig | undefined;
  status: AgentStatus | undefined;
  loadCredential = () => Promise.resolve(this.credential);
  saveCredential = (c: StoredCredential) => Promise.resolve(void (this.credential = c));
  clearCredential = () => Promise.resolve(void ((this.credential = undefined), (this.config = undefined)));
  saveConfig = (c: CachedConfig) => Promise.resolve(void (this.config = c));
  loadConfig = () => Promise.resolve(this.config);
  saveStatus = (s: AgentStatus) => Promise.resolve(void (this.status = s));
  loadStatus = () => Promise.resolve(this.status);
}

/** Records every probe it is asked to run (with the fake time) and resolves at once. */
export class RecordingRunner implements ProbeRunner {
  readonly runs: (ProbeSpec & { at: number })[] = [];
  run(spec: ProbeSpec): Promise<ProbeOutcome> {
    this.runs.push({ ...spec, at: Date.now() });
    return Promise.resolve({ ok: true, data: { rtt_ms: 1 } });
  }
}

export class MemorySink implements ResultSink {
  readonly results: TestResult[] = [];
  write(result: TestResult): Promise<void> {
    this.results.push(result);
    return Promise.resolve();
  }
}

/** A logger that keeps its JSON lines in `lines` (for asserting on log output). */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', {
    write: (chunk: string) => void lines.push(JSON.parse(chunk) as Record<string, unknown>),
  });
  return { logger, lines };
}
