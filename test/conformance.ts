// The store conformance suite: every store (memory, KV, Durable Objects, cookie, and yours) must pass it.
//
//   import { describeStoreConformance } from './conformance.js'   // this file, with helpers.ts and harness.ts
//   describeStoreConformance('my store', (clock) => createMyStore({ now: clock.now }))
//   describeStoreConformance('my stateless store', () => createMySealer(), { stateless: true })
//
// The factory receives the test's clock; a store that keeps its own notion of expiry must use `clock.now`.
// Each test builds its own store and clock.
import { createSessions, type SessionStore } from '../src/index.js';
import { describe, expect, it } from './harness.js';
import {
  cookiePair,
  countingStore,
  createClock,
  createJar,
  OLD_SECRET,
  record,
  request,
  SECRET,
  type TestClock,
} from './helpers.js';

export type StoreFactory = (clock: TestClock) => SessionStore | Promise<SessionStore>;

export interface ConformanceOptions {
  /**
   * A store that keeps nothing on the server (`edge-sessions/cookie`): instead of the key-value contract it
   * must seal and open records, and the suite checks that it documents, rather than hides, that a copied
   * cookie outlives destroy and regenerate.
   */
  stateless?: boolean;
}

let unique = 0;
/** A fresh key per call, so tests on a backend shared by a test file never collide. */
function key(label: string): string {
  unique++;
  return `${label}-${unique}-${Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, '_').padEnd(24, 'x');
}

export function describeStoreConformance(
  name: string,
  createStore: StoreFactory,
  options: ConformanceOptions = {},
): void {
  const stateless = options.stateless === true;
  async function setup(idleTimeout?: number) {
    const clock = createClock();
    const raw = await createStore(clock);
    const counted = countingStore(raw);
    const sessions = createSessions({
      store: counted.store,
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      ...(idleTimeout === undefined ? {} : { idleTimeout, touchAfter: 60 }),
    });
    return { clock, raw, counted, sessions };
  }

  describe(`store conformance: ${name}`, () => {
    if (stateless) describeSealerContract(createStore);
    else describeKeyValueContract(createStore);
    describeSessions(setup, stateless);
  });
}

function describeKeyValueContract(createStore: StoreFactory): void {
  describe('the store contract', () => {
    it('returns null for a key it never stored', async () => {
      const store = await createStore(createClock());
      expect(await store.get(key('missing'))).toBeNull();
    });

    it('returns what was set, field for field', async () => {
      const clock = createClock();
      const store = await createStore(clock);
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
      await store.set(k, stored, stored.expiresAt);
      expect(await store.get(k)).toEqual(stored);
    });

    it('keeps a copy: changing the object after set changes nothing stored', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('copy');
      const data: Record<string, string> = { a: '1' };
      await store.set(k, record({ data }, clock.now()), clock.now() + 60_000);
      data.a = '2';
      expect((await store.get(k))?.data).toEqual({ a: '1' });
    });

    it('overwrites on a second set', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('overwrite');
      await store.set(k, record({ data: { a: '1' } }, clock.now()), clock.now() + 60_000);
      await store.set(k, record({ data: { b: '2' } }, clock.now()), clock.now() + 60_000);
      expect((await store.get(k))?.data).toEqual({ b: '2' });
    });

    it('deletes, and deleting an unknown key is not an error', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('delete');
      await store.set(k, record({}, clock.now()), clock.now() + 60_000);
      await store.delete(k);
      expect(await store.get(k)).toBeNull();
      await expect(store.delete(key('never'))).resolves.toBeUndefined();
    });

    it('keeps data keys such as __proto__ and constructor as plain data', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('proto');
      const data = JSON.parse('{"__proto__":"\\"x\\"","constructor":"1","toString":"2"}') as Record<string, string>;
      await store.set(k, record({ data }, clock.now()), clock.now() + 60_000);
      const back = await store.get(k);
      expect(Object.keys(back!.data).sort()).toEqual(['__proto__', 'constructor', 'toString']);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      expect(Object.getPrototypeOf(back!.data)).not.toBe('"x"');
    });

    it('once expiresAt has passed, returns no live record', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('expiry');
      await store.set(
        k,
        record({ expiresAt: clock.now() + 120_000, endsAt: clock.now() + 120_000 }, clock.now()),
        clock.now() + 120_000,
      );
      clock.advance(119_999);
      expect((await store.get(k))?.expiresAt).toBe(clock.now() + 1);
      clock.advance(1);
      // Either gone, or still held but visibly expired (the manager will not use it).
      const after = await store.get(k);
      expect(after === null || after.expiresAt <= clock.now()).toBe(true);
    });

    it('touch, when offered, moves only the expiry', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const k = key('touch');
      const start = clock.now();
      await store.set(
        k,
        record({ data: { a: '"kept"' }, expiresAt: start + 120_000, endsAt: start + 600_000 }, start),
        start + 120_000,
      );
      clock.advance(100_000);
      // Without touch, the manager writes the whole record: the same outcome.
      const later = { ...(await store.get(k))!, expiresAt: clock.now() + 120_000 };
      await (store.touch ? store.touch(k, later.expiresAt) : store.set(k, later, later.expiresAt));
      clock.advance(100_000);
      const back = await store.get(k);
      expect(back?.data).toEqual({ a: '"kept"' });
      expect(back?.expiresAt).toBe(start + 220_000);
    });

    it('count and clear see only live sessions, or the manager says the store cannot', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
      if (store.count === undefined || store.clear === undefined) {
        await expect(sessions.count()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
        await expect(sessions.destroyAll()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
        return;
      }
      await sessions.destroyAll();
      const now = clock.now();
      await store.set(key('c1'), record({}, now), now + 120_000);
      await store.set(key('c2'), record({}, now), now + 120_000);
      await store.set(key('c3'), record({ expiresAt: now + 60_000, endsAt: now + 60_000 }, now), now + 60_000);
      expect(await sessions.count()).toBe(3);
      clock.advance(60_000);
      expect(await sessions.count()).toBe(2);
      await sessions.destroyAll();
      expect(await sessions.count()).toBe(0);
    });
  });
}

type Setup = (idleTimeout?: number) => Promise<{
  clock: TestClock;
  raw: SessionStore;
  counted: ReturnType<typeof countingStore<SessionStore>>;
  sessions: ReturnType<typeof createSessions>;
}>;

function describeSessions(setup: Setup, stateless: boolean): void {
  describe('sessions over the store', () => {
    it('stores a new session and reads it back on the next request', async () => {
      const { sessions } = await setup();
      const jar = createJar();
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
      counted.calls.set = 0;

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

    it('keeps increments, immutables and constants through the store', async () => {
      const { sessions } = await setup();
      const jar = createJar();
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
  });
}

function describeSealerContract(createStore: StoreFactory): void {
  describe('the sealer contract (stateless store)', () => {
    const secrets = [SECRET];

    it('opens what it sealed, and only under the same cookie name', async () => {
      const { sealer } = await createStore(createClock());
      expect(sealer).toBeDefined();
      const sealed = await sealer!.seal('{"hello":"zoë ✓"}', secrets, 'sid');
      expect(sealed).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(await sealer!.open(sealed, secrets, 'sid')).toEqual({ plaintext: '{"hello":"zoë ✓"}', stale: false });
      expect(await sealer!.open(sealed, secrets, 'other')).toBeNull();
    });

    it('seals the same plaintext differently each time (random IV) and hides it', async () => {
      const { sealer } = await createStore(createClock());
      const a = await sealer!.seal('secret-value', secrets, 'sid');
      const b = await sealer!.seal('secret-value', secrets, 'sid');
      expect(a).not.toBe(b);
      expect(a).not.toContain('secret');
    });

    it('refuses every single-character change', async () => {
      const { sealer } = await createStore(createClock());
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
      const { sealer } = await createStore(createClock());
      const sealed = await sealer!.seal('x', [OLD_SECRET], 'sid');
      expect(await sealer!.open(sealed, [SECRET, OLD_SECRET], 'sid')).toEqual({ plaintext: 'x', stale: true });
      expect(await sealer!.open(sealed, [SECRET], 'sid')).toBeNull();
    });
  });
}
