import type { SessionRecord, SessionStore, SessionTimes, StatelessStore } from '../src/index.js';

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

/** The value of the first Set-Cookie in `headers`. */
export function cookieValue(headers: Headers): string {
  const pair = cookiePair(headers).split('; ')[0]!;
  return pair.slice(pair.indexOf('=') + 1);
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

/** A browser's cookie jar, as far as tests need one: applies Set-Cookie lines (Max-Age=0 deletes). */
export function createJar() {
  const cookies = new Map<string, string>();
  return {
    apply(headers: Headers): void {
      for (const line of headers.getSetCookie()) {
        const pair = line.slice(0, line.indexOf(';'));
        const eq = pair.indexOf('=');
        if (/; Max-Age=0(;|$)/.test(line)) cookies.delete(pair.slice(0, eq));
        else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    },
    /** The Cookie header to send, or undefined when empty. */
    header(): string | undefined {
      return cookies.size === 0 ? undefined : [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    },
    get size(): number {
      return cookies.size;
    },
  };
}

/**
 * True inside workerd. A Request that workerd builds itself takes only ASCII header values (it re-encodes the
 * rest as UTF-8 and warns once per header), so byte-level cases stop at 0x7e there.
 */
export const inWorkerd =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
