// Per-user sessions on a store, through the manager: `listByUser` lists exactly the live sessions of a user under
// their current IDs, `destroyByUser` ends them for good, and both stay right when requests overlap — natural
// overlaps (Promise.all, 20 tries each) and deterministic interleavings (a store call held at a gate while
// `destroyByUser` runs to the end).
import { createSessions, type Sessions } from '../../manager.js';
import type { Session } from '../../session.js';
import type { SessionStore } from '../store-contract.js';
import { gatedSessions } from './races.js';
import type { TestRunner } from './runner.js';
import { cookiePair, createClock, record, request, SECRET, uniqueUser as user, type TestClock } from './support.js';

/** Tries of each natural overlap. */
const TRIES = 20;

/**
 * Registers the per-user suite for a store with a per-user index (`listByUser` and `destroyByUser`). Run by
 * `describeStoreConformance` with `{ perUser: true }`.
 */
export function describePerUser(
  createStore: (clock: TestClock) => SessionStore | Promise<SessionStore>,
  runner: TestRunner,
  refusesTakenIds = true,
): void {
  const { describe, it, expect } = runner;

  const setup = () => gatedSessions(createStore);

  /** A login of `userId`: the new session's ID and cookie. */
  async function login(sessions: Sessions, userId: string, device?: string) {
    const s = await sessions.create(request(), { userId, device, data: { n: 1 } });
    const cookie = cookiePair(await s.commit());
    return { id: s.id, cookie };
  }

  async function alive(sessions: Sessions, cookie: string): Promise<boolean> {
    return !(await sessions.start(request(cookie))).isNew;
  }

  async function listed(sessions: Sessions, userId: string): Promise<string[]> {
    return (await sessions.listByUser(userId)).map((info) => info.id).sort();
  }

  function setCookie(headers: Headers): string | undefined {
    return headers.getSetCookie().length === 0 ? undefined : cookiePair(headers);
  }

  describe('per-user sessions', () => {
    it('lists every live session of a user, with its device, and no one else’s', async () => {
      const { sessions, clock } = await setup();
      const [ada, bob] = [user('ada'), user('bob')];
      const phone = await login(sessions, ada, 'Phone');
      clock.advanceSec(5);
      const laptop = await login(sessions, ada, 'Laptop');
      const other = await login(sessions, bob);
      const anonymous = await sessions.start(request());
      anonymous.set('cart', 3);
      await anonymous.commit();

      const infos = await sessions.listByUser(ada);
      // Most recently used first.
      expect(infos.map((i) => i.id)).toEqual([laptop.id, phone.id]);
      expect(infos[1]).toMatchObject({
        id: phone.id,
        maskedId: `${phone.id.slice(0, 3)}...${phone.id.slice(-3)}`,
        userId: ada,
        device: 'Phone',
        persistent: true,
      });
      expect(infos[0]!.createdAt - infos[1]!.createdAt).toBe(5000);
      expect(await listed(sessions, bob)).toEqual([other.id]);
      expect(await sessions.listByUser(user('nobody'))).toEqual([]);
      expect((await sessions.start(request(phone.cookie))).userId).toBe(ada);
      expect((await sessions.start(request(other.cookie))).userId).toBe(bob);
      expect(anonymous.userId).toBeUndefined();
      // Never a cookie value: nothing in an entry carries the cookie's signature.
      const tag = phone.cookie.slice(phone.cookie.lastIndexOf('.') + 1);
      expect(JSON.stringify(infos).includes(tag)).toBe(false);
    });

    it('never lists a destroyed, regenerated-away or expired session; a regenerated one under its new ID', async () => {
      const { sessions, clock } = await setup();
      const ada = user('ada');
      const gone = await login(sessions, ada);
      const moved = await login(sessions, ada, 'Tablet');
      const stays = await login(sessions, ada);
      await sessions.destroy(request(gone.cookie));
      const renewing = await sessions.start(request(moved.cookie));
      renewing.regenerate();
      await renewing.commit();
      expect(await listed(sessions, ada)).toEqual([renewing.id, stays.id].sort());
      // The record moves whole: the device it signed in on goes with it.
      expect((await sessions.listByUser(ada)).find((i) => i.id === renewing.id)?.device).toBe('Tablet');

      // The idle timeout (600 s) passes for every session but the one used meanwhile.
      clock.advanceSec(400);
      const used = await sessions.start(request(stays.cookie));
      used.set('n', 2);
      await used.commit();
      clock.advanceSec(300);
      expect(await listed(sessions, ada)).toEqual([stays.id]);
      const [info] = await sessions.listByUser(ada);
      expect(info!.accessedAt).toBe(used.accessedAt);
    });

    // The manager re-checks each record it is given; the store's own answer is checked here, as the contract says.
    it('the store itself lists only live sessions of that user: no expired one, none of a longer user ID', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600 });
      const ada = user('ada');
      await (await sessions.create(request(), { userId: ada, expires: 60 })).commit();
      const kept = await login(sessions, ada);
      await login(sessions, `${ada}0`);
      clock.advanceSec(60);
      expect((await store.listByUser!(ada)).map((session) => session.id)).toEqual([kept.id]);
    });

    it('destroyByUser ends every session of the user (or all but one), and none works again', async () => {
      const { sessions, clock, store } = await setup();
      const [ada, bob] = [user('ada'), user('bob')];
      const a1 = await login(sessions, ada);
      const a2 = await login(sessions, ada);
      const a3 = await login(sessions, ada);
      const b1 = await login(sessions, bob);
      // A user whose ID starts with ada's is another user: an index looked up by prefix must not reach them.
      const longer = await login(sessions, `${ada}0`);
      expect(await sessions.destroyByUser(ada, { except: a1.id })).toBe(2);
      expect(await alive(sessions, a2.cookie)).toBe(false);
      expect(await alive(sessions, a3.cookie)).toBe(false);
      expect(await alive(sessions, a1.cookie)).toBe(true);
      expect(await alive(sessions, b1.cookie)).toBe(true);
      expect(await listed(sessions, ada)).toEqual([a1.id]);
      expect(await sessions.destroyByUser(ada)).toBe(1);
      expect(await alive(sessions, a1.cookie)).toBe(false);
      expect(await listed(sessions, ada)).toEqual([]);
      expect(await sessions.destroyByUser(ada)).toBe(0);
      expect(await listed(sessions, bob)).toEqual([b1.id]);
      expect(await alive(sessions, longer.cookie)).toBe(true);
      // Each end is kept until retainUntil, as a destroy's: a minute on, an ended ID is still not free to create.
      clock.advanceSec(60);
      if (refusesTakenIds) expect(await store.create(a2.id, record({}, clock.now()))).toBe(false);
    });

    it('refuses a bad userId or except with a SessionError, before any store call', async () => {
      const { sessions } = await setup();
      await expect(sessions.listByUser('')).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await expect(sessions.destroyByUser('x'.repeat(257))).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await expect(sessions.destroyByUser('ada', { except: 'not an id' })).rejects.toMatchObject({
        code: 'INVALID_ID',
      });
      await expect(sessions.create(request(), { userId: 42 as unknown as string })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      });
    });

    it('loses no entry under parallel logins: 50 logins of one user, 10 at a time, are 50 listed', async () => {
      const { sessions } = await setup();
      const ada = user('ada');
      const ids: string[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const logins = await Promise.all(Array.from({ length: 10 }, () => login(sessions, ada)));
        ids.push(...logins.map((l) => l.id));
      }
      expect(new Set(ids).size).toBe(50);
      expect(await listed(sessions, ada)).toEqual([...ids].sort());
      expect(await sessions.destroyByUser(ada)).toBe(50);
      expect(await listed(sessions, ada)).toEqual([]);
    });

    // An unlimited lifetime ends at a time no store can set a TTL to: the index entry must still be written, and
    // outlive the session, which lives on by its writes (each a touch at least a day after the last).
    it('an unlimited session (expires: Infinity) signs in, stays listed for years of use, and is ended', async () => {
      const clock = createClock();
      const store = await createStore(clock);
      const forever = createSessions({ store, secrets: [SECRET], now: clock.now, expires: Infinity });
      const hourly = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600 });
      const ada = user('ada');
      const byManager = await login(forever, ada);
      const own = await hourly.create(request(), { userId: ada, expires: Infinity });
      const byOwn = { id: own.id, cookie: cookiePair(await own.commit()) };
      const ids = [byManager.id, byOwn.id].sort();
      expect(await listed(forever, ada)).toEqual(ids);
      for (let day = 0; day < 1000; day += 100) {
        clock.advanceSec(100 * 86_400);
        for (const { cookie } of [byManager, byOwn]) await (await forever.start(request(cookie))).commit();
        expect(await listed(hourly, ada)).toEqual(ids);
      }
      expect(await alive(hourly, byOwn.cookie)).toBe(true);
      expect(await forever.destroyByUser(ada)).toBe(2);
      expect(await alive(forever, byManager.cookie)).toBe(false);
      expect(await alive(hourly, byOwn.cookie)).toBe(false);
      expect(await listed(forever, ada)).toEqual([]);
    });
  });

  describe(`per-user sessions: destroyByUser overlapping requests (natural overlaps, ${TRIES} tries each)`, () => {
    it('a commit in flight never brings a session back', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const ada = user('ada');
        const { cookie } = await login(sessions, ada);
        const stale = await sessions.start(request(cookie));
        stale.set('late', i);
        const [, ended] = await Promise.all([stale.commit(), sessions.destroyByUser(ada)]);
        expect(ended).toBe(1);
        expect(await alive(sessions, cookie)).toBe(false);
        expect(await listed(sessions, ada)).toEqual([]);
      }
    });

    it('a touch in flight never brings a session back', async () => {
      const { sessions, clock } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const ada = user('ada');
        const { cookie } = await login(sessions, ada);
        clock.advanceSec(120); // a touch is due
        const reader = await sessions.start(request(cookie));
        await Promise.all([reader.commit(), sessions.destroyByUser(ada)]);
        expect(await alive(sessions, cookie)).toBe(false);
      }
    });

    it('a regenerate in flight ends the session under both IDs', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const ada = user('ada');
        const { cookie } = await login(sessions, ada);
        const renewing = await sessions.start(request(cookie));
        renewing.regenerate();
        const [headers] = await Promise.all([renewing.commit(), sessions.destroyByUser(ada)]);
        expect(await alive(sessions, cookie)).toBe(false);
        const renewed = setCookie(headers);
        if (renewed !== undefined) expect(await alive(sessions, renewed)).toBe(false);
        expect(await listed(sessions, ada)).toEqual([]);
      }
    });

    it('the session `except` spares stays spared when it regenerates meanwhile', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const ada = user('ada');
        const spared = await login(sessions, ada);
        const other = await login(sessions, ada);
        const renewing = await sessions.start(request(spared.cookie));
        renewing.regenerate();
        const [headers, ended] = await Promise.all([
          renewing.commit(),
          sessions.destroyByUser(ada, { except: spared.id }),
        ]);
        expect(ended).toBe(1);
        expect(await alive(sessions, other.cookie)).toBe(false);
        const renewed = setCookie(headers)!;
        expect(await alive(sessions, renewed)).toBe(true);
        expect(await listed(sessions, ada)).toEqual([renewing.id]);
      }
    });

    it('a login while it runs is either ended or listed afterwards, never invisible', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const ada = user('ada');
        await login(sessions, ada);
        const [fresh] = await Promise.all([login(sessions, ada), sessions.destroyByUser(ada)]);
        const works = await alive(sessions, fresh.cookie);
        expect(await listed(sessions, ada)).toEqual(works ? [fresh.id] : []);
        if (works) expect(await sessions.destroyByUser(ada)).toBe(1);
        expect(await alive(sessions, fresh.cookie)).toBe(false);
      }
    });
  });

  describe('per-user sessions: destroyByUser interleaved with a request held inside the store', () => {
    /**
     * A logged-in session changed by `change`, whose commit is held at `method` (`when`) while destroyByUser runs
     * to the end; then released. Answers the cookies before and after, and the commit's Set-Cookie, if any.
     */
    async function heldWhileDestroyed(
      method: 'update' | 'regenerate',
      when: 'before' | 'after',
      change: (session: Session) => void,
    ) {
      const { sessions, hold } = await setup();
      const ada = user('ada');
      const { cookie } = await login(sessions, ada);
      const session = await sessions.start(request(cookie));
      change(session);
      const held = hold(method, when);
      const commit = session.commit();
      await held.reached;
      expect(await sessions.destroyByUser(ada)).toBe(1);
      held.release();
      const renewed = setCookie(await commit);
      expect(await alive(sessions, cookie)).toBe(false);
      expect(await listed(sessions, ada)).toEqual([]);
      return { sessions, renewed };
    }

    it('a commit held before the store until destroyByUser returns writes nothing', async () => {
      const { renewed } = await heldWhileDestroyed('update', 'before', (s) => s.set('late', 1));
      expect(renewed).toBeUndefined();
    });

    it('a regenerate held before the store until destroyByUser returns moves nothing', async () => {
      const { renewed } = await heldWhileDestroyed('regenerate', 'before', (s) => s.regenerate());
      expect(renewed).toBeUndefined();
    });

    it('a regenerate done in the store but not yet answered is ended under its new ID', async () => {
      const { sessions, renewed } = await heldWhileDestroyed('regenerate', 'after', (s) => s.regenerate());
      if (renewed !== undefined) expect(await alive(sessions, renewed)).toBe(false);
    });

    for (const when of ['before', 'after'] as const) {
      it(`a regenerate of the spared session held ${when} the store keeps it spared under its new ID`, async () => {
        const { sessions, hold } = await setup();
        const ada = user('ada');
        const spared = await login(sessions, ada);
        const other = await login(sessions, ada);
        const renewing = await sessions.start(request(spared.cookie));
        renewing.regenerate();
        const held = hold('regenerate', when);
        const commit = renewing.commit();
        await held.reached;
        expect(await sessions.destroyByUser(ada, { except: spared.id })).toBe(1);
        held.release();
        const renewed = setCookie(await commit)!;
        expect(await alive(sessions, other.cookie)).toBe(false);
        expect(await alive(sessions, renewed)).toBe(true);
        expect(await listed(sessions, ada)).toEqual([renewing.id]);
      });
    }

    it('a login held before its create until destroyByUser returns is listed afterwards', async () => {
      const { sessions, hold } = await setup();
      const ada = user('ada');
      await login(sessions, ada);
      const held = hold('create', 'before');
      const signingIn = login(sessions, ada);
      await held.reached;
      expect(await sessions.destroyByUser(ada)).toBe(1);
      held.release();
      const fresh = await signingIn;
      expect(await alive(sessions, fresh.cookie)).toBe(true);
      expect(await listed(sessions, ada)).toEqual([fresh.id]);
    });
  });
}

/** For stores without a per-user index: both operations are `STORE_UNSUPPORTED`, naming the store. */
export function describeNoPerUser(createStore: (clock: TestClock) => unknown, runner: TestRunner): void {
  const { it, expect } = runner;
  it('listByUser and destroyByUser are STORE_UNSUPPORTED (no per-user index)', async () => {
    const clock = createClock();
    const store = (await createStore(clock)) as SessionStore;
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    await expect(sessions.listByUser('ada')).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
    await expect(sessions.destroyByUser('ada')).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
    // A session may still belong to a user: the store keeps userId like any other field.
    const s = await sessions.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await s.commit());
    expect((await sessions.start(request(cookie))).userId).toBe('ada');
  });
}
