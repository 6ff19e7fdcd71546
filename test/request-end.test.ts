// The end of a request: the Set-Cookie lines its sessions' commits send (a stateless store's chunk cookies, the
// order of commitAll, handle() runs nested in one another, a retry of the same Request), and the logins and
// regenerate() refused once handle() or the middleware answered it (ANSWERED).
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sessionMiddleware, type SessionEnv } from '../src/hono.js';
import {
  commitAll,
  createSessions,
  type Session,
  type SessionError,
  type Sessions,
  type SessionStore,
} from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, countingStore, createClock, createJar, rememberMe, request, SECRET } from './helpers.js';
import { gatedStore } from './races.js';

function setup(store?: (memory: SessionStore) => SessionStore) {
  const clock = createClock();
  const memory = createMemoryStore({ now: clock.now });
  const sessions = createSessions({ store: store ? store(memory) : memory, secrets: [SECRET], now: clock.now });
  return { clock, memory, sessions };
}

async function aliceLoggedIn(sessions: ReturnType<typeof setup>['sessions']) {
  const s = await sessions.create(request(), { userId: 'alice', data: { who: 'alice' } });
  return { id: s.id, cookie: cookiePair(await s.commit()) };
}

/**
 * A handler that answers `answer()` and leaves `later` to run after its response is made, as `ctx.waitUntil` does
 * on Workers; `settled()` gives what `later` threw (undefined if nothing).
 */
function deferring(
  sessions: ReturnType<typeof setup>['sessions'],
  later: (req: Request) => Promise<unknown>,
  answer = () => new Response('ok'),
) {
  let background: Promise<unknown> = Promise.resolve();
  const app = sessions.handle(async (req) => {
    background = new Promise((r) => setTimeout(r, 5)).then(() => later(req));
    return answer();
  });
  return {
    app,
    settled: () =>
      background.then(
        () => undefined,
        (e: unknown) => e,
      ),
  };
}

/** A second manager of the same cookie, store kind and secrets: it shares the request's session. */
function again(memory: ReturnType<typeof createMemoryStore>, clock: ReturnType<typeof createClock>): Sessions {
  return createSessions({ store: memory, secrets: [SECRET], now: clock.now });
}

/** `response` with the Set-Cookie lines of `headers` appended, as a handler that sends a commit's headers does. */
function appended(response: Response, headers: Headers): Response {
  for (const line of headers.getSetCookie()) response.headers.append('Set-Cookie', line);
  return response;
}

/** Text that needs three chunk cookies of the cookie store. */
function bigText(who: string): string {
  let text = '';
  for (let i = 0; text.length < 7000; i++) text += `${i.toString(36)}-${who}-private-note `;
  return text;
}

/** The names of the cookies a jar holds. */
function names(header: string | undefined): string[] {
  return (header ?? '')
    .split('; ')
    .filter((pair) => pair !== '')
    .map((pair) => pair.slice(0, pair.indexOf('=')));
}

describe('cookie store: chunk cookies the request itself put in the browser', () => {
  it('an early commit spread over chunks, then a login: the early chunks are expired', async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const app = sessions.handle(async (req, session) => {
      const res = new Response('signed in');
      session.set('notes', bigText('anon')); // a visitor's draft, readable in the signed form
      appended(res, await session.commit()); // an early commit (a middleware's), three cookies
      const login = await sessions.create(req, { data: { who: 'bob' } });
      return appended(res, await login.commit());
    });
    const jar = createJar();
    jar.apply(await app(request()));
    expect((await sessions.start(request(jar.header()))).get('who')).toBe('bob');
    // README (cookie store): "When a session shrinks, the chunk cookies it no longer needs are expired in the
    // same response". The login's single cookie counts what this response set, not only the request's Cookie
    // header (none): name.1 and name.2 of the early commit, the draft readable in them, must not stay.
    expect(names(jar.header())).toEqual([sessions.cookieName]);
  });

  it('a login over chunks, its logout, then a new session from start(): the login chunks are expired', async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const app = sessions.handle(async (req) => {
      const res = new Response('bye');
      const bob = await sessions.create(req, { data: { who: 'bob', notes: bigText('bob') } });
      appended(res, await bob.commit()); // bob's login, three cookies
      bob.destroy(); // the second factor fails: log out
      const fresh = await sessions.start(req); // a new session in the same request
      fresh.setFlash('notice', 'signed out');
      return appended(res, await fresh.commit());
    });
    const jar = createJar();
    jar.apply(await app(request()));
    expect((await sessions.start(request(jar.header()))).getFlash('notice')).toBe('signed out');
    // bob's destroy lines are dropped (fresh's line was appended last), so fresh must count bob's chunks, not
    // the request's (0): bob's chunk cookies, his notes readable in them, must not stay in the browser.
    expect(names(jar.header())).toEqual([sessions.cookieName]);
  });
});

describe('cookie store: a shrinking commit the handler skipped, then a later commit it appended', () => {
  it("the skipped commit's expiring chunk lines still go out (the later line does not set those cookies)", async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const alice = await sessions.create(request(), { data: { who: 'alice', notes: bigText('alice') } });
    const jar = createJar();
    jar.apply(await alice.commit());
    expect(jar.size).toBe(3);
    const app = sessions.handle(async (_req, session) => {
      session.delete('notes'); // e.g. a middleware drops the draft and commits early (headers not appended)
      await session.commit();
      session.set('seen', true); // the route changes the session again and appends its commit's headers
      return appended(new Response('ok'), await session.commit());
    });
    jar.apply(await app(request(jar.header())));
    expect((await sessions.start(request(jar.header()))).get('seen')).toBe(true);
    // The early commit's lines (one cookie, and name.1 / name.2 expired) are superseded by the later line only
    // for the main cookie, which is all it sets: alice's notes must not stay readable in chunk cookies.
    expect(names(jar.header())).toEqual([sessions.cookieName]);
  });
});

describe('commitAll of a logout and the login that follows it, login passed first', () => {
  it("the browser ends with the login's cookie, not the logout's expired one", async () => {
    const { sessions } = setup();
    const alice = await sessions.create(request(), { userId: 'alice' });
    const aliceCookie = cookiePair(await alice.commit());
    const req = request(aliceCookie);
    const session = await sessions.start(req);
    session.destroy(); // switch account: alice out...
    const bob = await sessions.create(req, { userId: 'bob' }); // ...bob in
    const headers = await commitAll(bob, session); // gorilla's sessions.Save(r, w): the order is not meaningful
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${aliceCookie}; Path=/` } }));
    jar.apply(headers);
    expect((await sessions.listByUser('bob')).length).toBe(1); // bob's login is stored...
    // ...and alice's expired line, passed last, must not follow (and undo) bob's cookie.
    expect((await sessions.start(request(jar.header()))).userId).toBe('bob');
  });
});

describe('ANSWERED: after background logouts, or while handle() commits', () => {
  it('after two background logouts (sessions.destroy twice), create() is still refused', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const { app, settled } = deferring(sessions, async (req) => {
      await sessions.destroy(req); // e.g. an idempotent cleanup run twice
      await sessions.destroy(req);
      const login = await sessions.create(req, { userId: 'bob' });
      await login.commit(); // would store a session no cookie can ever name
    });
    await app(request(alice.cookie));
    expect(await settled()).toMatchObject({ code: 'ANSWERED' });
    expect(await sessions.listByUser('bob')).toEqual([]);
  });

  it("a create() while handle() commits the request's chain is neither committed nor refused", async () => {
    const clock = createClock();
    const gated = gatedStore(createMemoryStore({ now: clock.now }));
    const sessions = createSessions({ store: gated.store, secrets: [SECRET], now: clock.now });
    const alice = await sessions.create(request(), { userId: 'alice' });
    const cookie = cookiePair(await alice.commit());
    let background: Promise<string | undefined> = Promise.resolve(undefined);
    const held = gated.hold('create', 'before'); // bob's create, made by handle() after the handler
    const app = sessions.handle(async (req) => {
      await sessions.create(req, { userId: 'bob' }); // committed by handle()
      // ctx.waitUntil work that logs in again while the response is being finished
      background = held.reached
        .then(async () => (await sessions.create(req, { userId: 'carol' })).commit())
        .then(
          () => 'committed',
          (e: { code?: string }) => e.code,
        );
      return new Response('ok');
    });
    const answering = app(request(cookie));
    await held.reached;
    await new Promise((r) => setTimeout(r, 5));
    held.release();
    const res = await answering;
    const outcome = await background;
    const jar = createJar();
    jar.apply(res);
    const after = await sessions.start(request(jar.header()));
    // Either the response carries carol's login, or her create() was refused (ANSWERED) and bob's cookie works:
    // never bob's cookie for a session carol's commit ended, and carol's with no cookie.
    if (outcome === 'committed') expect(after.userId).toBe('carol');
    else expect([outcome, after.userId]).toEqual(['ANSWERED', 'bob']);
  });
});

describe('ANSWERED: handle() answered Response.error() (nothing committed)', () => {
  it('a later create() is refused: it would end the session whose cookie the browser keeps', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const login = (req: Request) => sessions.create(req, { userId: 'bob' }).then((s) => s.commit());
    const { app, settled } = deferring(sessions, login, () => Response.error()); // e.g. the upstream fetch failed
    expect((await app(request(alice.cookie))).type).toBe('error');
    expect(await settled()).toMatchObject({ code: 'ANSWERED' });
    // README (handle): Response.error() is returned as it is; no cookie can follow it, and the browser keeps
    // alice's cookie, which a background login would end.
    expect((await sessions.start(request(alice.cookie))).userId).toBe('alice');
  });
});

describe('ANSWERED is lifted when the same Request is handled again', () => {
  it('a retry wrapper calling the handle()d app again with the same Request may log the visitor in', async () => {
    const { sessions } = setup();
    let attempts = 0;
    const app = sessions.handle(async (req) => {
      attempts++;
      if (attempts === 1) return new Response('upstream busy', { status: 503 });
      const login = await sessions.create(req, { userId: 'bob' });
      return appended(new Response('signed in'), await login.commit());
    });
    // e.g. fetch: async (req) => { const r = await app(req); return r.status === 503 ? app(req) : r }
    const req = request();
    let res = await app(req);
    if (res.status === 503) res = await app(req);
    expect(res.status).toBe(200); // the second attempt's create() is not refused (ANSWERED) by the first's end
    expect((await sessions.listByUser('bob')).length).toBe(1);
  });
});

describe('after handle() or the middleware has answered (work left in ctx.waitUntil)', () => {
  it('create() is refused (ANSWERED): the session whose cookie the browser keeps stays live', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const { app, settled } = deferring(sessions, (req) => sessions.create(req, { userId: 'bob' }));
    await app(request(alice.cookie));
    expect(await settled()).toMatchObject({ code: 'ANSWERED' });
    expect((await sessions.start(request(alice.cookie))).userId).toBe('alice');
    expect(await sessions.listByUser('bob')).toEqual([]);
  });

  it('create() after a destroy() made after the response is refused too', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const { app, settled } = deferring(sessions, async (req) => {
      (await sessions.start(req)).destroy();
      return sessions.create(req, { userId: 'bob' });
    });
    await app(request(alice.cookie));
    expect(await settled()).toMatchObject({ code: 'ANSWERED' });
  });

  it('regenerate() is refused (ANSWERED); reads, changes and commit() of the session still work', async () => {
    const { sessions, memory } = setup();
    const alice = await aliceLoggedIn(sessions);
    const { app, settled } = deferring(sessions, async (req) => {
      const session = await sessions.start(req);
      session.set('seen', true);
      await session.commit(); // a background write: stored, its headers go nowhere
      session.regenerate();
    });
    await app(request(alice.cookie));
    expect(await settled()).toMatchObject({ code: 'ANSWERED' });
    expect((await memory.get(alice.id))?.data.seen).toBe('true');
    expect((await sessions.start(request(alice.cookie))).get('seen')).toBe(true);
  });

  it('hono: create() after the middleware answered is refused', async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    let background: Promise<unknown> = Promise.resolve();
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.get('/', async (c) => {
      await c.var.session;
      background = new Promise((r) => setTimeout(r, 5)).then(() => sessions.create(c.req.raw, { userId: 'bob' }));
      return c.text('ok');
    });
    await app.request('https://app.example/', { headers: { cookie: alice.cookie } });
    await expect(background).rejects.toMatchObject({ code: 'ANSWERED' });
    expect((await sessions.start(request(alice.cookie))).userId).toBe('alice');
  });
});

describe('nested handle() of managers sharing the session', () => {
  it('outer destroy(), inner handle() fills the new session: no expired outer line undoes its cookie', async () => {
    const { sessions, memory, clock } = setup();
    const alice = await aliceLoggedIn(sessions);
    // A route module wraps its handler with a manager of its own (built per request, as on Workers).
    const route = again(memory, clock).handle(async (_req, session) => {
      session.setFlash('notice', 'signed out'); // the session after the logout
      return new Response('bye');
    });
    const app = sessions.handle(async (req, session) => {
      session.destroy(); // e.g. a top-level guard ends a session whose user was removed
      return route(req);
    });
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${alice.cookie}; Path=/` } }));
    jar.apply(await app(request(alice.cookie)));
    const after = await sessions.start(request(jar.header()));
    expect(after.userId).toBeUndefined();
    // The inner handle() sends the new session's cookie; the outer one commits the destroy() and must not append
    // its expired line after it (the flash would be lost, and the new record live with no cookie naming it).
    expect(after.getFlash('notice')).toBe('signed out');
  });

  it('outer handler regenerates after the inner handle() returned: not ANSWERED (no response yet)', async () => {
    const { sessions, memory, clock } = setup();
    const alice = await aliceLoggedIn(sessions);
    const route = again(memory, clock).handle(async (_req, session) => {
      session.set('elevated', true);
      return new Response('ok');
    });
    const app = sessions.handle(async (req, session) => {
      const res = await route(req);
      if (session.get('elevated') === true) session.regenerate(); // privilege change: a new ID
      return res;
    });
    // The inner handle() must not mark the shared session ANSWERED: the outer handle() has not made its response
    // and sends the new cookie.
    const res = await app(request(alice.cookie));
    const jar = createJar();
    jar.apply(res);
    const after = await sessions.start(request(jar.header()));
    expect(after.get('elevated')).toBe(true);
    expect(after.id).not.toBe(alice.id);
  });
});

describe('hono: a sub-app with its own sessionMiddleware', () => {
  it("parent middleware destroy()s, the sub-app's route sets a flash: no expired line undoes it", async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    const api = new Hono<SessionEnv>();
    api.use(sessionMiddleware(sessions));
    api.get('/bye', async (c) => {
      (await c.var.session).setFlash('notice', 'signed out');
      return c.text('bye');
    });
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(async (c, next) => {
      const session = await c.var.session;
      if (session.get('who') === 'alice') session.destroy(); // e.g. alice's account was removed
      await next();
    });
    app.route('/api', api);
    const res = await app.request('https://app.example/api/bye', { headers: { cookie: alice.cookie } });
    const jar = createJar();
    jar.apply(res);
    const after = await sessions.start(request(jar.header()));
    expect(after.get('who')).toBeUndefined();
    // As with nested handle(): the parent middleware's expired line follows the sub-app's new cookie.
    expect(after.getFlash('notice')).toBe('signed out');
  });

  // With a global bodyLimit too, between the parent's middleware and the sub-app's (found by review 11).
  for (const limited of [false, true]) {
    const name = `parent middleware regenerates after next(): not ANSWERED${limited ? ', bodyLimit between' : ''}`;
    it(name, async () => {
      const { sessions } = setup();
      const alice = await aliceLoggedIn(sessions);
      const api = new Hono<SessionEnv>();
      api.use(sessionMiddleware(sessions));
      api.post('/sudo', async (c) => {
        (await c.var.session).set('elevated', true);
        return c.text('ok');
      });
      const app = new Hono<SessionEnv>();
      app.use(sessionMiddleware(sessions));
      if (limited) app.use(bodyLimit({ maxSize: 1024 }));
      app.use(async (c, next) => {
        const session = await c.var.session;
        await next();
        if (session.get('elevated') === true) session.regenerate();
      });
      app.route('/api', api);
      // The sub-app's middleware must not mark the session ANSWERED: the parent's middleware has not answered yet.
      app.onError((e) => new Response(String(e), { status: 500 }));
      expect(await (await post(app, '/api/sudo', alice.cookie)).text()).toBe('ok');
    });
  }
});

describe('cookie store: a commit in flight when create() is called', () => {
  it("the early commit's chunk cookies are expired by the login's cookie", async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const app = sessions.handle(async (req, session) => {
      const res = new Response('signed in');
      session.set('notes', bigText('anon'));
      const early = session.commit(); // not awaited yet
      const login = await sessions.create(req, { data: { who: 'bob' } });
      appended(res, await early);
      return appended(res, await login.commit());
    });
    const jar = createJar();
    jar.apply(await app(request()));
    expect((await sessions.start(request(jar.header()))).get('who')).toBe('bob');
    // The login must count the chunks of the commit still in flight when create() ran (three cookies): else its
    // line expires none, and the draft stays readable in name.1 and name.2.
    expect(names(jar.header())).toEqual([sessions.cookieName]);
  });
});

describe('a retry: the same Request handled again after the first answer was dropped', () => {
  it("the retry's response carries the login the first run stored (its response was dropped)", async () => {
    const { sessions } = setup();
    const alice = await aliceLoggedIn(sessions);
    let attempts = 0;
    const app = sessions.handle(async (req, session) => {
      attempts++;
      if (session.userId === 'bob') return new Response('welcome back, bob'); // already signed in
      await sessions.create(req, { userId: 'bob' }); // e.g. an OAuth callback: committed by handle()
      if (attempts === 1) return new Response('profile service busy', { status: 503 });
      return new Response('welcome, bob');
    });
    // fetch: async (req) => { const r = await app(req); return r.status === 503 ? app(req) : r }
    const req = request(alice.cookie);
    let res = await app(req);
    if (res.status === 503) res = await app(req);
    expect(await res.text()).toBe('welcome back, bob');
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${alice.cookie}; Path=/` } }));
    jar.apply(res);
    // The first run's login ended alice's session and its cookie went out with the dropped 503: the retry's
    // response must carry it, or the browser keeps alice's dead cookie and is signed out of both.
    expect((await sessions.start(request(jar.header()))).userId).toBe('bob');
  });

  it('a new visitor: the session the first run stored is sent with the retry that only reads it', async () => {
    const { sessions } = setup();
    let attempts = 0;
    const app = sessions.handle(async (_req, session) => {
      attempts++;
      session.add('csrf', `token-${attempts}`); // set once per visitor
      if (attempts === 1) return new Response('busy', { status: 503 });
      return new Response(`<form><input name="csrf" value="${session.get('csrf')}"></form>`);
    });
    const req = request();
    let res = await app(req);
    if (res.status === 503) res = await app(req);
    const jar = createJar();
    jar.apply(res);
    // The first run's commit (the session's only cookie) went out with the dropped 503; the retry changes
    // nothing, yet must send it, or the stored session is never named by the browser.
    expect((await sessions.start(request(jar.header()))).get('csrf')).toBe('token-1');
  });
});

function managers() {
  const clock = createClock();
  const visitors = createSessions({ store: createMemoryStore({ now: clock.now }), secrets: [SECRET], now: clock.now });
  const admins = createSessions({
    store: createMemoryStore({ now: clock.now }),
    secrets: [SECRET],
    now: clock.now,
    cookie: { name: '__Host-admin' },
  });
  return { visitors, admins };
}

async function loggedIn(sessions: Sessions, userId: string, data?: Record<string, unknown>) {
  const s = await sessions.create(request(), { userId, ...(data === undefined ? {} : { data }) });
  return { id: s.id, cookie: cookiePair(await s.commit()) };
}

/** What `p` rejected with, or undefined. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('ANSWERED with several managers on one request', () => {
  it('hono: the second of two managers side by side (README "Several managers") still marks ANSWERED', async () => {
    const { visitors, admins } = managers();
    const root = await loggedIn(admins, 'root');
    let background: Promise<unknown> = Promise.resolve();
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.get('/', async (c) => {
      await c.var.session;
      await c.var.admin;
      // work left in ctx.waitUntil: a login after the response is made could reach no browser
      background = new Promise((r) => setTimeout(r, 5)).then(() => admins.create(c.req.raw, { userId: 'eve' }));
      return c.text('ok');
    });
    await app.request('https://app.example/', { headers: { cookie: root.cookie } });
    // README (ANSWERED): refused once the response is made. The admins middleware runs inside the visitors' one:
    // the mark is the request's, whichever manager's run is the outermost.
    expect(await outcome(background)).toMatchObject({ code: 'ANSWERED' });
    expect((await admins.start(request(root.cookie))).userId).toBe('root');
  });

  it('handle() of another cookie nested in a handle(): its session is marked ANSWERED by someone', async () => {
    const { visitors, admins } = managers();
    const root = await loggedIn(admins, 'root');
    let background: Promise<unknown> = Promise.resolve();
    const adminRoute = admins.handle(async (req, session) => {
      background = new Promise((r) => setTimeout(r, 5)).then(() => session.regenerate());
      return new Response(`hello ${session.userId}`);
    });
    const app = visitors.handle(async (req) => adminRoute(req));
    await app(request(root.cookie));
    // README (ANSWERED): regenerate() once the response is made is refused, also for the inner run's manager.
    expect(await outcome(background)).toMatchObject({ code: 'ANSWERED' });
  });
});

describe('ANSWERED: a Hono sub-app with its own middleware, the parent never awaiting its variable', () => {
  it('a login after the response (ctx.waitUntil) is refused: the handler awaited c.var.session', async () => {
    const { visitors } = managers();
    const alice = await loggedIn(visitors, 'alice');
    let background: Promise<unknown> = Promise.resolve();
    const api = new Hono<SessionEnv>();
    api.use(sessionMiddleware(visitors));
    api.get('/me', async (c) => {
      const session = await c.var.session; // the sub-app's lazy session
      background = new Promise((r) => setTimeout(r, 5)).then(() => visitors.create(c.req.raw, { userId: 'bob' }));
      return c.text(String(session.userId));
    });
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(visitors));
    app.route('/api', api);
    const res = await app.request('https://app.example/api/me', { headers: { cookie: alice.cookie } });
    expect(await res.text()).toBe('alice');
    // The sub-app's middleware is not the outermost; the parent's own variable was never awaited (the handler
    // awaited the sub-app's): the parent's run, the outermost, still marks the request.
    expect(await outcome(background)).toMatchObject({ code: 'ANSWERED' });
    expect((await visitors.start(request(alice.cookie))).userId).toBe('alice');
  });
});

describe('a retry of the same Request after a logout', () => {
  it('cookie store: the retry re-sends the expired cookie the first run sent (its response was dropped)', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const login = await sessions.create(request(), { userId: 'alice', data: { who: 'alice' } });
    const alice = cookiePair(await login.commit());
    let attempts = 0;
    const app = sessions.handle(async (_req, session) => {
      attempts++;
      if (session.userId === 'alice') session.destroy(); // POST /logout
      if (attempts === 1) return new Response('busy', { status: 503 });
      return new Response('signed out');
    });
    const req = request(alice);
    let res = await app(req);
    if (res.status === 503) res = await app(req); // fetch: a retry of the same Request
    expect(await res.text()).toBe('signed out');
    const jar = createJar();
    jar.apply(new Response(null, { headers: { 'Set-Cookie': `${alice}; Path=/` } }));
    jar.apply(res);
    // The first run's lines are recorded in the session it ended with (alice's, destroyed); the retry starts from
    // the new session made after it, and must still send that expired line, or alice's sealed cookie goes on
    // working after "signed out".
    expect((await sessions.start(request(jar.header()))).userId).toBeUndefined();
  });
});

/** 'committed' when `p` resolves, else the code it rejected with. */
const settled = (p: Promise<unknown>) =>
  p.then(
    () => 'committed',
    (e: { code?: string }) => e.code ?? String(e),
  );

describe('ANSWERED: a create() called before the handler returns, finished after it', () => {
  it('same manager: a background login (ctx.waitUntil) is refused or reaches the browser', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let background: Promise<string> = Promise.resolve('none');
    const app = sessions.handle(async (req) => {
      // ctx.waitUntil(sessions.create(req, …).then((s) => s.commit())): the work is left to run after the response
      background = settled(sessions.create(req, { userId: 'bob' }).then((s) => s.commit()));
      return new Response('ok');
    });
    const res = await app(request(alice.cookie));
    const result = await background;
    const jar = createJar();
    jar.apply(res);
    // The browser keeps alice's cookie unless the response set another.
    const after = await sessions.start(request(res.headers.getSetCookie().length > 0 ? jar.header() : alice.cookie));
    // Never: alice's session (the browser's cookie) ended by bob's login, and bob's session named by no cookie.
    if (result === 'committed') expect(after.userId).toBe('bob');
    else expect([result, after.userId]).toEqual(['ANSWERED', 'alice']);
  });

  it("another manager's create() whose session load outlasts the handler is refused", async () => {
    const { clock, sessions: visitors } = setup();
    const gated = gatedStore(createMemoryStore({ now: clock.now }));
    const admins = createSessions({
      store: gated.store,
      secrets: [SECRET],
      now: clock.now,
      cookie: { name: '__Host-admin' },
    });
    const root = await loggedIn(admins, 'root');
    const held = gated.hold('get', 'before'); // the admins' read of the cookie's session, in create()'s start()
    let background: Promise<string> = Promise.resolve('none');
    const app = visitors.handle(async (req) => {
      background = settled(admins.create(req, { userId: 'eve' }).then((s) => s.commit()));
      return new Response('ok');
    });
    const answering = app(request(root.cookie));
    await held.reached;
    const res = await answering; // the response is made
    held.release();
    const result = await background;
    const jar = createJar();
    jar.apply(res);
    // README (ANSWERED, "any manager's"): a login that completes after the response could reach no browser.
    expect(result).toBe('ANSWERED');
    expect((await admins.start(request(root.cookie))).userId).toBe('root');
  });
});

describe('ANSWERED: hono bodyLimit replaces c.req.raw inside the session middleware', () => {
  it('a session read before bodyLimit: regenerate() after the response is refused (ANSWERED)', async () => {
    const { sessions: visitors } = setup();
    const alice = await loggedIn(visitors, 'alice');
    let background: Promise<string> = Promise.resolve('none');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(visitors));
    let early: Session | undefined;
    app.use(async (c, next) => {
      early = await c.var.session; // an auth middleware reads the session
      await next();
    });
    app.post('/upload', bodyLimit({ maxSize: 1024 }), async (c) => {
      const session = early!;
      // work left in ctx.waitUntil, after the response
      background = settled(new Promise((r) => setTimeout(r, 5)).then(() => session.regenerate()));
      return c.text(String(session.userId));
    });
    const res = await app.request('https://app.example/upload', {
      method: 'POST',
      body: 'x',
      headers: { cookie: alice.cookie },
    });
    expect(await res.text()).toBe('alice');
    // bodyLimit replaces c.req.raw inside the middleware: the run must end on the Request it began on, or that
    // one is never ANSWERED.
    expect(await background).toBe('ANSWERED');
  });
});

describe('a manual flow on a Request a handle()d app already answered', () => {
  it('a manual login on it is refused (ANSWERED), as the README says; on a copy of the Request it works', async () => {
    const { sessions } = setup();
    const api = sessions.handle(async () => new Response('not mine', { status: 404 }));
    // fetch: async (req) => { const r = await api(req); if (r.status !== 404) return r; return login(req) }
    const login = async (req: Request) => {
      const s = await sessions.create(req, { userId: 'bob' });
      const res = new Response('welcome');
      for (const line of (await s.commit()).getSetCookie()) res.headers.append('Set-Cookie', line);
      return res;
    };
    const req = request();
    expect((await api(req)).status).toBe(404);
    await expect(login(req)).rejects.toMatchObject({ code: 'ANSWERED' });
    // The README's way for a router that falls back to code without handle(): a fresh Request.
    const res = await login(new Request(req));
    expect(await res.text()).toBe('welcome');
    expect((await sessions.listByUser('bob')).length).toBe(1);
  });
});

describe("retries of one Request (the earlier run's lines)", () => {
  it('run 1 logs in, run 2 logs out: the retry ends logged out', async () => {
    const { sessions } = setup();
    let attempts = 0;
    const app = sessions.handle(async (req, session) => {
      attempts++;
      if (attempts === 1) {
        await sessions.create(req, { userId: 'bob' });
        return new Response('busy', { status: 503 });
      }
      (await sessions.start(req)).destroy();
      return new Response('bye');
    });
    const req = request();
    await app(req);
    const res = await app(req);
    const jar = createJar();
    jar.apply(res);
    expect((await sessions.start(request(jar.header()))).userId).toBeUndefined();
    expect(await sessions.listByUser('bob')).toEqual([]);
  });

  it('run 1 logs out, run 2 logs in: the retry ends logged in', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let attempts = 0;
    const app = sessions.handle(async (req, session) => {
      attempts++;
      if (attempts === 1) {
        session.destroy();
        return new Response('busy', { status: 503 });
      }
      await sessions.create(req, { userId: 'bob' });
      return new Response('hi');
    });
    const req = request(alice.cookie);
    await app(req);
    const res = await app(req);
    const jar = createJar();
    jar.apply(res);
    expect((await sessions.start(request(jar.header()))).userId).toBe('bob');
    expect((await sessions.start(request(alice.cookie))).userId).toBeUndefined();
  });
});

/** A POST with a body and no Content-Length: Hono's bodyLimit replaces c.req.raw. */
function post(app: Hono<SessionEnv>, path: string, cookie?: string) {
  const headers: Record<string, string> = cookie === undefined ? {} : { cookie };
  return app.request(`https://app.example${path}`, { method: 'POST', body: 'x', headers });
}

/** Who the browser is signed in as after `res`, starting from `cookie` (undefined: no user). */
async function signedInAs(sessions: Sessions, cookie: string, res: Response): Promise<string | undefined> {
  return (await sessions.start(request(after(cookie, res)))).userId;
}

/** The browser's Cookie header after `res`, starting from `cookie`. */
function after(cookie: string | undefined, res: Response): string {
  const jar = createJar();
  if (cookie !== undefined) jar.apply(new Response(null, { headers: { 'Set-Cookie': `${cookie}; Path=/` } }));
  jar.apply(res);
  return jar.header() ?? '';
}

describe('Hono, bodyLimit after sessionMiddleware (c.req.raw replaced)', () => {
  it('the README login (await c.var.session, then sessions.create(c.req.raw)) is committed', async () => {
    const sessions = setup().sessions;
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/login', bodyLimit({ maxSize: 1024 }), async (c) => {
      await c.var.session; // README: the login after awaiting the variable
      await sessions.create(c.req.raw, { userId: 'bob' });
      return c.text('welcome');
    });
    const res = await post(app, '/login', alice.cookie);
    expect(await res.text()).toBe('welcome');
    const jar = createJar();
    jar.apply(res);
    // The browser must end up logged in as bob (before ee9c39e it did: the middleware used c.req.raw).
    expect((await sessions.start(request(jar.header() || alice.cookie))).userId).toBe('bob');
  });

  it('the README logout (c.var.session, then sessions.destroy(c.req.raw)) ends a cookie-store session', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/logout', bodyLimit({ maxSize: 1024 }), async (c) => {
      await c.var.session; // README: "a logout route either awaits c.var.session first or appends ..."
      await sessions.destroy(c.req.raw);
      return c.text('bye');
    });
    const res = await post(app, '/logout', alice.cookie);
    expect(await res.text()).toBe('bye');
    const jar = createJar();
    jar.apply(res);
    // A stateless session ends only by the cookie: the response must expire it.
    const after = jar.header();
    expect(after === '' ? undefined : (await sessions.start(request(after))).userId).toBeUndefined();
  });

  it('a background login on c.req.raw (ctx.waitUntil) after the response is refused (ANSWERED)', async () => {
    const sessions = setup().sessions;
    const alice = await loggedIn(sessions, 'alice');
    let background: Promise<string> = Promise.resolve('none');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/x', bodyLimit({ maxSize: 1024 }), async (c) => {
      await c.var.session;
      const raw = c.req.raw;
      background = settled(
        new Promise((r) => setTimeout(r, 5)).then(async () => (await sessions.create(raw, { userId: 'eve' })).commit()),
      );
      return c.text('ok');
    });
    const res = await post(app, '/x', alice.cookie);
    expect(await res.text()).toBe('ok');
    // README (ANSWERED): create() once the handler the middleware wraps has answered is refused.
    expect(await background).toBe('ANSWERED');
    expect((await sessions.start(request(alice.cookie))).userId).toBe('alice');
  });
});

// Found by review 11: a Request replaced by bodyLimit stands for the one it replaced (one session, one run).
describe('Hono, bodyLimit on the route (c.req.raw replaced), a session change made in a middleware before it', () => {
  it('a remember-me login (create() on c.req.raw) in a global middleware is committed', async () => {
    const { sessions } = setup();
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(rememberMe(sessions));
    app.post('/upload', bodyLimit({ maxSize: 1024 }), async (c) => c.text('stored'));
    const res = await post(app, '/upload');
    expect(await res.text()).toBe('stored');
    expect((await sessions.listByUser('alice')).length).toBe(1);
    expect((await sessions.start(request(after(undefined, res)))).userId).toBe('alice');
  });
});

describe('Hono, bodyLimit on the route (c.req.raw replaced), a logout in a guard middleware before it', () => {
  it('the handler after bodyLimit does not get the destroyed session back, live', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(async (c, next) => {
      const session = await c.var.session;
      if (session.userId === 'alice') session.destroy(); // e.g. alice's account was suspended
      await next();
    });
    app.post('/transfer', bodyLimit({ maxSize: 1024 }), async (c) => {
      // README (Hono, Lazy): a later await gets "start() after destroy()"'s session, a new one
      const session = await c.var.session;
      return c.text(session.userId === undefined ? 'sign in first' : `done as ${session.userId}`);
    });
    const res = await post(app, '/transfer', alice.cookie);
    expect(await res.text()).toBe('sign in first');
  });

  it('cookie store: the logout sticks when the handler after bodyLimit changes the session', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(async (c, next) => {
      const session = await c.var.session;
      if (session.userId === 'alice') session.destroy();
      await next();
    });
    app.post('/note', bodyLimit({ maxSize: 1024 }), async (c) => {
      (await c.var.session).setFlash('notice', 'saved');
      return c.text('ok');
    });
    const res = await post(app, '/note', alice.cookie);
    expect(await res.text()).toBe('ok');
    const cookie = after(alice.cookie, res);
    expect(cookie === '' ? undefined : (await sessions.start(request(cookie))).userId).toBeUndefined();
  });
});

describe('Hono, bodyLimit on the route, cookie store: a middleware before it grows the session', () => {
  it("the draft is kept, and no chunk cookie is left that the browser's main cookie does not count", async () => {
    const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    let draft = '';
    for (let i = 0; draft.length < 7000; i++) draft += `${i.toString(36)}-alice-private-note `;
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(async (c, next) => {
      (await c.var.session).set('draft', draft); // three chunk cookies
      await next();
    });
    app.post('/note', bodyLimit({ maxSize: 1024 }), async (c) => {
      (await c.var.session).setFlash('notice', 'saved');
      return c.text('ok');
    });
    const res = await post(app, '/note', alice.cookie);
    const cookie = after(alice.cookie, res);
    const names = cookie.split('; ').map((pair) => pair.slice(0, pair.indexOf('=')));
    const session = await sessions.start(request(cookie));
    // Either the draft is in the session (three cookies), or it is not and neither are name.1 and name.2.
    expect({ draft: session.get('draft') === draft, names }).toEqual({
      draft: true,
      names: [sessions.cookieName, `${sessions.cookieName}.1`, `${sessions.cookieName}.2`],
    });
  });
});

// Found by review 11: a handler that threw or answered Response.error() commits nothing, nested or retried.
describe('nested handle(): the inner handler throws after a login, the outer one catches it', () => {
  it('the login of the handler that threw is not committed (README: a throwing handler commits nothing)', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const route = sessions.handle(async (req) => {
      await sessions.create(req, { userId: 'bob' });
      throw new Error('second factor rejected');
    });
    const app = sessions.handle(async (req) => {
      try {
        return await route(req); // a route module with its own handle()
      } catch {
        return new Response('sign-in failed', { status: 401 });
      }
    });
    const res = await app(request(alice.cookie));
    expect(res.status).toBe(401);
    // README (create): "a login that fails, by a throwing handler ..., leaves it as it was"
    expect(await sessions.listByUser('bob')).toEqual([]);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('alice');
  });

  it('the login of an inner handler that answered Response.error() is not committed either', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const route = sessions.handle(async (req) => {
      await sessions.create(req, { userId: 'bob' });
      return Response.error(); // README: "A handler that answers Response.error() ... nothing is committed"
    });
    const app = sessions.handle(async (req) => {
      const res = await route(req);
      return res.type === 'error' ? new Response('bad gateway', { status: 502 }) : res;
    });
    const res = await app(request(alice.cookie));
    expect(res.status).toBe(502);
    expect(await sessions.listByUser('bob')).toEqual([]);
  });
});

describe('a retry of the same Request after the first run threw after a login', () => {
  it("the retry's handler is handed the session the request had, not the failed login", async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let attempts = 0;
    const app = sessions.handle(async (req, session) => {
      attempts++;
      if (attempts === 1) {
        await sessions.create(req, { userId: 'bob' }); // a login ...
        throw new Error('profile service down'); // ... whose handler throws: it commits nothing (README)
      }
      return new Response(`signed in as ${session.userId}`);
    });
    // fetch: async (req) => app(req).catch(() => app(req)), a retry of the same Request
    const req = request(alice.cookie);
    const res = await app(req).catch(() => app(req));
    // README (create): "a login that fails, by a throwing handler ..., leaves it as it was"
    expect(await res.text()).toBe('signed in as alice');
    expect(await sessions.listByUser('bob')).toEqual([]);
  });
});

describe('a retry of the same Request after the first run threw', () => {
  // Unless the failed run committed something: its session then stays the request's, with what it changed later.
  for (const early of [false, true]) {
    const name = early ? 'after an early commit, the retry takes up the later increment' : 'counts an increment once';
    it(`does not take up the failed run's changes: ${name}`, async () => {
      const { sessions, memory } = setup();
      const alice = await loggedIn(sessions, 'alice');
      let attempts = 0;
      const app = sessions.handle(async (_req, session) => {
        if (early) {
          session.set('seen', true);
          await session.commit(); // e.g. a middleware's early commit
        }
        session.increment('visits');
        if (++attempts === 1) throw new Error('flaky upstream'); // commits nothing (README)
        return new Response('ok');
      });
      const req = request(alice.cookie);
      const res = await app(req).catch(() => app(req));
      expect(await res.text()).toBe('ok');
      expect((await memory.get(alice.id))?.data.visits).toBe(early ? '2' : '1');
    });
  }

  it('a login it committed before throwing stands, and the retry is handed it and sends its cookie', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let attempts = 0;
    const app = sessions.handle(async (req, session) => {
      if (++attempts === 1) {
        await (await sessions.create(req, { userId: 'bob' })).commit(); // stored: alice is ended
        throw new Error('flaky upstream');
      }
      return new Response(`signed in as ${session.userId}`);
    });
    const req = request(alice.cookie);
    const res = await app(req).catch(() => app(req));
    expect(await res.text()).toBe('signed in as bob');
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
    expect((await sessions.start(request(alice.cookie))).isNew).toBe(true);
  });
});

// Found by review 11: a final commit that fails carries the lines still to send (SessionError.headers).
/** setup() over a memory store whose updates fail, once `failUpdates()` is called. */
function withFailingUpdates() {
  let failing = false;
  const { sessions, memory } = setup((m) => ({
    ...m,
    name: 'flaky',
    update: (...args: Parameters<SessionStore['update']>) =>
      failing ? Promise.reject(new Error('backend down')) : m.update(...args),
  }));
  return { sessions, memory, failUpdates: (on = true) => (failing = on) };
}

describe('handle(): a login committed early by the handler, then the final commit fails', () => {
  it("the failure does not leave the browser with the ended session's cookie and the login with none", async () => {
    const { sessions, memory, failUpdates } = withFailingUpdates();
    const alice = await loggedIn(sessions, 'alice');
    const app = sessions.handle(async (req) => {
      const bob = await sessions.create(req, { userId: 'bob' });
      await bob.commit(); // README: inside handle() the lines of every commit made in the handler go out
      failUpdates(); // the store starts failing
      bob.set('profile', 'loaded');
      return new Response('welcome');
    });
    // README (Errors): handle() lets the error reach your code, so you can answer 503
    const res = await app(request(alice.cookie)).catch(
      (e: unknown) => new Response(String(e), { status: 503, headers: (e as { headers?: Headers }).headers }),
    );
    const cookie = after(alice.cookie, res);
    // alice's session was ended by bob's stored login: the browser must hold bob's cookie, or it is signed out of
    // both (as README says of commitAll: "its headers still hold the others' cookies").
    expect(await memory.get(alice.id)).toBeNull();
    expect((await sessions.start(request(cookie))).userId).toBe('bob');
  });

  it("Hono: the middleware's failed commit gives onError the early login's cookie", async () => {
    const { sessions, failUpdates } = withFailingUpdates();
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/login', async (c) => {
      await c.var.session; // the README's login: the middleware then commits the request's sessions
      const bob = await sessions.create(c.req.raw, { userId: 'bob' });
      await bob.commit();
      failUpdates();
      bob.set('profile', 'loaded');
      return c.text('welcome');
    });
    app.onError((e) => new Response('try again', { status: 503, headers: (e as SessionError).headers }));
    const res = await post(app, '/login', alice.cookie);
    expect(res.status).toBe(503);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
  });

  it('cookie store: a logout committed before a login that is too large still reaches the browser', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = sessions.handle(async (req, session) => {
      session.destroy();
      await session.commit(); // handed, not appended: handle() sends it
      await sessions.create(req, { userId: 'bob', data: { huge: 'x'.repeat(40_000) } });
      return new Response('welcome');
    });
    const error = await app(request(alice.cookie)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'COOKIE_TOO_LARGE' });
    const res = new Response('try again', { status: 503, headers: (error as SessionError).headers });
    expect(res.headers.get('Cache-Control')).toBe('private');
    // The sealed cookie cannot be revoked: only the expired line that reaches the browser logs alice out.
    expect((await sessions.start(request(after(alice.cookie, res)))).isNew).toBe(true);
  });
});

// Found by review 11b: a failed run undoes only its own logins; SessionError.headers as if nothing was appended.
/** README (Errors): answer 503 with the error's headers. */
const answer503 = (e: unknown) =>
  new Response('try again', { status: 503, headers: (e as SessionError).headers ?? new Headers() });

describe("a failed nested run leaves the outer run's login alone", () => {
  it('outer handle() logs in, an inner handle() that never logs in throws: the outer login is kept', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    // A route module with its own handle(): it does not touch the session's identity, it just fails.
    const widget = sessions.handle(async () => {
      throw new Error('widget backend down');
    });
    const app = sessions.handle(async (req) => {
      const bob = await sessions.create(req, { userId: 'bob' }); // switch account (not committed yet)
      bob.set('welcome', true);
      const body = await widget(req).then(
        (r) => r.text(),
        () => '(widget unavailable)',
      );
      return new Response(`welcome bob ${body}`);
    });
    const res = await app(request(alice.cookie));
    expect(await res.text()).toBe('welcome bob (widget unavailable)');
    // The outer handler's login did not fail: it must be committed and its cookie sent.
    expect((await sessions.listByUser('bob')).length).toBe(1);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
  });

  it("the outer run's handle on its login is not destroyed by the inner run's failure", async () => {
    const { sessions } = setup();
    const inner = sessions.handle(async () => Response.error()); // e.g. an upstream fetch() network error
    let thrown: unknown;
    const app = sessions.handle(async (req) => {
      const bob = await sessions.create(req, { userId: 'bob' });
      await inner(req);
      try {
        bob.set('step', 2); // the outer's login is not the inner run's to drop
      } catch (e) {
        thrown = e;
      }
      return new Response('ok');
    });
    await app(request());
    expect(thrown).toBeUndefined();
  });

  it('Hono: a remember-me login in a middleware survives a nested handle() route that throws', async () => {
    const { sessions } = setup();
    const legacy = sessions.handle(async () => {
      throw new Error('legacy route failed');
    });
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.use(rememberMe(sessions));
    app.get('/page', async (c) => {
      const text = await legacy(c.req.raw).then(
        (r) => r.text(),
        () => 'fallback',
      );
      return c.text(text);
    });
    const res = await app.request('https://app.example/page');
    expect(await res.text()).toBe('fallback');
    expect((await sessions.listByUser('alice')).length).toBe(1);
    expect((await sessions.start(request(after(undefined, res)))).userId).toBe('alice');
  });
});

describe('SessionError.headers holds the lines the handler appended to the Response it lost', () => {
  it('handle(): a login committed and appended by the handler, then the final commit fails', async () => {
    const { sessions, memory, failUpdates } = withFailingUpdates();
    const alice = await loggedIn(sessions, 'alice');
    const app = sessions.handle(async (req) => {
      const bob = await sessions.create(req, { userId: 'bob' });
      // README: "Returned Headers hold only what you must append to your response": the handler does so.
      const res = appended(new Response('welcome'), await bob.commit());
      failUpdates();
      bob.set('profile', 'loaded');
      return res;
    });
    // README (Errors): 503 with e.headers. The handler's Response (holding bob's cookie) is gone.
    const res = await app(request(alice.cookie)).catch(answer503);
    expect(res.status).toBe(503);
    expect(await memory.get(alice.id)).toBeNull(); // alice was ended by bob's stored login
    // e.headers must hold bob's cookie, or the browser keeps alice's dead cookie: signed out of both.
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
  });

  it('cookie store: a logout whose headers the handler appended, then a login too large for a cookie', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = sessions.handle(async (req) => {
      const res = appended(new Response('welcome'), await sessions.destroy(req)); // logout, appended
      await sessions.create(req, { userId: 'bob', data: { huge: 'x'.repeat(40_000) } });
      return res;
    });
    const error = await app(request(alice.cookie)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'COOKIE_TOO_LARGE' });
    const res = answer503(error);
    // The sealed cookie cannot be revoked: the logout's expired line is the only way out, and it was in the
    // Response the error replaced: e.headers must hold it, or alice stays signed in.
    expect((await sessions.start(request(after(alice.cookie, res)))).isNew).toBe(true);
  });

  it('Hono: e.headers passed by onError reach the browser when the route set a cookie of its own', async () => {
    const { sessions, failUpdates } = withFailingUpdates();
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/login', async (c) => {
      await c.var.session;
      const bob = await sessions.create(c.req.raw, { userId: 'bob' });
      await bob.commit(); // handed, not appended: the middleware sends it (README)
      failUpdates();
      bob.set('profile', 'loaded');
      c.header('Set-Cookie', 'theme=dark; Path=/', { append: true }); // any cookie of the app's own (hono/cookie)
      return c.text('welcome');
    });
    // Hono's compose sets c.res = onError's answer, and that setter replaces the answer's Set-Cookie lines with
    // those of the route's Response (theme=dark): bob's line must be among those, not only in e.headers.
    let carried: string[] = [];
    app.onError((e) => {
      carried = (e as SessionError).headers?.getSetCookie() ?? [];
      return answer503(e);
    });
    const res = await app.request('https://app.example/login', { method: 'POST', headers: { cookie: alice.cookie } });
    expect(res.status).toBe(503);
    expect(carried.length).toBe(1); // the library did hand bob's line over ...
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
  });
});

describe('a handle() around a Hono app (the Hono handler throws after a login)', () => {
  it("the Hono handler's failed login is not committed by the handle() around it", async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const hono = new Hono<SessionEnv>();
    hono.use(sessionMiddleware(sessions));
    hono.all('/login', async (c) => {
      await c.var.session;
      await sessions.create(c.req.raw, { userId: 'bob' });
      throw new Error('second factor rejected'); // Hono rules: "A handler that throws commits nothing"
    });
    hono.onError(() => new Response('sign-in failed', { status: 401 }));
    const app = sessions.handle((req) => hono.fetch(req));
    const res = await app(request(alice.cookie, 'https://app.example/login'));
    expect(res.status).toBe(401);
    expect(await sessions.listByUser('bob')).toEqual([]);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('alice');
  });
});

describe('a handle() nested in another shares its session (README)', () => {
  it('an inner handle() that threw: its increment is committed by the handle() around it', async () => {
    const { sessions, memory } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const inner = sessions.handle(async (_req, session) => {
      session.increment('credits', -10); // a purchase ...
      throw new Error('payment declined'); // ... whose handler throws: README, "nothing is committed"
    });
    const app = sessions.handle(async (req) => inner(req).catch(() => new Response('declined', { status: 402 })));
    const res = await app(request(alice.cookie));
    expect(res.status).toBe(402);
    // Only its logins are undone: the outer run holds the same session, and commits what is in it.
    expect((await memory.get(alice.id))?.data.credits).toBe('-10');
  });
});

// Found by review 11c: what a failed run drops, and the lines of a failed final commit.
const tick = () => new Promise((r) => setTimeout(r, 2));

describe('a login the failed run committed and then logged out stays ended', () => {
  it('nested handle(): the ended session does not come back, nor is it stored anew by the outer commit', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    // A sign-in route: bob's login is committed, then the account turns out locked: log out, and fail.
    const signIn = sessions.handle(async (req) => {
      const bob = await sessions.create(req, { userId: 'bob' });
      await bob.commit(); // stored: alice's session is ended by it
      await sessions.destroy(req); // logout, committed: bob is ended too (the store's record is gone)
      throw new Error('account locked');
    });
    const app = sessions.handle(async (req) => {
      const res = await signIn(req).catch(() => undefined);
      // The outer route reports it, on the request's session now (its own handle on alice was replaced by bob).
      if (res === undefined) (await sessions.start(req)).setFlash('error', 'sign-in failed');
      return new Response('see flash');
    });
    const res = await app(request(alice.cookie));
    // Both logins ended in the store in this request: alice's by bob's commit, bob's by the logout. Nothing may
    // make alice live again (a commit of her after bob's destroy would store her anew).
    expect(await sessions.listByUser('alice')).toEqual([]);
    expect(await signedInAs(sessions, alice.cookie, res)).toBeUndefined();
  });
});

describe('an uncommitted login followed by a session from start() (after its destroy)', () => {
  // With a nested handle() (an error page) in the failed run too: a run nested in another does not commit the
  // sessions before the one it was handed, which are the enclosing run's, still going on, and dropped if it fails.
  for (const nested of [false, true]) {
    const name = `is dropped with it, and the outer run does not end alice${nested ? ' (a nested handle() ran)' : ''}`;
    it(name, async () => {
      const { sessions, memory } = setup();
      const alice = await loggedIn(sessions, 'alice');
      const errorPage = sessions.handle(async (_req, session) => {
        return new Response(`sign-in failed${session.isNew ? '' : ' (session)'}`, { status: 401 });
      });
      const signIn = sessions.handle(async (req) => {
        const bob = await sessions.create(req, { userId: 'bob' }); // not committed
        bob.destroy(); // the second factor fails: drop the login ...
        const fresh = await sessions.start(req); // ... and (any read of the request's session after it)
        // A flash in it would make the nested handle() commit it, and with it bob's logout: they would stand.
        if (nested)
          await errorPage(req); // a sub-handler renders the error page
        else fresh.setFlash('error', 'second factor rejected');
        throw new Error('second factor rejected');
      });
      const app = sessions.handle(async (req) =>
        signIn(req).catch(() => new Response('sign-in failed', { status: 401 })),
      );
      const res = await app(request(alice.cookie));
      expect(res.status).toBe(401);
      // README: the sessions the failed run made and did not commit are dropped, the new one after bob's destroy
      // too: the visitor keeps the session they had (a commit of bob's destroy would end alice).
      expect(await memory.get(alice.id)).not.toBeNull();
      expect(await signedInAs(sessions, alice.cookie, res)).toBe('alice');
    });
  }
});

describe("Hono: the app's manager function is not called for a failing request that never used it", () => {
  it('a failing route that never awaited the session, while another request of the isolate logged in', async () => {
    const { sessions } = setup();
    let made = 0;
    const app = new Hono<SessionEnv>();
    // JSDoc: "The function is called once per request, when a handler first awaits the session."
    app.use(
      sessionMiddleware(() => {
        made++;
        return sessions;
      }),
    );
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    app.get('/status', async () => {
      await gate; // an upstream call
      throw new Error('upstream down');
    });
    app.onError(() => new Response('bad gateway', { status: 502 }));
    const pending = app.request('https://app.example/status');
    await tick();
    await sessions.create(request(), { userId: 'bob' }); // a login of another request, meanwhile
    release();
    const res = await pending;
    expect(res.status).toBe(502);
    // The route never awaited the session: its manager function is not called, whatever other requests did.
    expect(made).toBe(0);
  });
});

/** A Hono login route whose early-committed login is followed by a final commit that fails. */
function honoLoginThatFailsToCommit(onError: (e: SessionError) => Response) {
  const { sessions, failUpdates } = withFailingUpdates();
  const app = new Hono<SessionEnv>();
  app.use(sessionMiddleware(sessions));
  app.post('/login', async (c) => {
    await c.var.session;
    const bob = await sessions.create(c.req.raw, { userId: 'bob' });
    await bob.commit(); // handed, not appended: the middleware sends it (README)
    failUpdates();
    bob.set('profile', 'loaded');
    return c.text('welcome');
  });
  app.onError((e) => onError(e as SessionError));
  return { sessions, app };
}

// Hono's c.res setter puts the headers of the Response that onError's replaces over it (its Set-Cookie lines
// and Cache-Control too): the middleware puts the lines still to send there, so they go out whatever onError does.
describe("Hono, a failed final commit: what onError's Response carries", () => {
  it("the login's cookie, and private, also when onError passes nothing on", async () => {
    const { sessions, app } = honoLoginThatFailsToCommit(() => new Response('try again', { status: 503 }));
    const alice = await loggedIn(sessions, 'alice');
    const res = await app.request('https://app.example/login', { method: 'POST', headers: { cookie: alice.cookie } });
    expect(res.status).toBe(503);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
    expect(res.headers.get('Cache-Control')).toBe('private');
  });

  it('the same lines once when onError passes e.headers on, as the README shows', async () => {
    const { sessions, app } = honoLoginThatFailsToCommit(
      (e) => new Response('try again', { status: 503, headers: e.headers }),
    );
    const alice = await loggedIn(sessions, 'alice');
    const res = await app.request('https://app.example/login', { method: 'POST', headers: { cookie: alice.cookie } });
    expect(res.headers.getSetCookie()).toHaveLength(1);
    expect(await signedInAs(sessions, alice.cookie, res)).toBe('bob');
  });
});

describe('Hono, a manager-like object without the internal _abandon', () => {
  it("onError gets the handler's error after a failed login, not a TypeError", async () => {
    const { sessions } = setup();
    // Accepted: sessionMiddleware only checks for start(). An app's instrumented wrapper, or a manager of another
    // copy of the package, has no _abandon.
    const wrapper = {
      start: (req: Request, ctx?: Parameters<Sessions['start']>[1]) => sessions.start(req, ctx),
      create: (req: Request, init?: Parameters<Sessions['create']>[1]) => sessions.create(req, init),
    } as unknown as Sessions;
    const seen: unknown[] = [];
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(wrapper));
    app.post('/login', async (c) => {
      await c.var.session;
      await wrapper.create(c.req.raw, { userId: 'bob' });
      throw new Error('second factor rejected');
    });
    app.onError((e) => {
      seen.push(e);
      return new Response('sign-in failed', { status: 401 });
    });
    const res = await app.request('https://app.example/login', { method: 'POST' });
    expect(res.status).toBe(401);
    expect(seen.map((e) => (e as Error).message)).toEqual(['second factor rejected']);
  });
});

describe('a retry of the same Request after a failed final commit', () => {
  it("counts the handler's increment once (as after a handler that threw)", async () => {
    const { sessions, failUpdates } = withFailingUpdates();
    const seed = await sessions.create(request(), { data: { n: 0 } });
    const cookie = cookiePair(await seed.commit());
    const app = sessions.handle(async (_req, session) => {
      session.increment('n');
      return new Response('ok');
    });
    const req = request(cookie);
    failUpdates();
    // The README's retry (request-end.test.ts uses it): the store is back for the second try.
    const res = await app(req).catch(() => {
      failUpdates(false);
      return app(req);
    });
    expect(res.status).toBe(200);
    // Not the first run's session, its unwritten increment kept (n would be 2).
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });
});

describe('lines a failed final commit made are in e.headers and recorded as sent', () => {
  it('cookie store, nested handle(): the logout committed before a too-large login reaches the browser', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const signIn = sessions.handle(async (req, session) => {
      session.destroy(); // logout (committed by handle() at the end)
      await sessions.create(req, { userId: 'bob', data: { huge: 'x'.repeat(40_000) } }); // too large
      return new Response('welcome');
    });
    // The route module answers its failure as the README says (503 with e.headers); so does the app around it.
    const app = sessions.handle(async (req) => signIn(req).catch(answer503));
    const res = await app(request(alice.cookie)).catch(answer503);
    expect(res.status).toBe(503);
    // The inner run's final commit of alice's destroy made the expired line and failed on bob: the line is
    // recorded as handed, so the outer run's e.headers hold it too (the sealed cookie cannot be revoked).
    expect(await signedInAs(sessions, alice.cookie, res)).toBeUndefined();
  });
});

// Found by review 11d.
/** A memory store whose updates fail while `failing()` says so. */
function flaky(memory: SessionStore, failing: () => boolean): SessionStore {
  return {
    ...memory,
    name: 'flaky',
    update: (...args: Parameters<SessionStore['update']>) =>
      failing() ? Promise.reject(new Error('backend down')) : memory.update(...args),
  };
}

/** The browser's cookies after `res`, starting from `cookies` (name=value pairs). */
function jarAfter(cookies: string[], res: Response): string {
  const jar = createJar();
  for (const c of cookies) jar.apply(new Response(null, { headers: { 'Set-Cookie': `${c}; Path=/` } }));
  jar.apply(res);
  return jar.header() ?? '';
}

/** README (Hono rules, Errors): onError passes the error's headers on. */
const readme503 = (e: unknown) =>
  new Response('Try again', { status: 503, headers: (e as SessionError).headers ?? new Headers() });

describe('Hono, two managers side by side, the outer one fails its final commit', () => {
  it("the inner manager's committed cookie (an admin login) still reaches the browser", async () => {
    const clock = createClock();
    let failing = false;
    const visitorMemory = createMemoryStore({ now: clock.now });
    const visitors = createSessions({
      store: flaky(visitorMemory, () => failing),
      secrets: [SECRET],
      now: clock.now,
    });
    const adminMemory = createMemoryStore({ now: clock.now });
    const admins = createSessions({
      store: adminMemory,
      secrets: [SECRET],
      now: clock.now,
      cookie: { name: '__Host-admin' },
    });
    const visitor = await loggedIn(visitors, 'v1', { visits: 1 });
    const admin = await loggedIn(admins, 'root');
    // README "Several managers": each its own cookie, store and variable. The visitors' middleware runs outside
    // the admins' one, so the admins' middleware commits first and puts its Set-Cookie on c.res.
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/sudo', async (c) => {
      (await c.var.session).increment('visits');
      await c.var.admin;
      // Step-up: a new admin session (README: login with create() after awaiting the variable).
      await admins.create(c.req.raw, { userId: 'root', data: { elevated: true } });
      failing = true; // the visitors' store starts failing before the end of the request
      return c.text('elevated');
    });
    app.onError(readme503);
    const res = await app.request('https://app.example/sudo', {
      method: 'POST',
      headers: { cookie: `${visitor.cookie}; ${admin.cookie}` },
    });
    expect(res.status).toBe(503);
    // The admin login was committed by the admins' middleware: the old admin session is ended in the store.
    expect(await adminMemory.get(admin.id)).toBeNull();
    // c.res also holds the admins' new cookie: taken off, the browser would keep the ended admin cookie, and the
    // admin would be signed out of both.
    const cookie = jarAfter([visitor.cookie, admin.cookie], res);
    expect((await admins.start(request(cookie))).userId).toBe('root');
  });
});

describe("Hono, a failed final commit: the handler's Cache-Control on onError's Response", () => {
  it('a 503 carrying a login cookie (e.headers) is not made publicly cacheable', async () => {
    const clock = createClock();
    let failing = false;
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: flaky(memory, () => failing), secrets: [SECRET], now: clock.now });
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/login', async (c) => {
      await c.var.session;
      const bob = await sessions.create(c.req.raw, { userId: 'bob' });
      await bob.commit(); // handed, not appended: the middleware sends it, or e.headers carries it
      failing = true;
      bob.set('profile', 'loaded');
      // A page the app (or a global middleware of its own) marks cacheable. On success the middleware appends
      // `private` because a cookie is set.
      c.header('Cache-Control', 'public, max-age=600');
      return c.text('welcome');
    });
    app.onError(readme503);
    const res = await app.request('https://app.example/login', { method: 'POST', headers: { cookie: alice.cookie } });
    expect(res.status).toBe(503);
    expect(res.headers.getSetCookie().length).toBeGreaterThan(0); // bob's cookie, from e.headers
    // Hono's c.res setter puts every header of the old c.res over onError's Response, the handler's
    // `public, max-age=600` too: `private` must be on it, or a shared cache could hand bob's cookie to others.
    expect(res.headers.get('Cache-Control')).toMatch(/(?:^|,)\s*(?:private|no-store)\s*(?:,|$)/);
  });
});

describe('a failed login does not make live again a session another request ended meanwhile', () => {
  it('log out everywhere during a failed login: the outer handle() does not store alice again', async () => {
    const clock = createClock();
    const gated = gatedStore(createMemoryStore({ now: clock.now }));
    const sessions = createSessions({ store: gated.store, secrets: [SECRET], now: clock.now });
    const alice = await loggedIn(sessions, 'alice', { who: 'alice' });
    let seen: { userId: string | undefined; destroyed: boolean } | undefined;
    const signIn = sessions.handle(async (req, session) => {
      session.set('lastPage', '/login');
      const held = gated.hold('update', 'before');
      const saving = session.commit().catch(() => undefined); // in flight
      await held.reached;
      // Meanwhile alice logs out everywhere from another device (another request of the isolate).
      await sessions.destroyByUser('alice');
      await sessions.create(req, { userId: 'bob' }); // alice's commit is still in flight: she is the one replaced
      held.release();
      await saving; // the store answers that alice was ended: endedMeanwhile marks her destroyed
      throw new Error('second factor rejected');
    });
    const app = sessions.handle(async (req) => {
      const res = await signIn(req).catch(() => new Response('sign-in failed', { status: 401 }));
      const s = await sessions.start(req);
      seen = { userId: s.userId, destroyed: s.destroyed };
      s.setFlash('error', 'sign-in failed');
      return res;
    });
    const res = await app(request(alice.cookie));
    expect(res.status).toBe(401);
    // drop(bob) sets `previous.destroyed = false` whatever made alice destroyed: the outer handler is handed alice
    // (userId 'alice', not destroyed) although her session was revoked, and its commit stores her anew.
    expect(seen).toEqual({ userId: undefined, destroyed: false });
    expect(await sessions.listByUser('alice')).toEqual([]);
  });
});

describe('Hono, a retry of the same Request after a failed final commit', () => {
  it("counts the handler's increment once, as handle() does (README: an increment is counted once)", async () => {
    const clock = createClock();
    let failing = false;
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: flaky(memory, () => failing), secrets: [SECRET], now: clock.now });
    const seed = await sessions.create(request(), { data: { n: 0 } });
    const cookie = cookiePair(await seed.commit());
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/count', async (c) => c.text(String((await c.var.session).increment('n'))));
    app.onError(readme503);
    const req = new Request('https://app.example/count', { method: 'POST', headers: { cookie } });
    failing = true;
    let res = await app.fetch(req);
    expect(res.status).toBe(503);
    failing = false; // the store is back: the wrapper tries the same Request again
    res = await app.fetch(req);
    expect(res.status).toBe(200);
    // Not the first run's session with its unwritten increment (n would be 2): the Request was forgotten.
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });
});

describe('a retry after a run that committed a login, logged it out again, and threw', () => {
  it('the retry does not sign the visitor in as the logged-out login (it is handed a new session)', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: memory, secrets: [SECRET], now: clock.now });
    const alice = await loggedIn(sessions, 'alice');
    let tries = 0;
    const app = sessions.handle(async (req, session) => {
      if (tries++ === 0) {
        const bob = await sessions.create(req, { userId: 'bob' });
        await bob.commit(); // stored: alice is ended
        bob.destroy(); // the account turns out locked: log out again ...
        throw new Error('account locked'); // ... and fail
      }
      return new Response(`hello ${session.userId ?? 'guest'}`);
    });
    const req = request(alice.cookie);
    // README: "A retry of the same Request ... goes on from the session as the failed run left it" (bob, logged out).
    const res = await app(req).catch(() => app(req));
    expect(await res.text()).toBe('hello guest'); // the retry's handler sees bob's logout
    // The retry commits bob's logout, which the failed run left uncommitted, after re-sending bob's early line.
    const cookie = jarAfter([alice.cookie], res);
    expect((await sessions.start(request(cookie))).userId).toBeUndefined();
    expect(await sessions.listByUser('bob')).toEqual([]);
  });
});

// Found by review 11e.
function twoCookies() {
  const clock = createClock();
  const visitorMemory = createMemoryStore({ now: clock.now });
  const adminMemory = createMemoryStore({ now: clock.now });
  const visitorCounts = countingStore(visitorMemory);
  const visitors = createSessions({ store: visitorCounts.store, secrets: [SECRET], now: clock.now });
  const admins = createSessions({
    store: adminMemory,
    secrets: [SECRET],
    now: clock.now,
    cookie: { name: '__Host-admin' },
  });
  return { visitors, admins, visitorMemory, adminMemory, visitorCounts };
}

// README: "A retry of the same Request reads the session again, without the failed run's changes (an increment
// is counted once)", also for a manager of another cookie whose run is inside the first one's.
describe('a retry after a failed run, two managers of different cookies on one request', () => {
  it('Hono, two middlewares side by side: the inner one counts an increment once', async () => {
    const { visitors, admins } = twoCookies();
    const root = await loggedIn(admins, 'root', { n: 0 });
    let tries = 0;
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/count', async (c) => {
      await c.var.session;
      const n = (await c.var.admin).increment('n');
      if (tries++ === 0) throw new Error('flaky upstream');
      return c.text(String(n));
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/count', { method: 'POST', headers: { cookie: root.cookie } });
    let res = await app.fetch(req);
    expect(res.status).toBe(503);
    res = await app.fetch(req); // the wrapper retries the same Request
    expect(await res.text()).toBe('1');
    expect((await admins.start(request(root.cookie))).get('n')).toBe(1);
  });

  it('handle() of another cookie nested in a handle(): the inner one counts an increment once', async () => {
    const { visitors, admins } = twoCookies();
    const root = await loggedIn(admins, 'root', { n: 0 });
    let tries = 0;
    const adminRoute = admins.handle(async (_req, session) => {
      const n = session.increment('n');
      if (tries++ === 0) throw new Error('flaky upstream');
      return new Response(String(n));
    });
    const app = visitors.handle(async (req) => adminRoute(req));
    const req = request(root.cookie);
    const res = await app(req).catch(() => app(req));
    // Not '2' (the failed run's increment taken up by the retry).
    expect(await res.text()).toBe('1');
    expect((await admins.start(request(root.cookie))).get('n')).toBe(1);
  });
});

// A run on a Request an earlier run already read still forgets it when it fails having committed nothing, so a
// third try does not take up the second's changes.
describe('handle(): three tries of the same Request, the second throws', () => {
  it('the third does not take up the increment of the second, which committed nothing', async () => {
    const { sessions, memory } = setup();
    const alice = await loggedIn(sessions, 'alice', { n: 0 });
    let tries = 0;
    const app = sessions.handle(async (_req, session) => {
      tries++;
      if (tries === 1) return new Response('busy', { status: 503 }); // answered, read only: nothing to commit
      const n = session.increment('n');
      if (tries === 2) throw new Error('flaky upstream'); // commits nothing (README)
      return new Response(String(n));
    });
    const req = request(alice.cookie);
    // A retry wrapper: up to three tries while the answer is a 5xx or an error.
    let res: Response | undefined;
    for (let i = 0; i < 3; i++) {
      res = await app(req).catch(() => undefined);
      if (res !== undefined && res.status < 500) break;
    }
    // Not '2': the second try committed nothing, so the third reads the session again.
    expect(await res!.text()).toBe('1');
    expect((await memory.get(alice.id))?.data.n).toBe('1');
  });
});

// Hono rules, Errors: "A login made by a handler that throws is dropped, also for a handle() around the app",
// also one made before the first await of c.var.session, or with none.
describe('Hono app inside handle(): a login made before the session variable was awaited, then a throw', () => {
  for (const awaits of [false, true]) {
    const when = awaits ? 'awaits c.var.session after create()' : 'never awaits c.var.session';
    it(`the visitor keeps alice, bob is not stored (route ${when})`, async () => {
      const { sessions } = setup();
      const alice = await loggedIn(sessions, 'alice');
      const app = new Hono<SessionEnv>();
      app.use(sessionMiddleware(sessions));
      app.post('/login', async (c) => {
        await sessions.create(c.req.raw, { userId: 'bob' });
        if (awaits) (await c.var.session).set('step', 'second-factor');
        throw new Error('second factor rejected');
      });
      app.onError(() => new Response('sign-in failed', { status: 401 }));
      const outer = sessions.handle(async (req) => app.fetch(req));
      const res = await outer(
        new Request('https://app.example/login', { method: 'POST', headers: { cookie: alice.cookie } }),
      );
      expect(res.status).toBe(401);
      expect(await sessions.listByUser('bob')).toEqual([]);
      expect(await signedInAs(sessions, alice.cookie, res)).toBe('alice');
    });
  }
});

// README: "behind the Hono middleware ... you need not append them: the lines of every commit made in the handler
// ... go out with its response", also when another manager's final commit fails and onError answers: the outer
// middleware's early-committed login, which ended the visitor's session, reaches the browser on onError's
// Response (e.headers holds the failing manager's lines only).
describe('Hono, two managers: the inner one fails its final commit', () => {
  it("the outer manager's early-committed login still reaches the browser", async () => {
    const clock = createClock();
    let failing = false;
    const visitorMemory = createMemoryStore({ now: clock.now });
    const visitors = createSessions({ store: visitorMemory, secrets: [SECRET], now: clock.now });
    const adminMemory = createMemoryStore({ now: clock.now });
    const admins = createSessions({
      store: {
        ...adminMemory,
        name: 'flaky',
        update: (...args: Parameters<typeof adminMemory.update>) =>
          failing ? Promise.reject(new Error('backend down')) : adminMemory.update(...args),
      },
      secrets: [SECRET],
      now: clock.now,
      cookie: { name: '__Host-admin' },
    });
    const visitor = await loggedIn(visitors, 'v1');
    const admin = await loggedIn(admins, 'root', { n: 0 });
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/switch', async (c) => {
      await c.var.session;
      const v2 = await visitors.create(c.req.raw, { userId: 'v2' });
      await v2.commit(); // committed early, not appended: the middleware sends it (README); v1 is ended
      (await c.var.admin).increment('n');
      failing = true; // the admins' store fails before the end of the request
      return c.text('switched');
    });
    app.onError((e) => new Response('Try again', { status: 503, headers: (e as { headers?: Headers }).headers }));
    const res = await app.request('https://app.example/switch', {
      method: 'POST',
      headers: { cookie: `${visitor.cookie}; ${admin.cookie}` },
    });
    expect(res.status).toBe(503);
    expect(await visitorMemory.get(visitor.id)).toBeNull(); // v1 ended by v2's commit
    const jar = createJar();
    for (const c of [visitor.cookie, admin.cookie]) {
      jar.apply(new Response(null, { headers: { 'Set-Cookie': `${c}; Path=/` } }));
    }
    jar.apply(res);
    // Not v1's ended cookie: the visitor would be signed out of both v1 and v2.
    expect((await visitors.start(request(jar.header() ?? ''))).userId).toBe('v2');
  });
});

// Found by review 11f.
// README: "A retry of the same Request reads the session again ... unless that run committed something: the retry
// then goes on from the session as the failed run left it, and commits what it left uncommitted". A run of
// another cookie around the retry does not make it nested: only a run holding the same kind of session does.
describe('retry, a handle() of another cookie inside a handle(): a logout the failed try left', () => {
  it('the retry commits the admin logout; the visitor is not signed in as the logged-out admin login', async () => {
    const { visitors, admins, adminMemory } = twoCookies();
    const root = await loggedIn(admins, 'root');
    let tries = 0;
    const adminRoute = admins.handle(async (req, session) => {
      if (tries++ === 0) {
        const sudo = await admins.create(req, { userId: 'sudo' });
        await sudo.commit(); // stored: root is ended
        sudo.destroy(); // policy check fails: log the step-up out again ...
        throw new Error('policy check failed'); // ... and fail
      }
      return new Response(`admin ${session.userId ?? 'none'}`);
    });
    const app = visitors.handle(async (req) => adminRoute(req));
    const req = request(root.cookie);
    const res = await app(req).catch(() => app(req));
    expect(await res.text()).toBe('admin none');
    expect(await adminMemory.get(root.id)).toBeNull(); // ended by sudo's commit
    // The retry commits sudo's logout (taken for nested, it would skip it and re-send sudo's early cookie line).
    expect(await admins.listByUser('sudo')).toEqual([]);
    const cookie = jarAfter([root.cookie], res);
    expect((await admins.start(request(cookie))).userId).toBeUndefined();
  });

  it("same with Hono, two middlewares side by side (the inner one is not nested in the outer one's kind)", async () => {
    const { visitors, admins } = twoCookies();
    const visitor = await loggedIn(visitors, 'v1');
    const root = await loggedIn(admins, 'root');
    let tries = 0;
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/sudo', async (c) => {
      await c.var.session;
      await c.var.admin;
      if (tries++ === 0) {
        const sudo = await admins.create(c.req.raw, { userId: 'sudo' });
        await sudo.commit();
        sudo.destroy();
        throw new Error('policy check failed');
      }
      return c.text(`admin ${(await c.var.admin).userId ?? 'none'}`);
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/sudo', {
      method: 'POST',
      headers: { cookie: `${visitor.cookie}; ${root.cookie}` },
    });
    let res = await app.fetch(req);
    expect(res.status).toBe(503);
    res = await app.fetch(req); // a retry wrapper tries the same Request again
    expect(await res.text()).toBe('admin none');
    expect(await admins.listByUser('sudo')).toEqual([]);
    const cookie = jarAfter([visitor.cookie, root.cookie], res);
    expect((await admins.start(request(cookie))).userId).toBeUndefined();
  });
});

// Only a run holding the same kind of session makes a run nested: an outer handler of another cookie that read
// the admin session (a guard) does not, so the admin run's failure is forgotten and a retry reads it again.
describe('retry, a guard of another cookie read the admin session before the admin handle()', () => {
  it('an increment of the failed try is counted once', async () => {
    const { visitors, admins, adminMemory } = twoCookies();
    const root = await loggedIn(admins, 'root', { n: 0 });
    let tries = 0;
    const adminRoute = admins.handle(async (_req, session) => {
      const n = session.increment('n');
      if (tries++ === 0) throw new Error('flaky upstream');
      return new Response(String(n));
    });
    const app = visitors.handle(async (req) => {
      const admin = await admins.start(req); // guard: admins only
      if (admin.userId === undefined) return new Response('forbidden', { status: 403 });
      return adminRoute(req);
    });
    const req = request(root.cookie);
    const res = await app(req).catch(() => app(req));
    expect(await res.text()).toBe('1');
    expect((await adminMemory.get(root.id))?.data.n).toBe('1');
  });
});

// JSDoc of sessionMiddleware: "The function is called once per request, when a handler first awaits the
// session". A login through another manager, then a throw: the visitors' middleware neither calls its function
// nor reads its store.
describe("Hono, a failing route that made an admin login never used the visitors' session", () => {
  it("the visitors' manager function is not called and the visitors' store is not read", async () => {
    const { visitors, admins, visitorCounts } = twoCookies();
    const visitor = await loggedIn(visitors, 'v1');
    const readsBefore = visitorCounts.calls.get;
    let made = 0;
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(
      sessionMiddleware(() => {
        made++;
        return visitors;
      }),
    );
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/admin/login', async (c) => {
      await admins.create(c.req.raw, { userId: 'root' });
      throw new Error('second factor rejected');
    });
    app.onError(() => new Response('sign-in failed', { status: 401 }));
    const res = await app.request('https://app.example/admin/login', {
      method: 'POST',
      headers: { cookie: visitor.cookie },
    });
    expect(res.status).toBe(401);
    expect(made).toBe(0);
    expect(visitorCounts.calls.get - readsBefore).toBe(0);
  });
});

// README: "Its other changes stay in the session it was handed, which a handle() around it shares and commits",
// also when its own begin() made that session (start() after an outer destroy()).
describe('a nested handle() handed a new session after the outer run logged out, then fails', () => {
  it("the inner run's flash stays in the session the outer run goes on with and commits", async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: memory, secrets: [SECRET], now: clock.now });
    const alice = await loggedIn(sessions, 'alice');
    const notice = sessions.handle(async (_req, session) => {
      session.setFlash('notice', 'signed out');
      throw new Error('template missing');
    });
    const app = sessions.handle(async (req, session) => {
      session.destroy(); // logout
      await notice(req).catch(() => undefined);
      const next = await sessions.start(req);
      return new Response(`flash ${String(next.peekFlash('notice'))}`);
    });
    const res = await app(request(alice.cookie));
    expect(await res.text()).toBe('flash signed out');
  });
});

// README, Hono rules, Errors: "When the handler throws, what earlier commits handed it (a login committed early,
// which ended the old session) is appended to onError's Response", also when the handler went through the
// manager (sessions.start(c.req.raw)) rather than the variable: a regenerate() moved the session to a new ID.
describe('Hono, a regenerate() committed early through sessions.start(c.req.raw), then a throw', () => {
  it("the new ID's cookie reaches the browser on onError's Response", async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: memory, secrets: [SECRET], now: clock.now });
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/elevate', async (c) => {
      const s = await sessions.start(c.req.raw);
      s.regenerate();
      await s.commit(); // the old ID stops working now
      throw new Error('audit log down');
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const res = await app.request('https://app.example/elevate', {
      method: 'POST',
      headers: { cookie: alice.cookie },
    });
    expect(res.status).toBe(503);
    const cookie = jarAfter([alice.cookie], res);
    expect((await sessions.start(request(cookie))).userId).toBe('alice');
  });
});

// Found by review 11g.
// An onError that rethrows (to let the runtime or a handle() around see the failure): the middleware's run still
// ends (a later run on the Request is not nested in it), and what its route made is dropped.
describe('Hono, onError rethrows: the failed run ends all the same', () => {
  it('a retry of the same Request commits the logout the failed try left', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let tries = 0;
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/sudo', async (c) => {
      await c.var.session;
      if (tries++ === 0) {
        const sudo = await sessions.create(c.req.raw, { userId: 'sudo' });
        await sudo.commit(); // stored: alice's session is ended
        sudo.destroy(); // policy check fails: log the step-up out again ...
        throw new Error('policy check failed'); // ... and fail
      }
      return c.text(`user ${(await c.var.session).userId ?? 'none'}`);
    });
    app.onError((error) => {
      throw error; // let the platform (or a wrapper) see it
    });
    const req = new Request('https://app.example/sudo', { method: 'POST', headers: { cookie: alice.cookie } });
    const res = await Promise.resolve(app.fetch(req)).catch(() => app.fetch(req)); // a retry wrapper
    expect(await res.text()).toBe('user none');
    // The retry must commit sudo's logout; taken for nested, it skips it and re-sends sudo's login cookie.
    expect(await sessions.listByUser('sudo')).toEqual([]);
    const cookie = jarAfter([alice.cookie], res);
    expect((await sessions.start(request(cookie))).userId).toBeUndefined();
  });

  it('same through a handle() around the app: a retry of the handle() is not nested', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let tries = 0;
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/sudo', async (c) => {
      await c.var.session;
      if (tries++ === 0) {
        const sudo = await sessions.create(c.req.raw, { userId: 'sudo' });
        await sudo.commit();
        sudo.destroy();
        throw new Error('policy check failed');
      }
      return c.text(`user ${(await c.var.session).userId ?? 'none'}`);
    });
    app.onError((error) => {
      throw error;
    });
    const handled = sessions.handle((req: Request) => app.fetch(req));
    const req = new Request('https://app.example/sudo', { method: 'POST', headers: { cookie: alice.cookie } });
    const res = await handled(req).catch(() => handled(req));
    expect(await res.text()).toBe('user none');
    expect(await sessions.listByUser('sudo')).toEqual([]);
    const cookie = jarAfter([alice.cookie], res);
    expect((await sessions.start(request(cookie))).userId).toBeUndefined();
  });
});

// The route went through the manager (admins.start(c.req.raw)), not the variable: the inner of two middlewares
// side by side is not nested in the outer one's run (another kind), so a retry reads the admin session again.
describe('Hono, two middlewares side by side, the route reads the admin session through the manager', () => {
  it('a retry counts the increment once', async () => {
    const { visitors, admins, adminMemory } = twoCookies();
    const root = await loggedIn(admins, 'root', { n: 0 });
    let tries = 0;
    const app = new Hono<SessionEnv & SessionEnv<Record<string, unknown>, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use(sessionMiddleware(admins, { variable: 'admin' }));
    app.post('/count', async (c) => {
      const admin = await admins.start(c.req.raw);
      const n = admin.increment('n');
      if (tries++ === 0) throw new Error('flaky upstream');
      return c.text(String(n), { headers: await admin.commit() }); // read through the manager: commit it here
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/count', { method: 'POST', headers: { cookie: root.cookie } });
    let res = await app.fetch(req);
    expect(res.status).toBe(503);
    res = await app.fetch(req); // the wrapper retries the same Request
    expect(await res.text()).toBe('1');
    expect((await adminMemory.get(root.id))?.data.n).toBe('1');
  });
});

// README: "Its other changes stay in the session it was handed, which a handle() around it shares and commits",
// also the session the middleware's first read made (start() after a destroy() of the handle() around the app).
describe('Hono app inside a handle() that logged out, the route sets a flash and throws', () => {
  it('the flash stays in the session the handle() goes on with', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.get('/notice', async (c) => {
      (await c.var.session).setFlash('notice', 'signed out');
      throw new Error('template missing');
    });
    app.onError(() => new Response('oops', { status: 500 }));
    const outer = sessions.handle(async (req, session) => {
      session.destroy(); // logout
      await app.fetch(req);
      const next = await sessions.start(req);
      return new Response(`flash ${String(next.peekFlash('notice'))}`);
    });
    const res = await outer(new Request('https://app.example/notice', { headers: { cookie: alice.cookie } }));
    expect(await res.text()).toBe('flash signed out');
  });
});

// Found by review 11h.
/**
 * A request logger registered before the session middleware: after the response is made, it reads the session to
 * log who got a 5xx. Its read is the variable's first when the route never awaited it, and comes after the
 * middleware's run ended: the LazySession load enters the kind (Sessions._enterKind) and nobody leaves it.
 */
function loggerReadingAfterNext(app: Hono<SessionEnv>, logged: (string | undefined)[]) {
  app.use(async (c, next) => {
    await next();
    if (c.res.status >= 500) logged.push((await c.var.session).userId);
  });
}

describe('Hono: a first read of the session after the middleware is over holds nothing', () => {
  it('the Request is not left held by a run once app.fetch() is done', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    const logged: (string | undefined)[] = [];
    const app = new Hono<SessionEnv>();
    loggerReadingAfterNext(app, logged);
    app.use(sessionMiddleware(sessions));
    app.get('/', () => {
      throw new Error('upstream down');
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/', { headers: { cookie: alice.cookie } });
    expect((await app.fetch(req)).status).toBe(503);
    expect(logged).toEqual(['alice']);
    expect(sessions._kindHeld(req)).toBe(false);
  });

  it('a retry of the same Request counts an increment once (README "an increment is counted once")', async () => {
    const { sessions, memory } = setup();
    const alice = await loggedIn(sessions, 'alice', { n: 0 });
    let tries = 0;
    const app = new Hono<SessionEnv>();
    loggerReadingAfterNext(app, []);
    app.use(sessionMiddleware(sessions));
    app.post('/count', async (c) => {
      const attempt = tries++;
      if (attempt === 0) throw new Error('upstream down'); // before the route reads the session
      const n = (await c.var.session).increment('n');
      if (attempt === 1) throw new Error('upstream down again');
      return c.text(String(n));
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/count', { method: 'POST', headers: { cookie: alice.cookie } });
    let res = await app.fetch(req);
    for (let i = 0; i < 3 && res.status === 503; i++) res = await app.fetch(req); // the retry wrapper
    expect(await res.text()).toBe('1');
    expect((await memory.get(alice.id))?.data.n).toBe('1');
  });

  it('a retry commits the logout of a step-up the failed try left (not signed in as it)', async () => {
    const { sessions } = setup();
    const alice = await loggedIn(sessions, 'alice');
    let tries = 0;
    const app = new Hono<SessionEnv>();
    loggerReadingAfterNext(app, []);
    app.use(sessionMiddleware(sessions));
    app.post('/sudo', async (c) => {
      if (tries++ === 0) {
        const sudo = await sessions.create(c.req.raw, { userId: 'sudo' });
        await sudo.commit(); // stored: alice's session is ended
        sudo.destroy(); // policy check fails: log the step-up out again ...
        throw new Error('policy check failed'); // ... and fail
      }
      return c.text(`user ${(await c.var.session).userId ?? 'none'}`);
    });
    app.onError(() => new Response('try again', { status: 503 }));
    const req = new Request('https://app.example/sudo', { method: 'POST', headers: { cookie: alice.cookie } });
    const first = await app.fetch(req);
    expect(first.status).toBe(503);
    const res = await app.fetch(req); // the retry wrapper
    expect(await res.text()).toBe('user none');
    expect(await sessions.listByUser('sudo')).toEqual([]);
    const cookie = jarAfter([alice.cookie], res);
    expect((await sessions.start(request(cookie))).userId).toBeUndefined();
  });
});

// Found by review 11i.
describe('a SessionError the handler lets out carries the lines its earlier commits made', () => {
  // README: "To answer a failed commit without it being tried again, let the error out of the handler", and pass
  // e.headers on: the committed logout reaches the browser (on the cookie store nothing else can revoke it).
  it("handle(), cookie store: a committed logout, then the handler's own login commit fails: logged out", async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = sessions.handle(async (req, session) => {
      session.destroy();
      const out = await session.commit(); // the logout: handed to the handler, to append to its answer
      const bob = await sessions.create(req, { userId: 'bob', data: { huge: 'x'.repeat(40_000) } });
      await bob.commit(); // COOKIE_TOO_LARGE: let out, as the README advises
      return new Response('welcome', { headers: out });
    });
    const res = await app(request(alice.cookie)).catch(readme503);
    expect(res.status).toBe(503);
    expect(await signedInAs(sessions, alice.cookie, res)).toBeUndefined();
  });

  it('control, Hono: the same route through sessionMiddleware logs alice out', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const alice = await loggedIn(sessions, 'alice');
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    app.post('/switch', async (c) => {
      const session = await c.var.session;
      session.destroy();
      const out = await session.commit();
      const bob = await sessions.create(c.req.raw, { userId: 'bob', data: { huge: 'x'.repeat(40_000) } });
      await bob.commit();
      return c.text('welcome', 200, Object.fromEntries(out));
    });
    app.onError(readme503);
    const res = await app.request('https://app.example/switch', { method: 'POST', headers: { cookie: alice.cookie } });
    expect(res.status).toBe(503);
    expect(await signedInAs(sessions, alice.cookie, res)).toBeUndefined();
  });
});
