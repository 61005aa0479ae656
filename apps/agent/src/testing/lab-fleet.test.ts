// The curl reply parser of the lab e2e helpers, on captured curl output (fixtures/curl).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCurlReply } from './lab-fleet.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../fixtures/curl/${name}.json`, import.meta.url), 'utf8')) as {
    code: number;
    stdout: string;
    stderr: string;
  };

describe('parseCurlReply', () => {
  it('reads the status from stderr and the JSON body from stdout', () => {
    expect(parseCurlReply(fixture('200-json'))).toEqual({
      status: 200,
      body: { access_token: 't', expires_in: 900 },
    });
    expect(parseCurlReply(fixture('404-error'))).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });

  it('gives a null body for an empty answer', () => {
    expect(parseCurlReply(fixture('204-empty'))).toEqual({ status: 204, body: null });
  });

  it('throws with curl’s message when there was no HTTP answer', () => {
    expect(() => parseCurlReply(fixture('refused'))).toThrow(/curl exited 7: .*Couldn't connect/);
  });

  it('throws when no status was printed', () => {
    expect(() => parseCurlReply({ code: 0, stdout: '{}', stderr: '' })).toThrow(/no status/);
  });
});
