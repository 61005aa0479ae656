import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interfacesNotUp, portsNotForwarding } from './readiness.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('link readiness', () => {
  it('lists lab interfaces that are not UP, ignoring loopback', () => {
    expect(interfacesNotUp(fixture('ip-link-host.json'))).toEqual(['rk-p2p']);
    expect(interfacesNotUp('[]')).toEqual([]);
  });

  it('lists bridge ports that do not forward yet', () => {
    expect(portsNotForwarding(fixture('bridge-link-switch.json'))).toEqual(['rk0-lan']);
    expect(portsNotForwarding('')).toEqual([]);
  });
});
