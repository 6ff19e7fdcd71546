// The store conformance suite: every store (memory, KV, Durable Objects, cookie, and yours) must pass it.
// Published as `edge-sessions/testing`; the runner's describe/it/expect come in as arguments so the same suite
// runs on Vitest (also in the Workers pool), bun:test and Deno without importing any of them.
//
//   describeStoreConformance('my store', (clock) => createMyStore({ now: clock.now }), { describe, it, expect })
//   describeStoreConformance('my stateless store', () => createMySealer(), runner, { stateless: true })
//
// The factory receives the test's clock; a store that keeps its own notion of expiry must use `clock.now`.
// Each test builds its own store and clock.
import { createSessions } from '../../manager.js';
import { movedId } from '../ids.js';
import { refuseNonBoolean, refuseUnknownOptions } from '../option-names.js';
import type { SessionEvent } from '../events.js';
import type { SessionStore, StatelessStore } from '../store-contract.js';
import { createCookieJar } from './cookie-jar.js';
import { describeNoPerUser, describePerUser } from './per-user.js';
import type { TestRunner } from './runner.js';
import {
  cookiePair,
  countingStore,
  createClock,
  OLD_SECRET,
  record,
  request,
  SECRET,
  times,
  type TestClock,
} from './support.js';

/** Builds a fresh store for one test, on that test's clock (pass `clock.now` to a store that keeps time). */
export type StoreFactory = (clock: TestClock) => SessionStore | StatelessStore | Promise<SessionStore | StatelessStore>;

/** Options of {@link describeStoreConformance}. */
export interface ConformanceOptions {
  /**
   * A store that keeps nothing on the server (`edge-sessions/cookie`): instead of the key-value contract it
   * must seal and open records, and the suite checks that it documents, rather than hides, that a copied
   * cookie outlives destroy and regenerate.
   */
  stateless?: boolean;
  /**
   * False for a stateless store that signs without encrypting (`createCookieStore({ encrypt: false })`): the
   * suite then does not ask its seals to hide the plaintext. Default true.
   */
  encrypts?: boolean;
  /**
   * False for a store that cannot refuse a create of an ID that is taken or ended (Workers KV has no conditional
   * write): the suite then does not ask it to. Default true.
   */
  refusesTakenIds?: boolean;
  /**
   * True for a store with a per-user index (`listByUser` and `destroyByUser`): the per-user suite runs on it.
   * False (the default): the suite checks that both are `STORE_UNSUPPORTED`.
   */
  perUser?: boolean;
}

let unique = 0;
/** A fresh key per call, so tests on a backend shared by a test file never collide. */
function key(label: string): string {
  unique++;
  return `${label}-${unique}-${Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, '_').padEnd(24, 'x');
}

/** A fresh ID a regenerate of `from` moves the session to, as the manager makes it: `from`'s lineage first. */
function movedKey(from: string, label: string): string {
  return movedId(from, key(label));
}

/**
 * Registers the store conformance suite: the store contract (create, update, regenerate, destroy, expiry, count)
 * called directly, then sessions over the store through the manager. Every built-in store runs it; run it on
 * yours with your runner's `describe`, `it` and `expect`.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest'; // or 'bun:test'
 * import { describeStoreConformance } from 'edge-sessions/testing';
 *
 * describeStoreConformance('my store', (clock) => createMyStore({ now: clock.now }), { describe, it, expect });
 * ```
 */
export function describeStoreConformance(
  name: string,
  createStore: StoreFactory,
  runner: TestRunner,
  options: ConformanceOptions = {},
): void {
  refuseUnknownOptions('describeStoreConformance', options, CONFORMANCE_OPTIONS);
  // `stateless: 'true'` would run the server-side contract on a stateless store, `perUser: 'yes'` skip a suite.
  for (const name of CONFORMANCE_OPTIONS) refuseNonBoolean('describeStoreConformance', options, name);
  const { describe } = runner;
  const stateless = options.stateless === true;
  async function setup(idleTimeout?: number, onEvent?: (event: SessionEvent) => void) {
    const clock = createClock();
    const raw = await createStore(clock);
    const counted = countingStore(raw);
    const sessions = createSessions({
      store: counted.store,
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      onEvent,
      ...(idleTimeout === undefined ? {} : { idleTimeout, touchAfter: 60 }),
    });
    return { clock, raw, counted, sessions };
  }

  describe(`store conformance: ${name}`, () => {
    if (stateless) describeSealerContract(createStore, options.encrypts !== false, runner);
    else describeStoreContract(createStore, options.refusesTakenIds !== false, runner);
    describeSessions(setup, stateless, runner);
    if (options.perUser === true) {
      const perUserStore = createStore as (clock: TestClock) => Promise<SessionStore>;
      describePerUser(perUserStore, runner, options.refusesTakenIds !== false);
    } else describeNoPerUser(createStore, runner);
  });
}

function describeStoreContract(createStore: StoreFactory, refusesTakenIds: boolean, runner: TestRunner): void {
  const { describe, it, expect } = runner;
  describe('the store contract', () => {
    async function fresh() {
      const clock = createClock();
      const store = (await createStore(clock)) as SessionStore;
      return { clock, store, now: clock.now() };
    }

    it('returns null for an ID it never stored', async () => {
      const { store } = await fresh();
      expect(await store.get(key('missing'))).toBeNull();
    });

    it('creates, and returns what was created, field for field', async () => {
      const { clock, store } = await fresh();
      const k = key('roundtrip');
      const stored = record(
        {
          data: { name: '"zoë \\"quoted\\" ✓"', n: '42', nested: '{"a":[1,2,{"b":null}]}' },
          flash: { notice: '"welcome"' },
          constants: { userId: '7' },
          immutable: ['name'],
          persistent: false,
        },
        clock.now(),
      );
      expect(await store.create(k, stored)).toBe(true);
      expect(await store.get(k)).toEqual(stored);
    });

    it('keeps a copy: changing the object after create changes nothing stored', async () => {
      const { store, now } = await fresh();
      const k = key('copy');
      const data: Record<string, string> = { a: '1' };
      await store.create(k, record({ data }, now));
      data.a = '2';
      expect((await store.get(k))?.data).toEqual({ a: '1' });
    });

    // Registered only for stores that can (not skipped: a green run skips nothing).
    const itIfRefuses: typeof it = refusesTakenIds ? it : ((() => undefined) as unknown as typeof it);

    itIfRefuses('create never overwrites a live session', async () => {
      const { store, now } = await fresh();
      const k = key('taken');
      expect(await store.create(k, record({ data: { a: '1' } }, now))).toBe(true);
      expect(await store.create(k, record({ data: { b: '2' } }, now))).toBe(false);
      expect((await store.get(k))?.data).toEqual({ a: '1' });
    });

    it('update merges changes into what is stored, with the new times, and answers the result', async () => {
      const { clock, store, now } = await fresh();
      const k = key('update');
      await store.create(k, record({ data: { a: '"one"', n: '1' }, flash: { f: '"x"' } }, now));
      clock.advance(10_000);
      const later = clock.now();
      // Two requests' changes, one after the other: neither loses the other's keys.
      await store.update(k, { set: { b: '"two"' } }, times(later, later + 60_000, now + 3_600_000));
      // A new lifetime (remember-me) comes as a new endsAt: the record takes it, as it takes expiresAt.
      const merged = await store.update(
        k,
        { increment: { n: 2 }, delete: ['a'], flash: { g: '"y"' } },
        times(later, later + 120_000, now + 7_200_000, false),
      );
      const expected = {
        data: { n: '3', b: '"two"' },
        flash: { f: '"x"', g: '"y"' },
        // Flash items are numbered: "x" is item 0 (a record without numbers counts from 0), "y" item 1.
        flashIds: { g: 2 },
        createdAt: now,
        accessedAt: later,
        endsAt: now + 7_200_000,
        expiresAt: later + 120_000,
        persistent: false,
      };
      expect(merged).toEqual(expected);
      expect(await store.get(k)).toEqual(expected);
    });

    it("update applies a clear (the stored keys go, then this request's sets) and immutable keys", async () => {
      const { clock, store, now } = await fresh();
      const k = key('clear');
      await store.create(k, record({ data: { a: '1', b: '2', role: '"admin"' }, immutable: ['role'] }, now));
      const t = times(clock.now(), clock.now() + 60_000, now + 3_600_000);
      // session.clear() as a logout: nothing of what was stored may survive it, immutable keys included.
      const cleared = await store.update(k, { clear: true, set: { c: '3' }, immutable: { role: false } }, t);
      expect(cleared?.data).toEqual({ c: '3' });
      expect(cleared?.immutable).toBeUndefined();
      expect((await store.get(k))?.data).toEqual({ c: '3' });
      // A key made immutable stays so: a later plain set of it changes nothing.
      expect((await store.update(k, { set: { d: '4' }, immutable: { d: true } }, t))?.immutable).toEqual(['d']);
      expect((await store.update(k, { set: { d: '5', e: '6' } }, t))?.data).toEqual({ c: '3', d: '4', e: '6' });
    });

    it('update (a touch: no changes) moves only the times', async () => {
      const { clock, store, now } = await fresh();
      const k = key('touch');
      await store.create(k, record({ data: { a: '"kept"' }, expiresAt: now + 120_000, endsAt: now + 600_000 }, now));
      clock.advance(100_000);
      await store.update(k, {}, times(clock.now(), clock.now() + 120_000, now + 600_000));
      clock.advance(100_000);
      const back = await store.get(k);
      expect(back?.data).toEqual({ a: '"kept"' });
      expect(back?.expiresAt).toBe(now + 220_000);
    });

    it('update never creates: an unknown, destroyed or expired session stays absent', async () => {
      const { clock, store, now } = await fresh();
      const t = times(now, now + 60_000);
      const unknown = key('unknown');
      expect(await store.update(unknown, { set: { a: '1' } }, t)).toBeNull();
      expect(await store.get(unknown)).toBeNull();

      const destroyed = key('destroyed');
      await store.create(destroyed, record({}, now));
      expect([true, destroyed]).toContain(await store.destroy(destroyed, now + 3_600_000));
      expect(await store.update(destroyed, { set: { a: '1' } }, t)).toBeNull();
      expect(await store.get(destroyed)).toBeNull();

      const expired = key('expired');
      // Idle: expired at expiresAt, though its lifetime (endsAt) runs on.
      await store.create(expired, record({ expiresAt: now + 60_000, endsAt: now + 3_600_000 }, now));
      clock.advance(60_000);
      expect(await store.update(expired, { set: { a: '1' } }, times(clock.now(), clock.now() + 60_000))).toBeNull();
      // Nor does a destroy find it live: it ends nothing, and says so (no `destroyed` event).
      expect(await store.destroy(expired, clock.now() + 3_600_000)).toBe(false);
    });

    it('a consumed flash is removed only if it still holds the value read', async () => {
      const { store, now } = await fresh();
      const k = key('flash');
      await store.create(k, record({ flash: { msg: '"old"', other: '"o"' } }, now));
      await store.update(k, { flash: { msg: '"new"' } }, times(now, now + 60_000, now + 3_600_000));
      // A request that read "old" consumes it: the newer value stays; a flash it read unchanged goes.
      const after = await store.update(
        k,
        { consumed: { msg: '"old"', other: '"o"' } },
        times(now, now + 60_000, now + 3_600_000),
      );
      expect(after?.flash).toEqual({ msg: '"new"' });
    });

    it('appends flash items to the list it holds, and consumes a list read item by item', async () => {
      const { store, now } = await fresh();
      const k = key('list');
      await store.create(k, record({ flash: { one: '"x"', list: '["a"]' } }, now));
      const t = times(now, now + 60_000, now + 3_600_000);
      // Two requests' appends: both stay; a single value becomes the first item of a list.
      await store.update(k, { append: { list: ['"b"'], one: ['"y"'], fresh: ['1'] } }, t);
      await store.update(k, { append: { list: ['"c"', '{"d":1}'] } }, t);
      expect((await store.get(k))?.flash).toEqual({ one: '["x","y"]', list: '["a","b","c",{"d":1}]', fresh: '[1]' });
      // A request that read ["a","b"] consumes those two; one that read the whole of `fresh` removes it.
      const after = await store.update(k, { consumedItems: { list: '["a","b"]', fresh: '[1]', one: '["z"]' } }, t);
      expect(after?.flash).toEqual({ one: '["x","y"]', list: '["c",{"d":1}]' });
    });

    it('consumes exactly the flash items numbered below what a request read', async () => {
      const { store, now } = await fresh();
      const k = key('numbered');
      // The list's first item holds a comma, a quote and brackets: the items are cut from the text, not split on ','.
      const list = '["[a,\\"]"]';
      await store.create(k, record({ flash: { list, one: '"x"', again: '"g"' } }, now));
      const t = times(now, now + 60_000, now + 3_600_000);
      // A request read all three (each up to item 1). Meanwhile others append, and consume and store "g" again.
      await store.update(k, { append: { list: ['{"x":[1,"]"]}', '"b"'], one: ['"y"'] } }, t);
      await store.update(k, { consumedUpTo: { again: 1 } }, t);
      await store.update(k, { flash: { again: '"g"' } }, t);
      // Its read goes in: only what it read is consumed. The text it sends too is for stores with their own merge.
      const read = { consumedUpTo: { list: 1, one: 1, again: 1 }, consumedItems: { list } };
      const after = await store.update(k, { ...read, consumed: { one: '"x"', again: '"g"' } }, t);
      expect(after?.flash).toEqual({ list: '[{"x":[1,"]"]},"b"]', one: '["y"]', again: '"g"' });
      expect(after?.flashIds).toEqual({ list: 3, one: 2, again: 4 });
      expect((await store.get(k))?.flash).toEqual(after?.flash);
      // Everything read goes; a number past the list's end removes it all.
      const last = await store.update(k, { consumedUpTo: { list: 3, one: 9, again: 4 } }, t);
      expect(last?.flash).toBeUndefined();
      expect(last?.flashNext).toBe(4);
    });

    it('consumes only the flash items read when the numbers were reset after the read', async () => {
      const { store, now } = await fresh();
      const k = key('reset');
      // An older version, which keeps no flash numbers, wrote the list after a request read ["a","b"] as items
      // 3 and 4: counted from 0 now, "c" is number 2, below what that request read.
      await store.create(k, record({ flash: { list: '["a","b","c"]' } }, now));
      const t = times(now, now + 60_000, now + 3_600_000);
      const after = await store.update(k, { consumedUpTo: { list: 5 }, consumedItems: { list: '["a","b"]' } }, t);
      expect(after?.flash).toEqual({ list: '["c"]' });
      expect((await store.get(k))?.flash).toEqual({ list: '["c"]' });
    });

    it('refuses an increment onto a stored value that is not a number, and keeps the record', async () => {
      const { store, now } = await fresh();
      const k = key('nan');
      await store.create(k, record({ data: { hex: '"0x10"', big: '1e308', n: '1' } }, now));
      const t = times(now, now + 60_000, now + 3_600_000);
      await expect(store.update(k, { increment: { hex: 1 } }, t)).rejects.toMatchObject({ code: 'TYPE_MISMATCH' });
      // A sum that is not finite, from a stored value or from the increment itself, is not a number either.
      for (const increment of [{ big: 1e308 }, { n: Infinity }, { n: NaN }] as Record<string, number>[]) {
        await expect(store.update(k, { increment }, t)).rejects.toMatchObject({ code: 'TYPE_MISMATCH' });
      }
      expect((await store.get(k))?.data).toEqual({ hex: '"0x10"', big: '1e308', n: '1' });
    });

    it('regenerate moves the live session to a new ID with its changes; the old ID is ended', async () => {
      const { clock, store, now } = await fresh();
      const from = key('from');
      const to = movedKey(from, 'to');
      await store.create(from, record({ data: { a: '1' } }, now));
      // A change another request stored under the old ID before the move is moved with it.
      await store.update(from, { set: { b: '2' } }, times(now, now + 60_000, now + 3_600_000));
      // A login that regenerates may start a new lifetime: the moved record takes this write's endsAt, and
      // keeps its createdAt.
      clock.advance(10_000);
      const t = times(clock.now(), clock.now() + 60_000, now + 7_200_000);
      const moved = await store.regenerate(from, to, { set: { c: '3' } }, t);
      expect(moved?.data).toEqual({ a: '1', b: '2', c: '3' });
      expect([moved?.createdAt, moved?.endsAt]).toEqual([now, now + 7_200_000]);
      expect(await store.get(to)).toEqual(moved);
      expect(await store.get(from)).toBeNull();
      expect(await store.update(from, { set: { late: '1' } }, times(now, now + 60_000))).toBeNull();
      if (refusesTakenIds) expect(await store.create(from, record({}, now))).toBe(false);
    });

    it('regenerate of a session that is not live creates nothing', async () => {
      const { store, now } = await fresh();
      const [gone, never] = [key('gone'), key('never')];
      const [to, toNever] = [movedKey(gone, 'to'), movedKey(never, 'to')];
      await store.create(gone, record({}, now));
      await store.destroy(gone, now + 3_600_000);
      expect(await store.regenerate(gone, to, {}, times(now, now + 60_000))).toBeNull();
      expect(await store.regenerate(never, toNever, {}, times(now, now + 60_000))).toBeNull();
      expect(await store.get(to)).toBeNull();
      expect(await store.get(toNever)).toBeNull();
    });

    it('destroy ends a session for good: no update, regenerate or create brings it back', async () => {
      const { clock, store, now } = await fresh();
      const k = key('ended');
      await store.create(k, record({}, now));
      expect([true, k]).toContain(await store.destroy(k, now + 3_600_000));
      // Kept until retainUntil, not a moment: a write in flight may arrive a minute later.
      clock.advance(60_000);
      const t = times(clock.now(), clock.now() + 60_000);
      expect(await store.get(k)).toBeNull();
      expect(await store.update(k, {}, t)).toBeNull();
      expect(await store.regenerate(k, movedKey(k, 'to'), {}, t)).toBeNull();
      // A create of the ended ID is refused, or (KV) cannot make the session readable again.
      if (refusesTakenIds) expect(await store.create(k, record({}, clock.now()))).toBe(false);
      else await store.create(k, record({}, clock.now()));
      expect(await store.get(k)).toBeNull();
      // Ending an unknown ID is not an error, and says it ended nothing.
      expect(await store.destroy(key('never'), now + 3_600_000)).toBe(false);
    });

    it('destroy of an ID the session moved away from ends it under its new ID, and answers that ID', async () => {
      const { clock, store, now } = await fresh();
      const a = key('a');
      const b = movedKey(a, 'b');
      const c = movedKey(b, 'c');
      await store.create(a, record({}, now));
      await store.regenerate(a, b, {}, times(now, now + 60_000, now + 3_600_000));
      await store.regenerate(b, c, {}, times(now, now + 60_000, now + 3_600_000));
      // Forwards are kept until the expiresAt of their regenerate: an admin's destroy comes later.
      clock.advance(30_000);
      expect(await store.destroy(a, now + 3_600_000)).toBe(c);
      expect(await store.get(c)).toBeNull();
      expect(await store.update(c, {}, times(now, now + 60_000))).toBeNull();
    });

    it('once expiresAt has passed, returns no live record', async () => {
      const { clock, store, now } = await fresh();
      const k = key('expiry');
      await store.create(k, record({ expiresAt: now + 120_000, endsAt: now + 120_000 }, now));
      clock.advance(119_999);
      expect((await store.get(k))?.expiresAt).toBe(clock.now() + 1);
      // Live until then: a write 1 ms before expiresAt (a touch that keeps the times) goes through.
      expect(await store.update(k, {}, times(clock.now(), now + 120_000))).not.toBeNull();
      clock.advance(1);
      // Either gone, or still held but visibly expired (the manager will not use it).
      const after = await store.get(k);
      expect(after === null || after.expiresAt <= clock.now()).toBe(true);
    });

    it('keeps data keys such as __proto__ and constructor as plain data', async () => {
      const { store, now } = await fresh();
      const k = key('proto');
      const data = JSON.parse('{"__proto__":"\\"x\\"","constructor":"1","toString":"2"}') as Record<string, string>;
      await store.create(k, record({ data }, now));
      await store.update(k, { set: { extra: '3' } }, times(now, now + 60_000, now + 3_600_000));
      const back = await store.get(k);
      expect(Object.keys(back!.data).sort()).toEqual(['__proto__', 'constructor', 'extra', 'toString']);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });

    it('count and clear see only live sessions, or the manager says the store cannot', async () => {
      const { clock, store, now } = await fresh();
      const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
      if (store.count === undefined || store.clear === undefined) {
        await expect(sessions.count()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
        await expect(sessions.destroyAll()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
        return;
      }
      await sessions.destroyAll();
      await store.create(key('c1'), record({ expiresAt: now + 120_000 }, now));
      await store.create(key('c2'), record({ expiresAt: now + 120_000 }, now));
      await store.create(key('c3'), record({ expiresAt: now + 60_000, endsAt: now + 60_000 }, now));
      const ended = key('c4');
      await store.create(ended, record({ expiresAt: now + 120_000 }, now));
      await store.destroy(ended, now + 3_600_000);
      expect(await sessions.count()).toBe(3);
      clock.advance(60_000);
      expect(await sessions.count()).toBe(2);
      await sessions.destroyAll();
      expect(await sessions.count()).toBe(0);
      // clear() ends live sessions; an ID ended before it stays ended, never free for a create.
      if (refusesTakenIds) expect(await store.create(ended, record({}, clock.now()))).toBe(false);
    });
  });
}

type Setup = (
  idleTimeout?: number,
  onEvent?: (event: SessionEvent) => void,
) => Promise<{
  clock: TestClock;
  raw: SessionStore | StatelessStore;
  counted: ReturnType<typeof countingStore<SessionStore | StatelessStore>>;
  sessions: ReturnType<typeof createSessions>;
}>;

function describeSessions(setup: Setup, stateless: boolean, runner: TestRunner): void {
  const { describe, it, expect } = runner;
  describe('sessions over the store', () => {
    it('stores a new session and reads it back on the next request', async () => {
      const { sessions } = await setup();
      const jar = createCookieJar();
      const first = await sessions.start(request());
      first.set('user', { name: 'ada', roles: ['admin'] });
      first.setFlash('notice', 'hello');
      jar.apply(await first.commit());

      const second = await sessions.start(request(jar.header()));
      expect(second.isNew).toBe(false);
      expect(second.id).toBe(first.id);
      expect(second.get('user')).toEqual({ name: 'ada', roles: ['admin'] });
      expect(second.getFlash('notice')).toBe('hello');
      jar.apply(await second.commit());

      const third = await sessions.start(request(jar.header()));
      expect(third.hasFlash('notice')).toBe(false);
      expect(third.get('user')).toEqual({ name: 'ada', roles: ['admin'] });
    });

    it('does no store call for a visitor without a cookie who writes nothing, and sets no cookie', async () => {
      const { sessions, counted } = await setup();
      const session = await sessions.start(request('theme=dark; lang=en'));
      session.get('anything');
      const headers = await session.commit();
      expect(headers.getSetCookie()).toEqual([]);
      expect(counted.total()).toBe(0);
    });

    it('does exactly one read and no write for a returning read-only request', async () => {
      const { sessions, counted } = await setup();
      const first = await sessions.start(request());
      first.set('n', 1);
      const cookie = cookiePair(await first.commit());
      counted.calls.create = 0;

      const again = await sessions.start(request(`theme=dark; ${cookie}`));
      expect(again.get('n')).toBe(1);
      const headers = await again.commit();
      expect(headers.getSetCookie()).toEqual([]);
      expect(counted.calls.get).toBe(stateless ? 0 : 1); // a stateless store reads the cookie only
      expect(counted.writes()).toBe(0);
    });

    it('writes nothing for unchanged requests inside touchAfter, with an idle timeout', async () => {
      const { sessions, counted, clock } = await setup(600);
      const first = await sessions.start(request());
      first.set('n', 1);
      const cookie = cookiePair(await first.commit());
      const writesAfterCreate = counted.writes();

      clock.advanceSec(30);
      const a = await sessions.start(request(cookie));
      a.set('n', 1); // the same value: no change
      expect((await a.commit()).getSetCookie()).toEqual([]);
      clock.advanceSec(20);
      const b = await sessions.start(request(cookie));
      expect((await b.commit()).getSetCookie()).toEqual([]);
      expect(counted.writes()).toBe(writesAfterCreate);

      clock.advanceSec(20); // 70 s after the write: the touch is due
      const c = await sessions.start(request(cookie));
      expect((await c.commit()).getSetCookie()).toHaveLength(1);
      expect(counted.writes()).toBe(stateless ? 0 : writesAfterCreate + 1);
    });

    it('ends a session after its idle timeout, and not before', async () => {
      const { sessions, clock } = await setup(600);
      const first = await sessions.start(request());
      first.set('n', 1);
      const cookie = cookiePair(await first.commit());
      clock.advanceSec(599);
      expect((await sessions.start(request(cookie))).isNew).toBe(false);
      clock.advanceSec(1);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    it('ends a session at its lifetime even when the store still holds it', async () => {
      const { sessions, clock } = await setup();
      const first = await sessions.start(request());
      first.set('n', 1);
      const cookie = cookiePair(await first.commit());
      clock.advanceSec(3599);
      expect((await sessions.start(request(cookie))).get('n')).toBe(1);
      clock.advanceSec(1);
      const later = await sessions.start(request(cookie));
      expect(later.isNew).toBe(true);
      expect(later.get('n')).toBeUndefined();
    });

    it(
      stateless
        ? 'destroys: the browser cookie is expired, but a copy still opens (no revocation)'
        : 'destroys: the old cookie then opens nothing',
      async () => {
        const { sessions } = await setup();
        const first = await sessions.start(request());
        first.set('n', 1);
        const cookie = cookiePair(await first.commit());
        const headers = await sessions.destroy(request(cookie));
        expect(headers.getSetCookie()[0]).toMatch(/Max-Age=0/);
        expect((await sessions.start(request(cookie))).isNew).toBe(!stateless);
      },
    );

    it(
      stateless
        ? 'regenerates: data kept under a new ID (a copy of the old cookie still opens)'
        : 'regenerates: data kept under a new ID, the old cookie dead',
      async () => {
        const { sessions } = await setup();
        const first = await sessions.start(request());
        first.set('cart', [1, 2]);
        const oldCookie = cookiePair(await first.commit());
        const second = await sessions.start(request(oldCookie));
        const oldId = second.id;
        second.regenerate();
        const newCookie = cookiePair(await second.commit());
        expect(second.id).not.toBe(oldId);
        expect(newCookie).not.toBe(oldCookie);
        expect((await sessions.start(request(oldCookie))).isNew).toBe(!stateless);
        const renewed = await sessions.start(request(newCookie));
        expect(renewed.id).toBe(second.id);
        expect(renewed.get('cart')).toEqual([1, 2]);
      },
    );

    it(
      stateless
        ? 'destroyById is refused: a stateless store cannot revoke'
        : 'destroyById ends that session for its cookie',
      async () => {
        const { sessions } = await setup();
        const first = await sessions.start(request());
        first.set('n', 1);
        const cookie = cookiePair(await first.commit());
        if (stateless) {
          await expect(sessions.destroyById(first.id)).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
          expect((await sessions.start(request(cookie))).isNew).toBe(false);
        } else {
          await sessions.destroyById(first.id);
          expect((await sessions.start(request(cookie))).isNew).toBe(true);
        }
      },
    );

    if (!stateless) {
      it('destroyById of an ID the session moved away from ends it; the event names the ID it ended', async () => {
        const events: SessionEvent[] = [];
        const { sessions } = await setup(undefined, (event) => void events.push(event));
        const first = await sessions.start(request());
        first.set('n', 1);
        const oldId = first.id;
        const second = await sessions.start(request(cookiePair(await first.commit())));
        second.regenerate();
        const newCookie = cookiePair(await second.commit());
        await sessions.destroyById(oldId);
        expect((await sessions.start(request(newCookie))).isNew).toBe(true);
        // An app that keeps data by session ID followed `regenerated` to the new ID: `destroyed` must name it.
        const destroyed = events.flatMap((e) => (e.type === 'destroyed' ? [e.id] : []));
        expect(destroyed).toEqual([second.id]);
      });
    }

    it('keeps increments, immutables and constants through the store', async () => {
      const { sessions } = await setup();
      const jar = createCookieJar();
      const created = await sessions.create(request(), { constants: { userId: 7 }, data: { visits: 1 } });
      created.setImmutable('role', { name: 'admin' });
      jar.apply(await created.commit());
      const next = await sessions.start(request(jar.header()));
      expect(next.increment('visits')).toBe(2);
      jar.apply(await next.commit());
      const last = await sessions.start(request(jar.header()));
      expect(last.get('visits')).toBe(2);
      expect(last.constant('userId')).toBe(7);
      expect(last.isImmutable('role')).toBe(true);
      expect(() => last.set('role', { name: 'user' })).toThrow(/immutable/);
    });

    it("keeps a session's own unlimited lifetime and idle timeout through the store", async () => {
      const { sessions, clock } = await setup();
      const jar = createCookieJar();
      const created = await sessions.create(request(), { expires: Infinity, idleTimeout: 7200, data: { n: 1 } });
      jar.apply(await created.commit());
      for (let i = 0; i < 3; i++) {
        clock.advanceSec(3000); // past the manager's 3600 s lifetime, inside the session's idle timeout
        const next = await sessions.start(request(jar.header()));
        expect(next.get('n')).toBe(1);
        jar.apply(await next.commit());
      }
      clock.advanceSec(7200);
      expect(await sessions.get(request(jar.header()))).toBeNull();
    });
  });
}

function describeSealerContract(createStore: StoreFactory, encrypts: boolean, runner: TestRunner): void {
  const { describe, it, expect } = runner;
  describe('the sealer contract (stateless store)', () => {
    const secrets = [SECRET];

    it('opens what it sealed, and only under the same cookie name', async () => {
      const { sealer } = (await createStore(createClock())) as StatelessStore;
      expect(sealer).toBeDefined();
      const sealed = await sealer!.seal('{"hello":"zoë ✓"}', secrets, 'sid');
      expect(sealed).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(await sealer!.open(sealed, secrets, 'sid')).toEqual({ plaintext: '{"hello":"zoë ✓"}', stale: false });
      expect(await sealer!.open(sealed, secrets, 'other')).toBeNull();
    });

    if (encrypts) {
      it('seals the same plaintext differently each time (random IV) and hides it', async () => {
        const { sealer } = (await createStore(createClock())) as StatelessStore;
        const a = await sealer!.seal('secret-value', secrets, 'sid');
        const b = await sealer!.seal('secret-value', secrets, 'sid');
        expect(a).not.toBe(b);
        expect(a).not.toContain('secret');
      });
    }

    it('refuses every single-character change', async () => {
      const { sealer } = (await createStore(createClock())) as StatelessStore;
      const sealed = await sealer!.seal('{"n":1}', secrets, 'sid');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      let opened = 0;
      for (let i = 0; i < sealed.length; i++) {
        const c = sealed[i] === '.' ? 'A' : alphabet[(alphabet.indexOf(sealed[i]!) + 1) % 64]!;
        if ((await sealer!.open(sealed.slice(0, i) + c + sealed.slice(i + 1), secrets, 'sid')) !== null) opened++;
      }
      expect(opened).toBe(0);
      expect(await sealer!.open(sealed.slice(0, -1), secrets, 'sid')).toBeNull();
      expect(await sealer!.open('', secrets, 'sid')).toBeNull();
    });

    it('opens under an older secret as stale, and not at all once that secret is gone', async () => {
      const { sealer } = (await createStore(createClock())) as StatelessStore;
      const sealed = await sealer!.seal('x', [OLD_SECRET], 'sid');
      expect(await sealer!.open(sealed, [SECRET, OLD_SECRET], 'sid')).toEqual({ plaintext: 'x', stale: true });
      expect(await sealer!.open(sealed, [SECRET], 'sid')).toBeNull();
    });
  });
}

const CONFORMANCE_OPTIONS: ReadonlySet<string> = new Set<keyof ConformanceOptions>([
  'stateless',
  'encrypts',
  'refusesTakenIds',
  'perUser',
]);
