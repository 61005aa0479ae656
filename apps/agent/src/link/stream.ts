// The agent's WebSocket to the manager: reconnects with backoff, pings, sends agent messages, hands server messages on.
import { AGENT_API_VERSION, AGENT_PATHS, type ClientStreamMessage, ServerStreamMessage } from '@rookery/protocol';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { Backoff, type BackoffOptions } from './backoff.js';

export interface StreamHandlers {
  /** a valid server message */
  onMessage(message: ServerStreamMessage): void;
  /** the upgrade was refused with 401: credential unknown or revoked */
  onUnauthorized(): void;
  /** connected / disconnected */
  onConnectionChange?(connected: boolean): void;
}

/** The stream as the agent uses it (port; faked in unit tests). */
export interface AgentStream {
  /** Connects with this credential and keeps reconnecting until stop(). Calling again switches credential. */
  start(credential: string, handlers: StreamHandlers): void;
  /** Closes and stops reconnecting. Never throws. */
  stop(): void;
  /**
   * Sends a message on the open connection. Returns false (and sends nothing) when not connected;
   * true means handed to the socket, not that the manager got it. Never throws.
   */
  send(message: ClientStreamMessage): boolean;
  readonly connected: boolean;
}

export interface WsAgentStreamOptions {
  /** reconnect delays; @default 1 s doubling to 60 s */
  backoff?: BackoffOptions;
  /** send {type:"ping"} this often, milliseconds; @default 30000 */
  pingIntervalMs?: number;
  /** reconnect when no message arrives this long after a ping, milliseconds; @default 10000 */
  pongTimeoutMs?: number;
  logger: Logger;
}

/** ws:// or wss:// URL of the stream for a manager base URL. */
export function streamUrl(managerUrl: string): string {
  const url = new URL(`${managerUrl.replace(/\/+$/, '')}${AGENT_PATHS.stream}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** {@link AgentStream} over the `ws` package. */
export class WsAgentStream implements AgentStream {
  private socket: WebSocket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private isConnected = false;
  private readonly backoff: Backoff;

  constructor(
    private readonly managerUrl: string,
    private readonly options: WsAgentStreamOptions,
  ) {
    this.backoff = new Backoff({ initialMs: 1000, maxMs: 60_000, ...options.backoff });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  start(credential: string, handlers: StreamHandlers): void {
    this.stop();
    this.backoff.reset();
    const generation = ++this.generation;
    this.connect(credential, handlers, generation);
  }

  stop(): void {
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.clearPing();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.terminate();
    }
    this.setConnected(false, undefined);
  }

  send(message: ClientStreamMessage): boolean {
    const socket = this.socket;
    if (!this.isConnected || socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  private setConnected(value: boolean, handlers: StreamHandlers | undefined): void {
    if (this.isConnected === value) return;
    this.isConnected = value;
    handlers?.onConnectionChange?.(value);
  }

  private clearPing(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private connect(credential: string, handlers: StreamHandlers, generation: number): void {
    const log = this.options.logger;
    const socket = new WebSocket(streamUrl(this.managerUrl), {
      headers: { authorization: `Bearer ${credential}`, 'x-api-version': String(AGENT_API_VERSION) },
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    let refused = false;
    socket.on('unexpected-response', (_req, res) => {
      refused = true;
      log.warn({ status: res.statusCode }, 'agent stream refused');
      socket.terminate();
      if (res.statusCode === 401 && generation === this.generation) {
        this.generation++; // why: a refused credential stays refused; the agent restarts the stream after re-enrolling
        handlers.onUnauthorized();
      }
    });
    socket.on('open', () => {
      this.backoff.reset();
      this.setConnected(true, handlers);
      log.info('agent stream connected');
      this.pingTimer = setInterval(() => {
        socket.send(JSON.stringify({ type: 'ping' }));
        // why: arm once per silence; re-arming on every ping would never fire when pings outpace the timeout
        this.pongTimer ??= setTimeout(() => {
          log.warn('agent stream: no pong, reconnecting');
          socket.terminate();
        }, this.options.pongTimeoutMs ?? 10_000);
      }, this.options.pingIntervalMs ?? 30_000);
    });
    socket.on('message', (data, isBinary) => {
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
      let message: unknown;
      try {
        message = isBinary ? undefined : JSON.parse(String(data));
      } catch {
        message = undefined;
      }
      if (Value.Check(ServerStreamMessage, message)) handlers.onMessage(message);
      else log.warn('agent stream: ignored a message that is not in the contract');
    });
    socket.on('error', (err) => {
      if (!refused) log.warn({ err: err.message }, 'agent stream error');
    });
    socket.on('close', () => {
      this.clearPing();
      if (generation !== this.generation) return;
      this.setConnected(false, handlers);
      const delay = this.backoff.next();
      log.info({ retry_in_ms: delay }, 'agent stream closed');
      this.reconnectTimer = setTimeout(() => this.connect(credential, handlers, generation), delay);
    });
  }
}
