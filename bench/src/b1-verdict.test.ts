import { describe, expect, it } from 'vitest';
import { requestVerdict } from './b1-ingest-mix.js';

describe('B1 request verdict', () => {
  it('passes at 0.6 and above against a reference whose limit the ladder found', () => {
    expect(requestVerdict(0.6, false)).toBe('pass');
    expect(requestVerdict(0.617, false)).toBe('pass');
  });

  it('is only an upper bound when the reference passed the ladder top', () => {
    expect(requestVerdict(0.617, true)).toBe('upper bound only: not a pass');
  });

  it('fails below 0.6, wherever the reference stopped', () => {
    expect(requestVerdict(0.599, false)).toBe('FAIL');
    expect(requestVerdict(0.43, true)).toBe('FAIL');
  });
});
