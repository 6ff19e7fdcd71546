// Defects the differential fuzz test (differential.node.test.ts) found, each shrunk to a short deterministic case.
import { createSessions } from '../src/index.js';
import { createMemoryStore } from '../src/memory.js';
import { createCookieJar } from '../src/testing.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, memoryAndCookie, request, SECRET } from './helpers.js';

describe('differential fuzzing: found defects', () => {
  it('a new session on the request of an expired session gets a cookie of its own ID, not the old one', async () => {
    // A browser-session cookie (remember-me off) outlives the session's lifetime: the browser sends it after the
    // session expired. The request stores a new session; its cookie must name that session, or the next request
    // finds nothing ("unknown") and the visitor loses what the request stored.
    const clock = createClock();
    const events: string[] = [];
    const sessions = createSessions({
      store: createMemoryStore({ now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      onEvent: (e) => events.push(e.type === 'rejected' || e.type === 'expired' ? `${e.type} ${e.reason}` : e.type),
    });
    const jar = createCookieJar({ now: clock.now });
    const visit = () =>
      sessions.start(new Request('https://example.com/', { headers: { cookie: jar.header() ?? '' } }));

    const first = await visit();
    first.persistent = false;
    first.set('n', 1);
    jar.apply(await first.commit());
    clock.advanceSec(3601);

    const second = await visit(); // the old session expired: a new one
    expect(second.isNew).toBe(true);
    second.set('cart', 'book');
    jar.apply(await second.commit());
    const third = await visit();
    expect(events).toEqual(['created', 'expired lifetime', 'created']);
    expect([third.isNew, third.id, third.getAll()]).toEqual([false, second.id, { cart: 'book' }]);
  });

  for (const [name, makeStore] of memoryAndCookie) {
    it(`${name}: a destroy that lands after the session expired reports no destroyed session`, async () => {
      // A slow logout: the request read the live session, and its commit lands after the session's lifetime ran
      // out. The server-side stores find nothing live to end and send no `destroyed` event (the session expired);
      // the cookie store must not report one either.
      const clock = createClock();
      const events: string[] = [];
      const sessions = createSessions({
        store: makeStore(clock.now),
        secrets: [SECRET],
        now: clock.now,
        expires: 3600,
        onEvent: (e) => events.push(e.type),
      });
      const first = await sessions.start(request());
      first.set('n', 1);
      const cookie = cookiePair(await first.commit());
      const logout = await sessions.start(request(cookie));
      expect(logout.isNew).toBe(false);
      logout.destroy();
      clock.advanceSec(3601);
      const lines = (await logout.commit()).getSetCookie();
      expect(lines).toEqual([expect.stringMatching(/Max-Age=0/)]);
      expect(events).toEqual(['created']);
    });
  }
});
