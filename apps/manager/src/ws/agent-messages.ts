// Agent → manager messages on the stream: parsed and checked against the contract, answered; never throws.
import { type ServerStreamMessage, StreamHeartbeat } from '@rookery/protocol';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { HeartbeatFields } from '../services/heartbeats.js';

/** What a message may do on behalf of the device the stream authenticated as (port; faked in unit tests). */
export interface AgentMessageTarget {
  /** records a heartbeat of the connected device */
  heartbeat(fields: HeartbeatFields): void;
}

/** What the route does with one message: send a reply, or close the socket. */
export type MessageOutcome = { reply: ServerStreamMessage } | { close: { code: number; reason: string } };

const heartbeatCheck = TypeCompiler.Compile(StreamHeartbeat);
const KNOWN = 'ping, heartbeat';

const fail = (error: string, message: string, extra: Partial<ServerStreamMessage> = {}): MessageOutcome => ({
  reply: { type: 'error', error, message, ...extra } as ServerStreamMessage,
});

/** A string id of the contract's shape, to echo in an error about a message that was otherwise bad. */
function echoId(msg: Record<string, unknown>): { id?: string } {
  const id = msg.id;
  return typeof id === 'string' && id.length >= 1 && id.length <= 64 ? { id } : {};
}

/**
 * Handles one text frame from an agent. Non-JSON closes the socket with 1003; JSON that is not a
 * known, valid message is answered with `{type:"error"}` and changes nothing.
 */
export function handleAgentMessage(text: string, target: AgentMessageTarget): MessageOutcome {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { close: { code: 1003, reason: 'messages are JSON' } };
  }
  if (
    typeof msg !== 'object' ||
    msg === null ||
    Array.isArray(msg) ||
    typeof (msg as { type?: unknown }).type !== 'string'
  ) {
    return fail('invalid_message', 'a message is a JSON object with a string "type"');
  }
  const m = msg as Record<string, unknown> & { type: string };
  switch (m.type) {
    case 'ping':
      return { reply: { type: 'pong' } };
    case 'heartbeat': {
      if (!heartbeatCheck.Check(m)) {
        const first = heartbeatCheck.Errors(m).First();
        return fail(
          'invalid_message',
          `invalid heartbeat: ${first ? `${first.path || '/'} ${first.message}` : 'bad shape'}`,
          {
            ...echoId(m),
            details: { field: first?.path ?? '' },
          },
        );
      }
      target.heartbeat({
        agent_state: m.agent_state,
        config_version: m.config_version,
        spool_backlog: m.spool_backlog,
      });
      return { reply: m.id === undefined ? { type: 'heartbeat_ack' } : { type: 'heartbeat_ack', id: m.id } };
    }
    default:
      return fail('unknown_message_type', `unknown message type "${m.type.slice(0, 64)}"; known: ${KNOWN}`, echoId(m));
  }
}
