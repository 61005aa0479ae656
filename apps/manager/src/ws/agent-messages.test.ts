// Stream message handling: heartbeats recorded for the connected device and acked; bad input answered, never recorded.
import { describe, expect, it } from 'vitest';
import type { HeartbeatFields } from '../services/heartbeats.js';
import { handleAgentMessage } from './agent-messages.js';

function target() {
  const recorded: HeartbeatFields[] = [];
  return { recorded, heartbeat: (f: HeartbeatFields) => void recorded.push(f) };
}
const send = (t: ReturnType<typeof target>, m: unknown) => handleAgentMessage(JSON.stringify(m), t);

describe('handleAgentMessage', () => {
  it('records a heartbeat with only the contract fields and acks it with its id', () => {
    const t = target();
    const out = send(t, {
      type: 'heartbeat',
      id: 'hb-1',
      agent_state: 'enrolled',
      config_version: 4,
      spool_backlog: 2,
    });
    expect(out).toEqual({ reply: { type: 'heartbeat_ack', id: 'hb-1' } });
    expect(t.recorded).toEqual([{ agent_state: 'enrolled', config_version: 4, spool_backlog: 2 }]);
  });

  it('takes the device from the connection: a device_id in the message is not a field that travels', () => {
    const t = target();
    expect(send(t, { type: 'heartbeat', device_id: 999 })).toEqual({ reply: { type: 'heartbeat_ack' } });
    expect(t.recorded).toEqual([{ agent_state: undefined, config_version: undefined, spool_backlog: undefined }]);
  });

  it.each([
    [{ type: 'heartbeat', agent_state: 'dancing' }, '/agent_state'],
    [{ type: 'heartbeat', config_version: -1 }, '/config_version'],
    [{ type: 'heartbeat', config_version: 2 ** 31 }, '/config_version'],
    [{ type: 'heartbeat', spool_backlog: 1.5 }, '/spool_backlog'],
    [{ type: 'heartbeat', spool_backlog: '3' }, '/spool_backlog'],
  ])('answers an invalid heartbeat %j with an error naming the field and records nothing', (m, field) => {
    const t = target();
    const out = send(t, { ...m, id: 'x1' });
    expect(out).toMatchObject({ reply: { type: 'error', error: 'invalid_message', id: 'x1', details: { field } } });
    expect((out as { reply: { message: string } }).reply.message).toContain(field);
    expect(t.recorded).toEqual([]);
  });

  it('does not echo an id that is itself invalid', () => {
    const t = target();
    const out = send(t, { type: 'heartbeat', id: 'x'.repeat(65) });
    expect(out).toMatchObject({ reply: { type: 'error', error: 'invalid_message', details: { field: '/id' } } });
    expect((out as { reply: object }).reply).not.toHaveProperty('id');
    expect(t.recorded).toEqual([]);
  });

  it('answers unknown types and non-objects with errors', () => {
    const t = target();
    expect(send(t, { type: 'reboot', id: 'r' })).toMatchObject({
      reply: { type: 'error', error: 'unknown_message_type', id: 'r' },
    });
    for (const m of [null, 42, 'heartbeat', ['heartbeat'], {}, { type: 7 }]) {
      expect(send(t, m)).toMatchObject({ reply: { type: 'error', error: 'invalid_message' } });
    }
    expect(t.recorded).toEqual([]);
  });

  it('closes with 1003 on text that is not JSON', () => {
    const t = target();
    expect(handleAgentMessage('{"type":"heartbeat"', t)).toEqual({
      close: { code: 1003, reason: 'messages are JSON' },
    });
    expect(t.recorded).toEqual([]);
  });

  it('answers ping with pong', () => {
    expect(send(target(), { type: 'ping' })).toEqual({ reply: { type: 'pong' } });
  });
});
