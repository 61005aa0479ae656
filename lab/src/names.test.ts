import { describe, expect, it } from 'vitest';
import { labIdOf, namespaceName, newLabId, wireguardInterfaceName } from './names.js';

describe('names', () => {
  it('makes distinct ids that lab names carry', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newLabId()));
    expect(ids.size).toBe(200);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9][0-9a-z]{5}$/);
      expect(labIdOf(namespaceName(id, 'client'))).toBe(id);
      expect(labIdOf(wireguardInterfaceName(id, 12))).toBe(id);
    }
  });

  it('keeps WireGuard names within the 15-byte interface limit', () => {
    expect(wireguardInterfaceName('1abcde', 99).length).toBeLessThanOrEqual(15);
  });

  it('does not claim other rk names', () => {
    expect(labIdOf('rkpfa')).toBeUndefined();
    expect(labIdOf('rk-agent1')).toBeUndefined();
    expect(labIdOf('rkclient-a')).toBeUndefined();
    expect(labIdOf('eth0')).toBeUndefined();
  });
});
