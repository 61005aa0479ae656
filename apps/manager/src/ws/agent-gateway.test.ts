// The gateway routes nudges by scope and closes only the streams a revocation names.
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { AgentGateway } from './agent-gateway.js';

class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  sent: unknown[] = [];
  closed: number | null = null;
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code: number) {
    this.closed = code;
    this.readyState = 3;
  }
}

const socket = () => new FakeSocket();
const as = (s: FakeSocket) => s as unknown as WebSocket;
/** A socket added to `g` for a device in `ouPath`. */
function connect(g: AgentGateway, deviceId: string, ouPath: string, tag = 't'): FakeSocket {
  const s = socket();
  g.add(as(s), deviceId, ouPath, tag);
  return s;
}

describe('AgentGateway', () => {
  it('says hello and nudges by global, OU subtree and device scope', () => {
    const g = new AgentGateway();
    const a = connect(g, '1', '/1/2/', 'tagA');
    const b = connect(g, '2', '/3/', 'tagB');
    expect(a.sent).toEqual([{ type: 'hello', device_id: 1 }]);
    g.handle({ scope: 'ou', ou_path: '/1/', version: 5 });
    g.handle({ scope: 'device', device_id: '2', version: 6 });
    g.handle({ scope: 'global', version: 7 });
    expect(a.sent.slice(1).map((m: any) => m.config_version)).toEqual([5, 7]);
    expect(b.sent.slice(1).map((m: any) => m.config_version)).toEqual([6, 7]);
  });

  it('a re-enrolment keeps the stream opened with the new credential and closes older ones', () => {
    const g = new AgentGateway();
    const old = connect(g, '1', '/1/', 'oldtag');
    const fresh = connect(g, '1', '/1/', 'newtag');
    g.handle({ scope: 'revoke', device_id: '1', keep: 'newtag' });
    expect(old.closed).toBe(4401);
    expect(fresh.closed).toBeNull();
    g.handle({ scope: 'revoke', device_id: '1' });
    expect(fresh.closed).toBe(4401);
  });

  it('follows a device that moved to another OU', () => {
    const g = new AgentGateway();
    const s = connect(g, '1', '/1/');
    g.handle({ scope: 'device', device_id: '1', version: 2, ou_path: '/9/' });
    g.handle({ scope: 'ou', ou_path: '/1/', version: 3 });
    g.handle({ scope: 'ou', ou_path: '/9/', version: 4 });
    expect(s.sent.slice(1).map((m: any) => m.config_version)).toEqual([2, 4]);
  });

  it('follows a subtree that moved: its agents are nudged, and later changes of the old path miss them', () => {
    const g = new AgentGateway();
    const inside = connect(g, '1', '/1/5/7/', 't1');
    const outside = connect(g, '2', '/1/6/', 't2');
    // OU 5 moved under OU 9
    g.handle({ scope: 'ou', ou_path: '/9/5/', version: 3, moved_from: '/1/5/' });
    g.handle({ scope: 'ou', ou_path: '/1/5/', version: 4 });
    g.handle({ scope: 'ou', ou_path: '/9/', version: 5 });
    expect(inside.sent.slice(1).map((m: any) => m.config_version)).toEqual([3, 5]);
    expect(outside.sent.slice(1)).toEqual([]);
  });
});
