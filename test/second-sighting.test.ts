import { describe, expect, it } from 'vitest';
import { SecondSighting } from '../src/lib/second-sighting.js';

// The doorkeeper in front of the caches of checked cookie values: a value is admitted on its second sighting.

const value = (i: number) => `session-${i}.kid${String(i).padStart(12, '0')}tag`;

describe('SecondSighting', () => {
  it('admits a value the second time it is seen, and every time after while it keeps its slot', () => {
    const seen = new SecondSighting(256);
    expect(seen.admit(value(1))).toBe(false);
    expect(seen.admit(value(1))).toBe(true);
    expect(seen.admit(value(1))).toBe(true);
    expect(seen.admit(value(2))).toBe(false);
    expect(seen.admit(value(2))).toBe(true);
  });

  it('forgets a value once many others have been seen, and never admits one seen once', () => {
    const seen = new SecondSighting(64);
    let admitted = 0;
    for (let i = 0; i < 10_000; i++) if (seen.admit(value(i))) admitted++;
    // Distinct values: only a 32-bit fingerprint collision could admit one.
    expect(admitted).toBe(0);
    expect(seen.admit(value(0))).toBe(false);
    expect(seen.admit(value(9_999))).toBe(true);
  });

  it('takes any string, the empty one and short ones included', () => {
    const seen = new SecondSighting(16);
    for (const text of ['', 'a', '\u{1F600}', 'x'.repeat(10_000)]) {
      expect(seen.admit(text), JSON.stringify(text.slice(0, 8))).toBe(false);
      expect(seen.admit(text), JSON.stringify(text.slice(0, 8))).toBe(true);
    }
  });
});
