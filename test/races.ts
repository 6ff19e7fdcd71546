// Requests of one session that overlap: shared by the stores that apply changes with update() (memory and
// Durable Objects atomically, KV by re-reading just before it writes, which is enough at one location).
import { createSessions, type Session, type SessionEvent, type Sessions, type SessionStore } from '../src/index.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, request, SECRET, type TestClock } from './helpers.js';

/** `change` on a session read before `destroy`; its commit expires the cookie and the session stays destroyed. */
export async function expectDestroyedMeanwhileStaysDestroyed(
  sessions: Sessions,
  cookie: string,
  change: (stale: Session) => void,
): Promise<Session> {
  const stale = await sessions.start(request(cookie));
  await sessions.destroy(request(cookie));
  change(stale);
  expect((await stale.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
  expect((await sessions.start(request(cookie))).isNew).toBe(true);
  return stale;
}

/** The same overlapping requests on a store, through the manager: nobody's change is lost, nothing comes back. */
export function describeOverlappingRequests(name: string, createStore: (clock: TestClock) => SessionStore): void {
  describe(`${name}: overlapping requests of one session`, () => {
    function setup() {
      const clock = createClock();
      const events: SessionEvent[] = [];
      const sessions = createSessions({
        store: createStore(clock),
        secrets: [SECRET],
        now: clock.now,
        expires: 3600,
        idleTimeout: 600,
        touchAfter: 60,
        onEvent: (e) => events.push(e),
      });
      return { clock, events, sessions };
    }
    async function login(sessions: Sessions, act: (s: Session) => void = (s) => s.set('u', 'ada')) {
      const s = await sessions.start(request());
      act(s);
      const cookie = cookiePair(await s.commit());
      return { cookie, a: await sessions.start(request(cookie)), b: await sessions.start(request(cookie)) };
    }

    it('a session destroyed (or destroyed by ID) while another request held it stays destroyed', async () => {
      const { sessions } = setup();
      await expectDestroyedMeanwhileStaysDestroyed(sessions, (await login(sessions)).cookie, (stale) =>
        stale.set('late', true),
      );
      const { cookie, a } = await login(sessions);
      await sessions.destroyById(a.id);
      a.set('late', true);
      expect((await a.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    it('two requests that set different keys both keep their value', async () => {
      const { sessions } = setup();
      const { cookie, a, b } = await login(sessions);
      a.set('x', 1);
      b.set('y', 2);
      await a.commit();
      await b.commit();
      expect((await sessions.start(request(cookie))).getAll()).toEqual({ u: 'ada', x: 1, y: 2 });
    });

    it('a flash read by one request is not brought back by another that sets a different flash', async () => {
      const { sessions } = setup();
      const { cookie, a, b } = await login(sessions, (s) => s.setFlash('msg', 'hi'));
      expect(a.getFlash('msg')).toBe('hi');
      b.setFlash('other', 'there');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect(next.getFlashes()).toEqual({ other: 'there' });
    });

    it('keys made immutable by two requests both stay immutable', async () => {
      const { sessions } = setup();
      const { cookie, a, b } = await login(sessions);
      a.setImmutable('k1', 'one');
      b.setImmutable('k2', 'two');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect([next.isImmutable('k1'), next.isImmutable('k2')]).toEqual([true, true]);
      expect(() => next.set('k1', 'hacked')).toThrow(expect.objectContaining({ code: 'IMMUTABLE' }));
    });

    it('a plain set from a request that did not know a key had become immutable does not overwrite it', async () => {
      const { sessions } = setup();
      const { cookie, a, b } = await login(sessions);
      a.setImmutable('role', 'user');
      b.set('role', 'admin');
      b.increment('visits');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect(next.get('role')).toBe('user');
      expect(next.isImmutable('role')).toBe(true);
      expect(next.get('visits')).toBe(1);
      // The request that lost sees what the store kept.
      expect(b.get('role')).toBe('user');
    });

    it('setImmutable replaces an immutable value it already held (only a plain set cannot)', async () => {
      const { sessions } = setup();
      const { cookie, a } = await login(sessions, (s) => s.setImmutable('role', 'user'));
      a.setImmutable('role', 'admin');
      await a.commit();
      const next = await sessions.start(request(cookie));
      expect(next.get('role')).toBe('admin');
      expect(next.isImmutable('role')).toBe(true);
      // The same value again is no change: nothing to write.
      next.setImmutable('role', 'admin');
      expect((await next.commit()).getSetCookie()).toEqual([]);
    });

    it('reports a session past its idle timeout as expired (not as an unknown cookie) and clears the cookie', async () => {
      const { sessions, clock, events } = setup();
      const { cookie } = await login(sessions);
      clock.advanceSec(600);
      const late = await sessions.start(request(cookie));
      expect(late.isNew).toBe(true);
      expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle' });
      expect((await late.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
    });
  });
}
