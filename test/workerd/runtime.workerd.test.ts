// The shared suites (test/*.test.ts) run in this pool too: prove it is workerd, with uncrypto's web build.
import { subtle } from 'uncrypto';
import { describe, expect, it } from '../harness.js';

describe('runtime', () => {
  it('is workerd, and uncrypto hands out the platform WebCrypto', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
    expect(subtle).toBe(crypto.subtle);
  });
});
