import { createSessions, type Session, type Sessions, type SessionStore } from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { cookiePair, record, request, SECRET, times, type TestClock } from '../src/lib/testing/support.js';
import type { TestRunner } from '../src/testing.js';
import { subtle } from 'uncrypto';
import { expect } from './harness.js';

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

/**
 * A store of each kind, by name, for tests that must hold on both: memory (the record kept and merged by the
 * store) and the cookie store (the whole record sealed in the cookie).
 */
export const memoryAndCookie = [
  ['memory', (now: () => number) => createMemoryStore({ now })],
  ['cookie', () => createCookieStore()],
] as const;

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

/**
 * A session of `userId` one second before its idle timeout, made by `sessions` (which must have `idleTimeout:
 * 600`), and a request that loaded it and changed it but has not committed: its commit can then be made to race
 * the expiry (a listing, `destroyByUser`), as the per-user tests of each store do.
 */
export async function sessionAboutToIdleOut(
  sessions: Sessions,
  clock: TestClock,
  userId: string,
): Promise<{ id: string; cookie: string; late: Session }> {
  const login = await sessions.create(request(), { userId, data: { n: 1 } });
  const cookie = cookiePair(await login.commit());
  clock.advanceSec(599);
  const late = await sessions.start(request(cookie)); // live, one second before its idle timeout
  late.set('late', true);
  return { id: login.id, cookie, late };
}

/**
 * Damages the stored record of a user's session (`damage(id)`: text that is not JSON, as a cut-short write or
 * another program leaves it) and checks what a hostile record must give: the session's cookie is "no session" (a
 * `rejected` event, reason `corrupt`, the cookie cleared), not a store error; a login with that cookie works;
 * the record stays as it was (`raw(id)`); the user's listing skips it and `destroyByUser` still runs.
 */
export async function expectUnparsableRecordIsCorrupt(
  store: SessionStore,
  clock: { now(): number },
  damage: (id: string) => Promise<void>,
  raw: (id: string) => Promise<unknown>,
): Promise<void> {
  const events: string[] = [];
  const sessions = createSessions({
    store,
    secrets: [SECRET],
    now: clock.now,
    onEvent: (e) => events.push(e.type === 'rejected' ? `rejected ${e.reason}` : e.type),
  });
  const userId = `damaged-${Math.random().toString(36).slice(2)}`;
  const login = await sessions.create(request(), { userId, data: { n: 1 } });
  const cookie = cookiePair(await login.commit());
  const other = await sessions.create(request(), { userId, data: { n: 2 } });
  await other.commit();
  await damage(login.id);
  const damaged = await raw(login.id);
  events.length = 0;

  const session = await sessions.start(request(cookie));
  expect([session.isNew, session.keys()]).toEqual([true, []]);
  expect(events).toEqual(['rejected corrupt']);
  expect((await session.commit()).getSetCookie()).toEqual([expect.stringMatching(/Max-Age=0/)]);
  const relogin = await sessions.create(request(cookie), { userId, data: { n: 3 } });
  expect(relogin.id).not.toBe(login.id);
  await relogin.commit();
  expect(await raw(login.id)).toEqual(damaged);
  expect((await sessions.listByUser(userId)).map((s) => s.id).sort()).toEqual([other.id, relogin.id].sort());
  await sessions.destroyByUser(userId);
  expect(await sessions.listByUser(userId)).toEqual([]);
}

/** WebCrypto's HMAC-SHA256 key for `secret`, to check the library's tags against. */
export function webHmacKey(secret: string): Promise<CryptoKey> {
  return subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * A Hono middleware that signs a visitor without a user in as `userId` (a remember-me or API-token middleware),
 * after awaiting the session variable, as the README's Hono login does.
 */
export function rememberMe(sessions: Sessions, userId = 'alice') {
  return async (c: { var: { session: Promise<Session> }; req: { raw: Request } }, next: () => Promise<void>) => {
    const current = await c.var.session;
    if (current.userId === undefined) await sessions.create(c.req.raw, { userId });
    await next();
  };
}

/**
 * `promise`, or a rejection naming `what` after `ms`: a peer that never answers (a socket, a server) fails the
 * test at once instead of hanging the run or waiting for the test timeout.
 */
export function inTime<T>(what: string, promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A session renewed `renewals` times, every 15 minutes (periodic rotation), each forward kept until the session's
 * expiry a day on, through `store` directly; then a destroy of its first ID (an admin's, kept in the app's own
 * table, say). Gives what destroy answered and the last ID, which a store that follows every forward ended.
 */
export async function destroyAfterRenewals(store: SessionStore, clock: TestClock, renewals: number) {
  const day = 86_400_000;
  const first = 'renewed-often'.padEnd(24, 'x');
  expect(await store.create(first, record({}, clock.now()))).toBe(true);
  let id = first;
  for (let i = 0; i < renewals; i++) {
    clock.advance(15 * 60_000);
    const next = `${first.slice(0, 22)}renewal-${i}`.padEnd(40, 'x');
    expect(await store.regenerate(id, next, {}, times(clock.now(), clock.now() + day, clock.now() + day))).not.toBe(
      null,
    );
    id = next;
  }
  return { answer: await store.destroy(first, clock.now() + day), last: id };
}

/** A test a collecting runner was given, named with its describe path. */
export interface CollectedTest {
  name: string;
  body: () => Promise<void>;
}

/** A runner that registers nothing: it collects each test (with its describe path) to run it by hand. */
export function collectingRunner(): { runner: TestRunner; tests: CollectedTest[] } {
  const tests: CollectedTest[] = [];
  const path: string[] = [];
  const runner: TestRunner = {
    describe(name, body) {
      path.push(name);
      try {
        body();
      } finally {
        path.pop();
      }
    },
    it(name, body) {
      tests.push({ name: [...path, name].join(' > '), body });
    },
    expect,
  };
  return { runner, tests };
}

/** Runs collected tests in order; the names of those that fail (with `firstOnly`, stops at the first). */
export async function failingTests(tests: readonly CollectedTest[], firstOnly = false): Promise<string[]> {
  const failed: string[] = [];
  for (const test of tests) {
    try {
      await test.body();
    } catch {
      failed.push(test.name);
      if (firstOnly) break;
    }
  }
  return failed;
}
