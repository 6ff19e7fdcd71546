// Small pieces the suites share, and the project's own tests reuse through test/helpers.ts.
import type { SessionRecord, SessionStore, SessionTimes, StatelessStore } from '../store-contract.js';

export const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
export const OLD_SECRET = 'older-secret-0123456789-abcdefghijklmno';
export const T0 = Date.UTC(2026, 0, 1);

/** The clock each suite test runs on: it moves only when the test says, so no test sleeps. */
export interface TestClock {
  /** The current time in epoch milliseconds; pass it to your store as its `now`. */
  now(): number;
  /** Moves the clock on by `ms` milliseconds. */
  advance(ms: number): void;
  /** Moves the clock on by `seconds` seconds. */
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

let users = 0;
/** A user ID no other test of a shared backend (one Redis, one Durable Object namespace) uses. */
export function uniqueUser(label: string): string {
  return `${label}-${++users}-${Math.random().toString(36).slice(2, 8)}`;
}

export function request(cookie?: string, url = 'https://example.com/'): Request {
  return new Request(url, cookie === undefined ? {} : { headers: { cookie } });
}

/**
 * The Cookie header a browser would send after `headers`: the `name=value` pairs of every Set-Cookie that does
 * not expire the cookie (a stateless session may span several chunk cookies).
 */
export function cookiePair(headers: Headers): string {
  const pairs = headers
    .getSetCookie()
    .filter((line) => !/; Max-Age=0(;|$)/.test(line))
    .map((line) => line.slice(0, line.indexOf(';')));
  if (pairs.length === 0) throw new Error('no Set-Cookie in headers');
  return pairs.join('; ');
}

export interface StoreCalls {
  get: number;
  create: number;
  update: number;
  regenerate: number;
  destroy: number;
  clear: number;
  count: number;
}

/** Wraps a store and counts each call (the store-operation budget). */
export function countingStore<S extends SessionStore | StatelessStore>(
  store: S,
): { store: S; calls: StoreCalls; writes(): number; total(): number } {
  const calls: StoreCalls = { get: 0, create: 0, update: 0, regenerate: 0, destroy: 0, clear: 0, count: 0 };
  const wrapped = Object.create(store) as S;
  for (const op of Object.keys(calls) as (keyof StoreCalls)[]) {
    const original = (store as unknown as Record<string, unknown>)[op];
    if (typeof original !== 'function') continue;
    Object.defineProperty(wrapped, op, {
      value: (...args: unknown[]) => {
        calls[op]++;
        return (original as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      },
    });
  }
  return {
    store: wrapped,
    calls,
    writes: () => calls.create + calls.update + calls.regenerate + calls.destroy + calls.clear,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
  };
}

/** Times for a write at `now` that keep the session until `expiresAt`. */
export function times(now: number, expiresAt: number, endsAt = expiresAt, persistent = true): SessionTimes {
  return { accessedAt: now, endsAt, expiresAt, persistent };
}

export function record(overrides: Partial<SessionRecord> = {}, now = T0): SessionRecord {
  return {
    data: { name: '"alice"', n: '1' },
    createdAt: now,
    accessedAt: now,
    endsAt: now + 3_600_000,
    expiresAt: now + 3_600_000,
    ...overrides,
  };
}

/** What `fn` throws (undefined if it returns), for a `toMatchObject` that every runner's `expect` has. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
