// Logins on the real KV and Durable Object bindings: a login replacing a session, a login then a logout in one
// request, changes made while a commit is in flight, and a login whose create timed out.
import { env } from 'cloudflare:workers';
import { createDurableObjectStore } from '../../src/durable-object.js';
import { createKVStore } from '../../src/kv.js';
import { createSessions, SessionError, type SessionStore } from '../../src/index.js';
import { describe, expect, it } from '../harness.js';
import { cookiePair, createClock, createJar, request, SECRET } from '../helpers.js';
import { wrapDO, wrapKV } from './bindings.js';

let n = 0;
const stores: [
  string,
  (clock: { now(): number }) => {
    store: SessionStore;
    hold: (m: string) => { reached: Promise<void>; release(): void };
  },
][] = [
  [
    'durable-object',
    (clock) => {
      const w = wrapDO(env.SESSIONS_DO);
      return {
        store: createDurableObjectStore(w.ns, { now: clock.now }),
        hold: (m) => w.hold(m as 'create', 'before'),
      };
    },
  ],
  [
    'kv',
    (clock) => {
      const w = wrapKV(env.SESSIONS_KV);
      return {
        store: createKVStore(w.ns, { now: clock.now, prefix: `r9d-${++n}:` }),
        hold: (m) => w.hold((c) => c.method === (m === 'create' ? 'put' : m), 'before'),
      };
    },
  ],
];

for (const [name, make] of stores) {
  describe(`${name} (workerd): logins`, () => {
    function setup(storeTimeout?: number) {
      const clock = createClock();
      const made = make(clock);
      const sessions = createSessions({
        store: made.store,
        secrets: [SECRET],
        now: clock.now,
        ...(storeTimeout === undefined ? {} : { storeTimeout }),
      });
      return { clock, sessions, ...made };
    }

    /** A login of `userId` (its data says who), committed: its cookie. */
    async function logIn(sessions: ReturnType<typeof setup>['sessions'], userId: string) {
      return cookiePair(await (await sessions.create(request(), { userId, data: { who: userId } })).commit());
    }

    it('a login that replaces alice ends her session: her cookie and her listing are gone', async () => {
      const alice_ = `alice-${++n}`;
      const bob_ = `bob-${++n}`;
      const { sessions } = setup();
      const aliceCookie = await logIn(sessions, alice_);
      const app = sessions.handle(async (req) => {
        await sessions.create(req, { userId: bob_, data: { who: bob_ } });
        return new Response('ok');
      });
      const jar = createJar();
      jar.apply((await app(request(aliceCookie))).headers);
      expect((await sessions.start(request(aliceCookie))).isNew).toBe(true);
      expect(await sessions.listByUser(alice_)).toEqual([]);
      expect((await sessions.start(request(jar.header()!))).get('who')).toBe(bob_);
      expect((await sessions.listByUser(bob_)).length).toBe(1);
    });

    it('a login then a logout in one request: no session of alice or bob stays live', async () => {
      const alice_ = `alice-${++n}`;
      const bob_ = `bob-${++n}`;
      const { sessions } = setup();
      const aliceCookie = await logIn(sessions, alice_);
      const app = sessions.handle(async (req) => {
        const fresh = await sessions.create(req, { userId: bob_ });
        await fresh.commit();
        await sessions.destroy(req);
        return new Response('out');
      });
      const jar = createJar();
      jar.apply(new Response(null, { headers: { 'Set-Cookie': `${aliceCookie}; Path=/` } }).headers);
      jar.apply((await app(request(aliceCookie))).headers);
      expect((await sessions.start(request(aliceCookie))).isNew).toBe(true);
      expect(jar.header()).toBeUndefined();
      expect(await sessions.listByUser(alice_)).toEqual([]);
      expect(await sessions.listByUser(bob_)).toEqual([]);
    });

    it('changes made while a commit is in flight are all written once', async () => {
      const { sessions } = setup();
      const first = await sessions.create(request(), { data: { n: 0 } });
      const cookie = cookiePair(await first.commit());
      const s = await sessions.start(request(cookie));
      s.increment('n');
      const p = s.commit();
      s.increment('n', 10);
      s.set('x', 'during');
      await p;
      await s.commit();
      const again = await sessions.start(request(cookie));
      expect(again.get('n')).toBe(11);
      expect(again.get('x')).toBe('during');
    });

    it('storeTimeout on a login whose write lands late: not made again, nothing of bob stays live', async () => {
      const bob_ = `bob-${++n}`;
      const { sessions, hold } = setup(0.05);
      const login = await sessions.create(request(), { userId: bob_ });
      const held = hold('create');
      const p = login.commit().then(
        () => undefined,
        (e: unknown) => e,
      );
      await held.reached;
      const error = await p;
      expect((error as SessionError).code).toBe('STORE_TIMEOUT');
      held.release();
      await new Promise((r) => setTimeout(r, 200)); // the write lands, after its ID was ended
      expect([...(await login.commit())]).toEqual([]);
      expect(await sessions.getById(login.id)).toBeNull();
      expect((await sessions.listByUser(bob_)).length).toBe(0);
      const again = await sessions.create(request(), { userId: bob_ });
      const cookie = cookiePair(await again.commit());
      expect((await sessions.start(request(cookie))).userId).toBe(bob_);
      expect((await sessions.listByUser(bob_)).length).toBe(1);
    });
  });
}
