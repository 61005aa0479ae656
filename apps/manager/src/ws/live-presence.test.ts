// Replicas publish live messages only while a viewer somewhere watches.
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { LiveFeed } from './live-feed.js';
import { LivePresence, type PresenceMessage } from './live-presence.js';

const socket = () => ({ readyState: 1, OPEN: 1, bufferedAmount: 0, send() {} }) as unknown as WebSocket;
const scope = { kind: 'global' } as never;

/** Two replicas whose messages reach each other (and themselves) at once. */
function pair() {
  const sent: PresenceMessage[] = [];
  const nodes: LivePresence[] = [];
  const bus = async (m: PresenceMessage) => {
    sent.push(m);
    for (const n of nodes) n.receive(m);
  };
  const feeds = [new LiveFeed(), new LiveFeed()] as const;
  nodes.push(new LivePresence(feeds[0], bus, 10_000, 'a'), new LivePresence(feeds[1], bus, 10_000, 'b'));
  /** a replica joining the bus later, with no viewers of its own */
  const join = (name: string) => {
    const n = new LivePresence(new LiveFeed(), bus, 10_000, name);
    nodes.push(n);
    return n;
  };
  return { feeds, nodes: nodes as [LivePresence, LivePresence], sent, join };
}

describe('LivePresence', () => {
  it('nobody watches: no replica publishes', () => {
    const { nodes } = pair();
    expect(nodes.map((n) => n.watched())).toEqual([false, false]);
  });

  it('a viewer on one replica makes every replica publish until the last viewer leaves', () => {
    const { feeds, nodes, sent } = pair();
    const leave1 = feeds[0].add(socket(), scope);
    const leave2 = feeds[0].add(socket(), scope);
    expect(nodes.map((n) => n.watched())).toEqual([true, true]);
    expect(sent).toEqual([{ replica: 'a', viewers: true }]);
    leave1();
    expect(nodes[1].watched()).toBe(true);
    leave2();
    leave2(); // removing twice says nothing more
    expect(nodes.map((n) => n.watched())).toEqual([false, false]);
    expect(sent).toEqual([
      { replica: 'a', viewers: true },
      { replica: 'a', viewers: false },
    ]);
  });

  it("a replica's word expires after three periods when it is not repeated (a replica that died)", () => {
    const { nodes } = pair();
    const now = Date.now();
    nodes[1].receive({ replica: 'gone', viewers: true }, now);
    expect(nodes[1].watched(now + 29_999)).toBe(true);
    expect(nodes[1].watched(now + 30_001)).toBe(false);
  });

  it('a starting replica asks, and replicas with viewers answer', () => {
    const { feeds, nodes, sent, join } = pair();
    feeds[0].add(socket(), scope);
    sent.length = 0;
    const late = join('c');
    expect(late.watched()).toBe(false);
    late.start();
    late.stop();
    expect(sent).toEqual([
      { replica: 'c', ask: true },
      { replica: 'a', viewers: true },
    ]);
    expect(late.watched()).toBe(true);
    expect(nodes[1].watched()).toBe(true);
  });

  it('ignores malformed messages and its own', () => {
    const { nodes } = pair();
    for (const m of [
      null,
      1,
      'x',
      {},
      { replica: 5, viewers: true },
      { replica: 'a', viewers: true },
      { replica: 'z' },
    ])
      nodes[0].receive(m);
    expect(nodes[0].watched()).toBe(false);
  });
});
