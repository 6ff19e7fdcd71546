import type { SessionRecord, SessionStore } from '../src/index.js';

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const OLD_SECRET = 'older-secret-0123456789-abcdefghijklmno';
export const T0 = Date.UTC(2026, 0, 1);

export interface TestClock {
  now(): number;
  advance(ms: number): void;
  advanceSec(seconds: number): void;
}

/** A clock that moves only when told to: no test sleeps. */
export function createClock(start = T0): TestClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    advanceSec: (seconds) => {
      t += seconds * 1000;
    },
  };
}

export function request(cookie?: string, url = 'https://example.com/'): Request {
  return new Request(url, cookie === undefined ? {} : { headers: { cookie } });
}

/** The `name=value` pair of the first Set-Cookie in `headers` (for the next request's Cookie header). */
export function cookiePair(headers: Headers): string {
  const line = headers.getSetCookie()[0];
  if (line === undefined) throw new Error('no Set-Cookie in headers');
  return line.slice(0, line.indexOf(';'));
}

/** The value of the first Set-Cookie in `headers`. */
export function cookieValue(headers: Headers): string {
  const pair = cookiePair(headers);
  return pair.slice(pair.indexOf('=') + 1);
}

export interface StoreCalls {
  get: number;
  set: number;
  delete: number;
  touch: number;
  update: number;
  clear: number;
  count: number;
}

/** Wraps a store and counts each call (the store-operation budget). */
export function countingStore<S extends SessionStore>(store: S): { store: S; calls: StoreCalls; writes(): number; total(): number } {
  const calls: StoreCalls = { get: 0, set: 0, delete: 0, touch: 0, update: 0, clear: 0, count: 0 };
  const wrapped = Object.create(store) as S;
  for (const op of Object.keys(calls) as (keyof StoreCalls)[]) {
    const original = store[op] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (typeof original !== 'function') continue;
    Object.defineProperty(wrapped, op, {
      value: (...args: unknown[]) => {
        calls[op]++;
        return original.apply(store, args);
      },
    });
  }
  return {
    store: wrapped,
    calls,
    writes: () => calls.set + calls.delete + calls.touch + calls.update + calls.clear,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
  };
}

/** A store whose every method rejects with `error`. */
export function failingStore(error: Error = new Error('backend down')): SessionStore {
  const fail = () => Promise.reject(error);
  return { name: 'failing', get: fail, set: fail, delete: fail, touch: fail, clear: fail, count: fail };
}

export function record(overrides: Partial<SessionRecord> = {}, now = T0): SessionRecord {
  return {
    data: { name: '"alice"', n: '1' },
    createdAt: now,
    endsAt: now + 3_600_000,
    expiresAt: now + 3_600_000,
    ...overrides,
  };
}
