// The outbound URL guard: forbidden address classes and URL forms.
import { describe, expect, it } from 'vitest';
import { assertOutboundUrl, guardedLookup, isForbiddenAddress } from './url-guard.js';

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.1',
    '0.0.0.0',
    '169.254.169.254',
    '169.254.1.1',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    'garbage',
  ])('refuses %s', (a) => expect(isForbiddenAddress(a)).toBe(true));
  it.each(['10.1.2.3', '192.0.2.1', '2001:db8::1', '8.8.4.4'])('accepts %s', (a) =>
    expect(isForbiddenAddress(a)).toBe(false),
  );
});

describe('assertOutboundUrl', () => {
  const o = { allow: [] };
  it('refuses other schemes, credentials and literal forbidden hosts', () => {
    expect(() => assertOutboundUrl('file:///etc/passwd', o)).toThrow(/only http/);
    expect(() => assertOutboundUrl('http://u:p@example.com/', o)).toThrow(/credentials/);
    expect(() => assertOutboundUrl('http://169.254.169.254/latest/meta-data', o)).toThrow(/metadata/);
    expect(() => assertOutboundUrl('http://[::1]:80/', o)).toThrow(/loopback/);
    expect(() => assertOutboundUrl('nonsense', o)).toThrow(/not a URL/);
  });
  it('lets an operator-allowed host through', () => {
    expect(assertOutboundUrl('http://127.0.0.1:9/', { allow: ['127.0.0.1'] }).port).toBe('9');
  });
});

describe('guardedLookup', () => {
  it('refuses a name that resolves to loopback (DNS rebinding), unless allowed', async () => {
    const look = (allow: string[]) =>
      new Promise<string>((resolve, reject) =>
        guardedLookup({ allow })('localhost', {}, (err, address) => (err ? reject(err) : resolve(String(address)))),
      );
    await expect(look([])).rejects.toThrow(/refusing to connect/);
    await expect(look(['localhost'])).resolves.toMatch(/127\.0\.0\.1|::1/);
  });
});
