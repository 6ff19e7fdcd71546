import type { SessionStore } from '../src/index.js';
import { cookiePair } from '../src/lib/testing/support.js';

// Shared with the published suites (src/lib/testing), so a project test and a suite test build the same things.
export {
  cookiePair,
  countingStore,
  createClock,
  OLD_SECRET,
  record,
  request,
  SECRET,
  T0,
  times,
  type StoreCalls,
  type TestClock,
} from '../src/lib/testing/support.js';
export { createCookieJar as createJar } from '../src/testing.js';

/** The value of the first Set-Cookie in `headers`. */
export function cookieValue(headers: Headers): string {
  const pair = cookiePair(headers).split('; ')[0]!;
  return pair.slice(pair.indexOf('=') + 1);
}

/** A store whose every method rejects with `error`. */
export function failingStore(error: Error = new Error('backend down')): SessionStore {
  const fail = () => Promise.reject(error);
  return {
    name: 'failing',
    get: fail,
    create: fail,
    update: fail,
    regenerate: fail,
    destroy: fail,
    clear: fail,
    count: fail,
  };
}

/**
 * True inside workerd. A Request that workerd builds itself takes only ASCII header values (it re-encodes the
 * rest as UTF-8 and warns once per header), so byte-level cases stop at 0x7e there.
 */
export const inWorkerd =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
