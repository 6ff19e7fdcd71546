// A login (create()) ends the request's earlier session when it is stored, or when it is ended first; through the
// earlier session's own manager; after a write of it in flight. handle() and Hono commit every session of a request.
import { Hono } from 'hono';
import { createSessions, SessionError, type SessionEvent, type SessionStore } from '../src/index.js';
import { sessionMiddleware, type SessionEnv } from '../src/hono.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, createJar, rememberMe, request, SECRET } from './helpers.js';

function setup(store?: (memory: SessionStore) => SessionStore) {
  const clock = createClock();
  const memory = createMemoryStore({ now: clock.now });
  const sessions = createSessions({ store: store ? store(memory) : memory, secrets: [SECRET], now: clock.now });
  return { clock, memory, sessions };
}

/** `response` with the Set-Cookie lines of `headers` appended, as a handler that sends a commit's headers does. */
function appended(response: Response, headers: Headers): Response {
  for (const line of headers.getSetCookie()) response.headers.append('Set-Cookie', line);
  return response;
}

/** The last Set-Cookie line of `response` (the one the browser keeps), and its `name=value` pair. */
function lastLine(response: Response): { line: string; cookie: string } {
  const line = response.headers.getSetCookie().at(-1)!;
  return { line, cookie: line.slice(0, line.indexOf(';')) };
}

async function aliceLoggedIn(sessions: ReturnType<typeof setup>['sessions']) {
  const s = await sessions.create(request(), { userId: 'alice', data: { who: 'alice' } });
  return { id: s.id, cookie: cookiePair(await s.commit()) };
}

describe('create() then destroy in the same request', () => {
  it('handle(): a login then a logout in one request leaves the previous (alice) session ended', async () => {
    const { sessions, memory } = setup();
    const alice = await aliceLoggedIn(sessions);
    const jar = createJar();
    const app = sessions.handle(async (req) => {
      // switch account to bob, then the second factor fails: log out
      await sessions.create(req, { userId: 'bob', data: { who: 'bob' } });
      await sessions.destroy(req);
      return new Response('logged out');
    });
    const res = await app(request(alice.cookie));
    jar.apply(res);
    // The visitor asked to be logged out: neither alice's session nor her cookie may still work.
    const after = await sessions.start(request(jar.header() ?? alice.cookie));
    expect(after.get('who')).toBeUndefined();
    expect(await memory.get(alice.id)).toBeNull();
    expect(await sessions.listByUser('alice')).toEqual([]);
  });

  it('manual commits: create(), destroy() of the login, commitAll of both: the old session ends', async () => {
    const { sessions, memory } = setup();
    const alice = await aliceLoggedIn(sessions);
    const req = request(alice.cookie);
    const old = await sessions.start(req);
    const login = await sessions.create(req, { userId: 'bob' });
    login.destroy();
    await old.commit();
    await login.commit();
    expect(old.destroyed).toBe(true);
    // the app sees the old session as destroyed, yet the store keeps it live and its cookie works
    expect(await memory.get(alice.id)).toBeNull();
    expect((await sessions.start(request(alice.cookie))).isNew).toBe(true);
  });

  it('hono: a login then sessions.destroy() in one request logs the visitor out of the old session', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/switch', async (c) => {
      await c.var.session;
      await sessions.create(c.req.raw, { userId: 'bob', data: { who: 'bob' } });
      await sessions.destroy(c.req.raw);
      return c.text('out');
    });
    app.get('/me', async (c) => c.text(String((await c.var.session).get('who') ?? 'anon')));
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${alice.cookie}; Path=/; Secure; HttpOnly` } }));
    const cookie = jar.header() ?? alice.cookie;
    jar.apply(await app.request('https://app.example/switch', { method: 'POST', headers: { cookie } }));
    const me = await app.request('https://app.example/me', { headers: { cookie: jar.header() ?? '' } });
    expect(await me.text()).toBe('anon');
  });
});

describe('two logins, the first commit in flight when the second create() runs', () => {
  it('no live session is left over that no cookie will name', async () => {
    let release!: () => void;
    let hold = false;
    const { sessions } = setup((memory) => ({
      ...memory,
      create: async (id, record) => {
        if (hold) await new Promise<void>((r) => (release = r));
        return memory.create(id, record);
      },
    }));
    const alice = await aliceLoggedIn(sessions);
    const req = request(alice.cookie);
    hold = true;
    const first = await sessions.create(req, { userId: 'bob' });
    const p = first.commit();
    await new Promise((r) => setTimeout(r, 0));
    const second = await sessions.create(req, { userId: 'bob' });
    hold = false;
    release();
    await p;
    const cookie = cookiePair(await second.commit());
    expect((await sessions.start(request(cookie))).userId).toBe('bob');
    expect((await sessions.start(request(alice.cookie))).isNew).toBe(true);
    // bob has one session (the second login); the first, replaced, must not stay live
    expect((await sessions.listByUser('bob')).map((s) => s.id)).toEqual([second.id]);
  });
});

describe('create() while the old session is still being created', () => {
  it('the anonymous session stored by the in-flight commit is ended by the login', async () => {
    let release!: () => void;
    let hold = false;
    const { sessions, memory } = setup((memory) => ({
      ...memory,
      create: async (id, record) => {
        if (hold) {
          hold = false;
          await new Promise<void>((r) => (release = r));
        }
        return memory.create(id, record);
      },
    }));
    const req = request();
    const anon = await sessions.start(req);
    anon.set('cart', [1]);
    hold = true;
    const p = anon.commit(); // e.g. an early commit the app does not await yet
    await new Promise((r) => setTimeout(r, 0));
    const login = await sessions.create(req, { userId: 'bob' });
    release();
    const anonCookie = cookiePair(await p);
    await login.commit();
    // the anonymous session was replaced by the login: its cookie (handed to the app) must not work
    expect(await memory.get(anon.id)).toBeNull();
    expect((await sessions.start(request(anonCookie))).isNew).toBe(true);
  });
});

describe('create() through another manager that shares the registry', () => {
  it('the replaced session is ended in the store that holds it', async () => {
    const clock = createClock();
    // Two stores of one kind (say two KV namespaces while moving between them): the managers share sessions.
    const storeA = createMemoryStore({ now: clock.now });
    const storeB = createMemoryStore({ now: clock.now });
    const m1 = createSessions({ store: storeA, secrets: [SECRET], now: clock.now });
    const m2 = createSessions({ store: storeB, secrets: [SECRET], now: clock.now });
    const alice = await m1.create(request(), { userId: 'alice' });
    const aliceCookie = cookiePair(await alice.commit());
    const app = m1.handle(async (req) => {
      await m2.create(req, { userId: 'bob' }); // the login route uses the other manager
      return new Response('ok');
    });
    await app(request(aliceCookie));
    // Before ec0c993 create() committed the old session's destroy through its own manager (store A).
    expect(await storeA.get(alice.id)).toBeNull();
    expect((await m1.start(request(aliceCookie))).isNew).toBe(true);
  });
});

for (const encrypt of [true, false]) {
  describe(`cookie store (encrypt: ${encrypt}), a login whose cookie is too large`, () => {
    it('emits no destroyed event for the session it failed to replace', async () => {
      const clock = createClock();
      const events: SessionEvent[] = [];
      const sessions = createSessions({
        store: createCookieStore({ encrypt, maxChunks: 1 }),
        secrets: [SECRET],
        now: clock.now,
        onEvent: (e) => void events.push(e),
      });
      const anon = await sessions.start(request());
      anon.set('cart', ['book']);
      const cookie = cookiePair(await anon.commit());
      events.length = 0;

      const req = request(cookie);
      const login = await sessions.create(req, { userId: 'alice', data: { big: 'x'.repeat(8000) } });
      const error = await login.commit().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SessionError);
      expect((error as SessionError).code).toBe('COOKIE_TOO_LARGE');
      // Nothing was sent: the old cookie stays in the browser and still opens its session.
      expect((await sessions.start(request(cookie))).get('cart')).toEqual(['book']);
      expect(events.map((e) => e.type)).not.toContain('destroyed');
    });
  });
}

describe('a login whose old session cannot be ended (its destroy fails)', () => {
  it('rejects, keeps the old session, and reports that its own new record could not be undone', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const down = new Error('backend down');
    let failing = false;
    const store: SessionStore = {
      ...memory,
      destroy: async (...args: Parameters<SessionStore['destroy']>) => {
        if (failing) throw down;
        return memory.destroy(...args);
      },
    };
    const events: SessionEvent[] = [];
    const onEvent = (e: SessionEvent) => void events.push(e);
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, onEvent });
    const alice = await aliceLoggedIn(sessions);
    failing = true;
    const login = await sessions.create(request(alice.cookie), { userId: 'bob' });
    const bobId = login.id;
    await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_DELETE', cause: down });
    // The visitor keeps alice's session; bob's record, which no cookie names, could not be removed: said so.
    expect((await sessions.start(request(alice.cookie))).userId).toBe('alice');
    expect(events.filter((e) => e.type === 'error')).toMatchObject([
      { type: 'error', operation: 'destroy', id: bobId, userId: 'bob', error: { code: 'STORE_DELETE', cause: down } },
    ]);
  });
});

describe('handle(): a session replaced twice, the first with an early commit the handler did not append', () => {
  it('no line made before the last commit the handler appended follows it (README)', async () => {
    const { sessions, memory } = setup();
    const app = sessions.handle(async (req, session) => {
      session.set('cart', ['book']);
      await session.commit(); // an early commit; its headers are not appended
      await sessions.create(req, { userId: 'alice' }); // e.g. a remember-me middleware's login
      const login = await sessions.create(req, { userId: 'bob' }); // the login route's own
      return appended(new Response('signed in as bob'), await login.commit());
    });
    const res = await app(request());
    // The browser keeps the last line of the cookie: it must be bob's login, not the anonymous cart session
    // (which bob's commit ended).
    const after = await sessions.start(request(lastLine(res).cookie));
    expect(after.userId).toBe('bob');
    expect(await memory.get(after.id)).not.toBeNull();
  });
});

describe('session.destroy(), then create() (a logout, then a login), committed by the app', () => {
  it('the destroyed session is ended by the login commit, as it is without the destroy()', async () => {
    const { sessions, memory } = setup();
    const alice = await aliceLoggedIn(sessions);
    const req = request(alice.cookie);
    const session = await sessions.start(req);
    session.destroy(); // "the next commit() ends it"
    const bob = await sessions.create(req, { userId: 'bob' });
    const headers = await bob.commit(); // the app sends bob's cookie
    expect(headers.getSetCookie()).toHaveLength(1);
    // Without the destroy() above, bob's commit ends alice's session (README: create() ends the session on the
    // request when the new one is stored). With it, alice's session must not be the one left live.
    expect(await memory.get(alice.id)).toBeNull();
    expect(await sessions.listByUser('alice')).toEqual([]);
  });
});

describe('hono: a login (create()) in an earlier middleware, then the handler awaits c.var.session', () => {
  it("the handler gets the request's session (the login), not the replaced one", async () => {
    const { sessions } = setup();
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    // e.g. a remember-me or API-token middleware that signs the visitor in
    app.use(rememberMe(sessions));
    app.get('/', async (c) => {
      const session = await c.var.session;
      session.set('seen', true); // DESTROYED: the variable still resolves to the replaced session
      return c.text(session.userId ?? 'anonymous');
    });
    app.onError((error) => new Response(`error ${String((error as { code?: string }).code)}`, { status: 500 }));
    const res = await app.request('https://app.example/');
    expect(await res.text()).toBe('alice');
  });
});

describe('handle(): session.destroy(), then a new session from start() that the handler commits and appends', () => {
  it("the old session's expiring line does not follow, and undo, the new cookie", async () => {
    const { sessions, memory } = setup();
    const first = await sessions.create(request(), { data: { who: 'alice' } });
    const cookie = cookiePair(await first.commit());
    const app = sessions.handle(async (req, session) => {
      session.destroy(); // log out (committed by handle())
      const fresh = await sessions.start(req); // kataras AllowReclaim: a new session in the same request
      fresh.setFlash('notice', 'signed out');
      return appended(new Response('bye'), await fresh.commit());
    });
    const res = await app(request(cookie));
    expect(await memory.get(first.id)).toBeNull();
    // README (handle): "every session the handler replaced ... is committed too, in order, so the last one's
    // cookie wins". The browser keeps the last line: it must carry the new session, not expire the cookie.
    const last = lastLine(res);
    expect(last.line).not.toMatch(/Max-Age=0/);
    const after = await sessions.start(request(last.cookie));
    expect(after.getFlash('notice')).toBe('signed out');
  });
});

describe('handle(): session.destroy(), then a login (create()) the handler commits and appends', () => {
  it('the browser ends with the login cookie, not an expired one', async () => {
    const { sessions, memory } = setup();
    const alice = await sessions.create(request(), { userId: 'alice' });
    const cookie = cookiePair(await alice.commit());
    const app = sessions.handle(async (req, session) => {
      session.destroy(); // switch account: sign alice out...
      const bob = await sessions.create(req, { userId: 'bob' }); // ...and bob in
      return appended(new Response('signed in as bob'), await bob.commit());
    });
    const res = await app(request(cookie));
    expect(await memory.get(alice.id)).toBeNull();
    expect((await sessions.listByUser('bob')).length).toBe(1); // bob's login is stored...
    const last = lastLine(res);
    expect(last.line).not.toMatch(/Max-Age=0/); // ...and the browser must end up holding its cookie
    expect((await sessions.start(request(last.cookie))).userId).toBe('bob');
  });
});

describe('hono: (await c.var.session).destroy(), then a login the handler commits and appends', () => {
  it('the browser ends with the login cookie, not an expired one', async () => {
    const { sessions } = setup();
    const alice = await sessions.create(request(), { userId: 'alice' });
    const cookie = cookiePair(await alice.commit());
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/switch', async (c) => {
      (await c.var.session).destroy();
      const bob = await sessions.create(c.req.raw, { userId: 'bob' });
      for (const line of (await bob.commit()).getSetCookie()) c.header('Set-Cookie', line, { append: true });
      return c.text('signed in as bob');
    });
    const res = await app.request('https://app.example/switch', { method: 'POST', headers: { cookie } });
    const last = lastLine(res);
    expect(last.line).not.toMatch(/Max-Age=0/);
    expect((await sessions.start(request(last.cookie))).userId).toBe('bob');
  });
});

describe('a login, its logout, then a second login, committed by the app', () => {
  it("the request's first session is ended by the login the app commits", async () => {
    const { sessions, memory } = setup();
    const alice = await aliceLoggedIn(sessions);
    const req = request(alice.cookie);
    const session = await sessions.start(req); // alice's session, as the handler holds it
    await sessions.create(req, { userId: 'bob' }); // e.g. a remember-me middleware signs bob in
    session.destroy(); // "switch account": README, a destroy() through the old handle ends that login
    const carol = await sessions.create(req, { userId: 'carol' });
    const headers = await carol.commit(); // the app commits and sends the login it answers with
    expect(headers.getSetCookie()).toHaveLength(1);
    // README (create): the session already on the request ends when the new one is first stored. alice's
    // session, which the browser held when the request came in, must not stay live next to carol's.
    expect(await memory.get(alice.id)).toBeNull();
    expect(await sessions.listByUser('alice')).toEqual([]);
  });
});

describe('handle() on the cookie store: logout and login appended, a second logout not', () => {
  it("the forgotten logout's expired line still goes out: the login's sealed cookie must not stay", async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await sessions.create(request(), { data: { who: 'alice' } });
    const aliceCookie = cookiePair(await alice.commit());
    const app = sessions.handle(async (req) => {
      const res = new Response('signed out');
      appended(res, await sessions.destroy(req)); // log alice out, headers appended
      const bob = await sessions.create(req, { data: { who: 'bob' } }); // switch to bob...
      appended(res, await bob.commit());
      await sessions.destroy(req); // ...whose second factor fails: log out, headers forgotten
      return res;
    });
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${aliceCookie}; Path=/` } }));
    jar.apply(await app(request(jar.header())));
    // README (handle): "a logout whose headers a handler forgot still expires the cookie". On the cookie store
    // nothing can revoke bob's sealed cookie: the browser must not keep it. (The second logout's expired line is
    // the same text as the first, which the handler appended: it is taken for sent.)
    const after = await sessions.start(request(jar.header()));
    expect(after.get('who')).toBeUndefined();
  });
});

describe('handle() on the cookie store: destroy(), then a new session from start() the handler appends', () => {
  it("the old session's chunk cookies are still expired", async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    // alice's session spans several cookies (name, name.1, ...), signed only: her data is readable in them.
    let bio = '';
    for (let i = 0; bio.length < 7000; i++) bio += `${i.toString(36)}-alice-private-note `;
    const alice = await sessions.create(request(), { data: { who: 'alice', bio } });
    const jar = createJar();
    jar.apply(await alice.commit());
    expect(jar.size).toBeGreaterThan(1);
    const app = sessions.handle(async (req, session) => {
      session.destroy(); // log out
      const fresh = await sessions.start(req); // a new session in the same request (as login.test.ts does)
      fresh.setFlash('notice', 'signed out');
      return appended(new Response('bye'), await fresh.commit());
    });
    jar.apply(await app(request(jar.header())));
    // The browser keeps the new session's cookie (abcd4ae's fix)...
    expect((await sessions.start(request(jar.header()))).getFlash('notice')).toBe('signed out');
    // ...and nothing of alice's: before abcd4ae her expired lines went out (after the new cookie, wrongly);
    // now none does, and her chunk cookies, which the new session's line does not touch, stay in the browser.
    expect(
      jar
        .header()!
        .split('; ')
        .map((pair) => pair.slice(0, pair.indexOf('='))),
    ).toEqual([sessions.cookieName]);
  });
});
