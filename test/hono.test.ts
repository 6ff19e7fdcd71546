// edge-sessions/hono on real Hono apps (memory store, a virtual clock, a cookie jar across requests). The same
// file runs on Node, Deno, Bun and inside workerd; test/workerd/hono.workerd.test.ts adds KV and Durable Objects.
import { Hono, type Context } from 'hono';
import { etag } from 'hono/etag';
import { createSessions, Session, SessionError, type SessionEvent, type SessionStore } from '../src/index.js';
import { sessionMiddleware, type SessionEnv } from '../src/hono.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, countingStore, createClock, createJar, failingStore, request, SECRET } from './helpers.js';

const URL_ = 'https://app.example/';

interface Cart extends Record<string, unknown> {
  visits: number;
  name: string;
}

function setup(options: { onEvent?: (event: SessionEvent) => unknown; store?: SessionStore } = {}) {
  const clock = createClock();
  const memory = createMemoryStore({ now: clock.now });
  const counted = countingStore(options.store ?? memory);
  const sessions = createSessions<Cart>({
    store: counted.store,
    secrets: [SECRET],
    now: clock.now,
    expires: 3600,
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  const app = new Hono<SessionEnv<Cart>>();
  app.use(sessionMiddleware(sessions));
  app.get('/visit', async (c) => {
    const session = await c.var.session;
    return c.text(`visit ${session.increment('visits')}`);
  });
  app.get('/read', async (c) => c.text(String((await c.var.session).get('visits') ?? 'none')));
  app.get('/static', (c) => c.text('no session here'));
  const jar = createJar();
  /** A request with the jar's cookies; the response's Set-Cookie lines go back into the jar. */
  async function browse(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie !== undefined) headers.set('Cookie', cookie);
    const response = await app.request(new URL(path, URL_).href, { ...init, headers });
    jar.apply(response.headers);
    return response;
  }
  return { clock, memory, counted, sessions, app, jar, browse };
}

describe('hono: sessionMiddleware', () => {
  it('gives handlers a typed Session<Data> and keeps it across requests through the cookie', async () => {
    const { browse, app, sessions } = setup();
    app.get('/typed', async (c) => {
      const session: Session<Cart> = await c.var.session;
      // @ts-expect-error -- SessionEnv<Cart> types the values: visits is a number
      expect(() => session.set('visits', 'many')).not.toThrow();
      session.set('name', 'ada');
      return c.json({ isSession: session instanceof Session, name: session.get('name') });
    });
    const first = await browse('/visit');
    expect(await first.text()).toBe('visit 1');
    expect(first.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=[^;]+; Path=\/; Max-Age=3600;/)]);
    expect(first.headers.getSetCookie()[0]).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    expect(await (await browse('/visit')).text()).toBe('visit 2');
    expect(await (await browse('/read')).text()).toBe('2');
    expect(await (await browse('/typed')).json()).toEqual({ isSession: true, name: 'ada' });
    expect(sessions.cookieName).toBe('__Host-sid');
  });

  it('is awaited once per request: a second await gives the same session and reads the store once', async () => {
    const { browse, app, counted } = setup();
    app.get('/twice', async (c) => {
      const a = await c.var.session;
      const b = await c.var.session.then((session) => session);
      return c.json({ same: a === b });
    });
    await browse('/visit');
    counted.calls.get = 0;
    expect(await (await browse('/twice')).json()).toEqual({ same: true });
    expect(counted.calls.get).toBe(1);
  });

  it('appends its Set-Cookie to the cookies the handler set, and never drops them', async () => {
    const { app, browse } = setup();
    app.get('/theme', async (c) => {
      (await c.var.session).set('name', 'ada');
      c.header('Set-Cookie', 'theme=dark; Path=/', { append: true });
      c.header('Set-Cookie', 'lang=en; Path=/', { append: true });
      return c.text('ok');
    });
    app.get('/raw', async (c) => {
      (await c.var.session).increment('visits');
      const headers = new Headers([['Set-Cookie', 'raw=1; Path=/']]);
      return new Response('raw', { headers });
    });
    const theme = (await browse('/theme')).headers.getSetCookie();
    expect(theme).toHaveLength(3);
    expect(theme.slice(0, 2)).toEqual(['theme=dark; Path=/', 'lang=en; Path=/']);
    expect(theme[2]).toMatch(/^__Host-sid=/);
    const raw = (await browse('/raw')).headers.getSetCookie();
    expect(raw).toHaveLength(2);
    expect(raw[0]).toBe('raw=1; Path=/');
    expect(raw[1]).toMatch(/^__Host-sid=/);
  });

  it('sets its cookie on a Response with immutable headers (Response.redirect) through a copy', async () => {
    const { app, browse, jar } = setup();
    app.post('/login', async (c) => {
      (await c.var.session).set('name', 'ada');
      return Response.redirect(new URL('/read', c.req.url).href, 303);
    });
    const response = await browse('/login', { method: 'POST' });
    expect(response.status).toBe(303);
    expect(response.headers.get('Location')).toBe(`${URL_}read`);
    expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=/)]);
    expect(jar.size).toBe(1);
  });

  it('never changes a Response object the handler returns on every request', async () => {
    const { app, browse } = setup();
    // One object for every visitor: a cookie added to it would go to the next visitor too.
    const shared = new Response(null, { status: 204, headers: { 'X-Shared': '1' } });
    app.post('/ping', async (c) => {
      (await c.var.session).increment('visits');
      return shared;
    });
    const first = await browse('/ping', { method: 'POST' });
    const second = await browse('/ping', { method: 'POST' });
    for (const response of [first, second]) {
      expect(response).not.toBe(shared);
      expect(response.status).toBe(204);
      expect(response.headers.get('X-Shared')).toBe('1');
      expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=/)]);
    }
    expect(shared.headers.getSetCookie()).toEqual([]);
    expect(shared.headers.get('Cache-Control')).toBeNull();
    expect(await (await browse('/read')).text()).toBe('2');
  });

  it('serves two managers side by side, each under its own variable, cookie and store', async () => {
    const clock = createClock();
    const visitorStore = countingStore(createMemoryStore({ now: clock.now }));
    const adminStore = countingStore(createMemoryStore({ now: clock.now }));
    const visitors = createSessions<{ visits: number }>({
      store: visitorStore.store,
      secrets: [SECRET],
      now: clock.now,
    });
    const admins = createSessions<{ role: string }>({
      store: adminStore.store,
      secrets: [SECRET],
      now: clock.now,
      cookie: { name: '__Host-admin' },
    });
    const app = new Hono<SessionEnv<{ visits: number }> & SessionEnv<{ role: string }, 'admin'>>();
    app.use(sessionMiddleware(visitors));
    app.use('/admin/*', sessionMiddleware(admins, { variable: 'admin' }));
    app.get('/admin/grant', async (c) => {
      const visitor = await c.var.session;
      const admin = await c.var.admin;
      admin.set('role', 'owner');
      return c.text(`visit ${visitor.increment('visits')}, ${admin.get('role')}`);
    });
    app.get('/admin/who', async (c) => c.text(`${(await c.var.admin).get('role') ?? 'nobody'}`));
    app.get('/home', async (c) => c.text(`visit ${(await c.var.session).increment('visits')}`));
    const jar = createJar();
    const browse = async (path: string) => {
      const cookie = jar.header();
      const response = await app.request(`${URL_}${path}`, cookie === undefined ? {} : { headers: { cookie } });
      jar.apply(response.headers);
      return response;
    };

    const granted = await browse('admin/grant');
    expect(await granted.text()).toBe('visit 1, owner');
    const lines = granted.headers.getSetCookie();
    expect(lines.map((line) => line.slice(0, line.indexOf('=')))).toEqual(['__Host-admin', '__Host-sid']);
    expect(granted.headers.get('Cache-Control')).toBe('private'); // once, though both set a cookie
    expect(jar.size).toBe(2);
    expect(await (await browse('admin/who')).text()).toBe('owner');
    expect(await (await browse('home')).text()).toBe('visit 2');
    expect(await visitorStore.store.count()).toBe(1);
    expect(await adminStore.store.count()).toBe(1);
    // /home runs only the visitor middleware: the admin store was read once, for /admin/who.
    expect(adminStore.calls.get).toBe(1);
  });

  it('a manager function that returns no manager is an INVALID_OPTION naming what it returned', async () => {
    const app = new Hono<SessionEnv<Cart>>();
    const errors: unknown[] = [];
    app.onError((error, c) => {
      errors.push(error);
      return c.text('sorry', 500);
    });
    // A block arrow without its `return`.
    app.use(sessionMiddleware((() => undefined) as never));
    app.get('/', async (c) => c.text(String((await c.var.session).get('name'))));
    expect((await app.request(URL_)).status).toBe(500);
    expect(errors).toEqual([expect.any(SessionError)]);
    expect(errors[0]).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/sessionMiddleware: the function given returned undefined, not a manager/),
    });
  });

  it('commits nothing when the handler throws: onError answers, the store keeps what it had', async () => {
    const { app, browse, counted } = setup();
    const errors: unknown[] = [];
    app.onError((error, c) => {
      errors.push(error);
      return c.text('sorry', 500);
    });
    app.get('/fail', async (c) => {
      const session = await c.var.session;
      session.set('visits', 99);
      session.set('name', 'mallory');
      throw new Error('handler failed');
    });
    const fresh = await browse('/fail');
    expect(fresh.status).toBe(500);
    expect(await fresh.text()).toBe('sorry');
    expect(fresh.headers.getSetCookie()).toEqual([]);
    expect(counted.writes()).toBe(0);

    await browse('/visit');
    const writes = counted.writes();
    const stored = await browse('/fail');
    expect(stored.status).toBe(500);
    expect(stored.headers.getSetCookie()).toEqual([]);
    expect(counted.writes()).toBe(writes);
    expect(await (await browse('/read')).text()).toBe('1');
    expect(errors).toEqual([expect.objectContaining({ message: 'handler failed' }), expect.any(Error)]);
  });

  it("marks onError's page private when the failed run read a live session", async () => {
    // onError may show what the session holds ("Sorry, Alice"): a page per user, which no shared cache may keep.
    const { app, browse } = setup();
    app.onError((_error, c) => c.text('sorry', 500));
    app.get('/fail', async (c) => {
      await c.var.session;
      throw new Error('handler failed');
    });
    const fresh = await browse('/fail');
    expect(fresh.headers.get('Cache-Control')).toBeNull();
    await browse('/visit');
    const live = await browse('/fail');
    expect(live.status).toBe(500);
    expect(live.headers.getSetCookie()).toEqual([]);
    expect(live.headers.get('Cache-Control')).toBe('private');
    const unread = await browse('/static');
    expect(unread.headers.get('Cache-Control')).toBeNull();
  });

  it('lets a failing store reach onError as a SessionError, on read and on commit', async () => {
    const reads = setup({ store: failingStore() });
    const codes: string[] = [];
    reads.app.onError((error, c) => {
      codes.push(error instanceof SessionError ? error.code : 'other');
      return c.text('try again', 503);
    });
    const cookie = cookiePair(
      await (await setup().sessions.create(new Request(URL_), { data: { visits: 1 } })).commit(),
    );
    const read = await reads.app.request(`${URL_}read`, { headers: { cookie } });
    expect(read.status).toBe(503);
    expect(read.headers.getSetCookie()).toEqual([]);
    const write = await reads.app.request(`${URL_}visit`); // no cookie: no read, and the create fails
    expect(write.status).toBe(503);
    expect(write.headers.getSetCookie()).toEqual([]);
    expect(codes).toEqual(['STORE_READ', 'STORE_WRITE']);
  });

  it('commits nothing when the handler caught a failed read and answered without the session', async () => {
    const { app } = setup({ store: failingStore() });
    app.get('/degraded', async (c) => {
      const session = await c.var.session.catch(() => null);
      return c.text(session === null ? 'degraded' : 'session');
    });
    const cookie = cookiePair(
      await (await setup().sessions.create(new Request(URL_), { data: { visits: 1 } })).commit(),
    );
    const response = await app.request(`${URL_}degraded`, { headers: { cookie } });
    expect(await response.text()).toBe('degraded');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get('Cache-Control')).toBeNull();
  });

  it('returns a Response.error() as it is and commits nothing', async () => {
    const { app, counted } = setup();
    app.get('/network-error', async (c) => {
      (await c.var.session).set('name', 'ada');
      return Response.error();
    });
    const response = await app.request(`${URL_}network-error`);
    expect(response.type).toBe('error');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(counted.total()).toBe(0);
  });

  it('is lazy: a route that never awaits the session does no store I/O and sets no cookie', async () => {
    const { browse, counted, jar } = setup();
    await browse('/visit');
    expect(jar.size).toBe(1);
    const before = counted.total();
    const response = await browse('/static');
    expect(await response.text()).toBe('no session here');
    expect(counted.total()).toBe(before);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get('Cache-Control')).toBeNull();
  });

  it('is lazy for a visitor without a cookie too: no store I/O until something is stored', async () => {
    const { browse, counted } = setup();
    expect((await browse('/static')).headers.getSetCookie()).toEqual([]);
    expect((await browse('/read')).headers.getSetCookie()).toEqual([]);
    expect(counted.total()).toBe(0);
    await browse('/visit');
    expect(counted.calls).toMatchObject({ get: 0, create: 1 });
  });

  it('passes Workers’ executionCtx to the manager, and works without one', async () => {
    const background: Promise<unknown>[] = [];
    const events: string[] = [];
    const { app, browse } = setup({
      onEvent: async (event) => {
        events.push(event.type);
      },
    });
    const ctx = { waitUntil: (p: Promise<unknown>) => void background.push(p), passThroughOnException() {}, props: {} };
    const tampered = `__Host-sid=${'A'.repeat(24)}.${'B'.repeat(45)}`;
    const withCtx = await app.fetch(new Request(`${URL_}read`, { headers: { cookie: tampered } }), {}, ctx);
    expect(await withCtx.text()).toBe('none');
    expect(events).toEqual(['rejected']);
    expect(background).toHaveLength(1); // the async hook went to ctx.waitUntil
    expect(await (await browse('/visit')).text()).toBe('visit 1'); // app.request(): no executionCtx
    expect(background).toHaveLength(1);
    expect(events).toEqual(['rejected', 'created']);
  });

  it('commits the session a login replaced with create(), after ending the old one', async () => {
    const { app, browse, sessions, jar, memory } = setup();
    app.post('/login', async (c) => {
      const old = await c.var.session;
      const fresh = await sessions.create(c.req.raw, { data: { name: 'ada', visits: old.get('visits') ?? 0 } });
      return c.text(`hello ${fresh.get('name')}, ${fresh.id === old.id ? 'same' : 'new'} id`);
    });
    app.post('/logout', async (c) => {
      (await c.var.session).destroy();
      return c.text('bye');
    });
    await browse('/visit');
    const before = jar.header();
    const login = await browse('/login', { method: 'POST' });
    expect(await login.text()).toBe('hello ada, new id');
    const lines = login.headers.getSetCookie();
    expect(lines).toHaveLength(1); // the old cookie is not expired separately: the new one replaces it
    expect(jar.header()).not.toBe(before);
    expect(await (await browse('/read')).text()).toBe('1');
    expect(await memory.count()).toBe(1);

    const logout = await browse('/logout', { method: 'POST' });
    expect(logout.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=; Path=\/; Max-Age=0;/)]);
    expect(logout.headers.get('Cache-Control')).toBe('private');
    expect(jar.size).toBe(0);
    expect(await memory.count()).toBe(0);
  });

  it('sends the cookie of a commit the handler made through the manager and did not append', async () => {
    const { app, browse, sessions, jar, memory } = setup();
    app.post('/logout', async (c) => {
      await c.var.session;
      await sessions.destroy(c.req.raw); // its headers are not appended: the middleware sends them
      return c.text('bye');
    });
    await browse('/visit');
    expect(jar.size).toBe(1);
    const logout = await browse('/logout', { method: 'POST' });
    expect(logout.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=; Path=\/; Max-Age=0;/)]);
    expect(jar.size).toBe(0);
    expect(await memory.count()).toBe(0);
  });

  it("never sends the replaced session's early commit after a login's cookie the handler appended", async () => {
    const { app, browse, sessions, jar } = setup();
    app.post('/login', async (c) => {
      const old = await c.var.session;
      old.increment('visits');
      await old.commit(); // left to the middleware
      const fresh = await sessions.create(c.req.raw, { data: { name: 'ada' } });
      for (const line of (await fresh.commit()).getSetCookie()) c.header('Set-Cookie', line, { append: true });
      return c.text('in');
    });
    app.get('/name', async (c) => c.text(String((await c.var.session).get('name'))));
    await browse('/login', { method: 'POST' });
    expect(jar.size).toBe(1);
    expect(await (await browse('/name')).text()).toBe('ada');
  });

  it('takes a function of the context that builds the manager, called once and only when awaited', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    type Bindings = { SECRET: string };
    const built: string[] = [];
    const app = new Hono<SessionEnv<Cart> & { Bindings: Bindings }>();
    app.use(
      sessionMiddleware((c: Context<{ Bindings: Bindings }>) => {
        built.push(c.req.path);
        return createSessions<Cart>({ store, secrets: [c.env.SECRET], now: clock.now });
      }),
    );
    app.get('/visit', async (c) => {
      const first = await c.var.session;
      expect(await c.var.session).toBe(first);
      return c.text(`visit ${first.increment('visits')}`);
    });
    app.get('/static', (c) => c.text('static'));
    const bindings: Bindings = { SECRET };
    const first = await app.request(`${URL_}visit`, {}, bindings);
    expect(await first.text()).toBe('visit 1');
    const cookie = cookiePair(first.headers);
    const second = await app.request(`${URL_}visit`, { headers: { cookie } }, bindings);
    expect(await second.text()).toBe('visit 2');
    expect((await app.request(`${URL_}static`, { headers: { cookie } }, bindings)).headers.getSetCookie()).toEqual([]);
    expect(built).toEqual(['/visit', '/visit']);
  });

  it('logs in through a manager the handler builds again from the same function (Workers)', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    type Bindings = { SECRET: string };
    type AppEnv = SessionEnv<Cart> & { Bindings: Bindings };
    const sessionsOf = (c: Context<AppEnv>) => createSessions<Cart>({ store, secrets: [c.env.SECRET], now: clock.now });
    const app = new Hono<AppEnv>();
    app.use(sessionMiddleware(sessionsOf));
    app.get('/visit', async (c) => c.text(`visit ${(await c.var.session).increment('visits')}`));
    app.post('/login', async (c) => {
      const old = await c.var.session;
      // Another manager object, for the same cookie: it has the same session of this request.
      const sessions = sessionsOf(c);
      expect(await sessions.start(c.req.raw)).toBe(old);
      const fresh = await sessions.create(c.req.raw, { data: { name: 'ada', visits: old.get('visits') ?? 0 } });
      return c.text(`hello ${fresh.get('name')}`);
    });
    const bindings: Bindings = { SECRET };
    const cookie = cookiePair((await app.request(`${URL_}visit`, {}, bindings)).headers);
    const login = await app.request(`${URL_}login`, { method: 'POST', headers: { cookie } }, bindings);
    expect(await login.text()).toBe('hello ada');
    const lines = login.headers.getSetCookie();
    expect(lines).toHaveLength(1);
    const after = cookiePair(login.headers);
    expect(after).not.toBe(cookie);
    expect(await (await app.request(`${URL_}visit`, { headers: { cookie: after } }, bindings)).text()).toBe('visit 2');
    // The session the request arrived with was ended: its cookie starts a new one.
    expect(await (await app.request(`${URL_}visit`, { headers: { cookie } }, bindings)).text()).toBe('visit 1');
  });

  it('hands a manager function that throws to onError, as a failed read', async () => {
    const app = new Hono<SessionEnv<Cart>>();
    const codes: string[] = [];
    app.onError((error, c) => {
      codes.push(error instanceof SessionError ? error.code : 'other');
      return c.text('misconfigured', 500);
    });
    app.use(sessionMiddleware(() => createSessions<Cart>({ store: createMemoryStore(), secrets: ['too short'] })));
    app.get('/visit', async (c) => c.text(`visit ${(await c.var.session).increment('visits')}`));
    app.get('/caught', async (c) =>
      c.text(
        await c.var.session.then(
          () => 'session',
          () => 'no session',
        ),
      ),
    );
    const failed = await app.request(`${URL_}visit`);
    expect(failed.status).toBe(500);
    expect(failed.headers.getSetCookie()).toEqual([]);
    expect(await (await app.request(`${URL_}caught`)).text()).toBe('no session');
    expect(codes).toEqual(['WEAK_SECRET']);
  });

  it('types the variable through app.use() when the app declares no env', async () => {
    const sessions = createSessions<Cart>({ store: createMemoryStore(), secrets: [SECRET] });
    const app = new Hono().use(sessionMiddleware(sessions, { variable: 'visitor' })).get('/', async (c) => {
      const session: Session<Cart> = await c.var.visitor;
      // @ts-expect-error -- only the variable the middleware was given exists
      expect(c.var.session).toBeUndefined();
      return c.text(`visit ${session.increment('visits')}`);
    });
    const response = await app.request(URL_);
    expect(await response.text()).toBe('visit 1');
    expect(response.headers.getSetCookie()).toHaveLength(1);
  });

  it('refuses options it does not know, an empty variable name and a missing manager', () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error instanceof SessionError ? `${error.code}: ${error.message}` : String(error);
      }
      return 'accepted';
    };
    // @ts-expect-error -- the option is `variable`
    expect(refusal(() => sessionMiddleware(sessions, { name: 'admin' }))).toBe(
      'INVALID_OPTION: edge-sessions: sessionMiddleware: unknown option "name"',
    );
    expect(refusal(() => sessionMiddleware(sessions, { variable: '' }))).toBe(
      'INVALID_OPTION: edge-sessions: sessionMiddleware: variable must be a non-empty string',
    );
    // @ts-expect-error -- a manager is required
    expect(refusal(() => sessionMiddleware(undefined))).toBe(
      'INVALID_OPTION: edge-sessions: sessionMiddleware: the first argument must be a manager (createSessions) or a ' +
        'function that returns one',
    );
    expect(refusal(() => sessionMiddleware(sessions, { variable: 'visitor' }))).toBe('accepted');
  });
});

describe('hono: Cache-Control', () => {
  async function liveCookie(ctx: ReturnType<typeof setup>) {
    await ctx.browse('/visit');
    return ctx.jar.header()!;
  }

  it('marks a page read from a live session private, though it sets no cookie', async () => {
    const ctx = setup();
    const cookie = await liveCookie(ctx);
    const response = await ctx.app.request(`${URL_}read`, { headers: { cookie } });
    expect(await response.text()).toBe('1');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get('Cache-Control')).toBe('private');
  });

  it('appends private to a Cache-Control that allows shared caches, with a cookie or a live session', async () => {
    const ctx = setup();
    ctx.app.get('/cached', async (c) => {
      (await c.var.session).increment('visits');
      c.header('Cache-Control', 'public, max-age=60');
      return c.text('cached');
    });
    ctx.app.get('/cached-read', async (c) => {
      await c.var.session;
      return c.text('read', 200, { 'Cache-Control': 'max-age=60' });
    });
    const fresh = await ctx.app.request(`${URL_}cached`);
    expect(fresh.headers.getSetCookie()).toHaveLength(1);
    expect(fresh.headers.get('Cache-Control')).toBe('public, max-age=60, private');
    const cookie = await liveCookie(ctx);
    const read = await ctx.app.request(`${URL_}cached-read`, { headers: { cookie } });
    expect(read.headers.get('Cache-Control')).toBe('max-age=60, private');
  });

  it('leaves private, no-store and their case variants alone, but not private="set-cookie"', async () => {
    const ctx = setup();
    ctx.app.get('/cc/:value', async (c) => {
      (await c.var.session).increment('visits');
      return c.text('x', 200, { 'Cache-Control': decodeURIComponent(c.req.param('value')) });
    });
    const cacheControl = async (value: string) =>
      (await ctx.app.request(`${URL_}cc/${encodeURIComponent(value)}`)).headers.get('Cache-Control');
    expect(await cacheControl('private')).toBe('private');
    expect(await cacheControl('no-store')).toBe('no-store');
    expect(await cacheControl('max-age=0, Private')).toBe('max-age=0, Private');
    expect(await cacheControl('NO-STORE , max-age=0')).toBe('NO-STORE , max-age=0');
    expect(await cacheControl('private="set-cookie", max-age=60')).toBe('private="set-cookie", max-age=60, private');
    expect(await cacheControl('no-store-ish')).toBe('no-store-ish, private');
  });

  it("marks a CDN-targeted Cache-Control of a live session's page private too (RFC 9213)", async () => {
    const ctx = setup();
    ctx.app.get('/cdn', async (c) => {
      const visits = (await c.var.session).get('visits');
      return c.text(String(visits), 200, { 'CDN-Cache-Control': 'max-age=600' });
    });
    const cookie = await liveCookie(ctx);
    const response = await ctx.app.request(`${URL_}cdn`, { headers: { cookie } });
    expect(response.headers.get('Cache-Control')).toBe('private');
    expect(response.headers.get('CDN-Cache-Control')).toBe('max-age=600, private');
  });

  it('leaves a request that never had a session alone, even when the handler looked', async () => {
    const ctx = setup();
    ctx.app.get('/public', async (c) => {
      const session = await c.var.session;
      return c.text(session.isNew ? 'anonymous' : 'known', 200, { 'Cache-Control': 'public, max-age=300' });
    });
    const response = await ctx.app.request(`${URL_}public`, { headers: { cookie: 'theme=dark' } });
    expect(await response.text()).toBe('anonymous');
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=300');
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('marks the expiring cookie of a session that ended meanwhile private', async () => {
    const ctx = setup();
    const cookie = await liveCookie(ctx);
    ctx.clock.advanceSec(3600);
    const response = await ctx.app.request(`${URL_}read`, { headers: { cookie } });
    expect(await response.text()).toBe('none');
    expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=; Path=\/; Max-Age=0;/)]);
    expect(response.headers.get('Cache-Control')).toBe('private');
  });
});

describe('hono: etag() and the session cookie', () => {
  /** An app whose page is the same bytes whatever the session holds, and whose every visit writes the session. */
  function appWith(order: 'etag first' | 'session first') {
    const sessions = createSessions<Cart>({ store: createCookieStore(), secrets: [SECRET] });
    const app = new Hono<SessionEnv<Cart>>();
    if (order === 'etag first') app.use(etag());
    app.use(sessionMiddleware(sessions));
    if (order === 'session first') app.use(etag());
    app.get('/page', async (c) => {
      (await c.var.session).increment('visits');
      return c.text('the same page');
    });
    return app;
  }

  async function revisit(app: Hono<SessionEnv<Cart>>): Promise<Response> {
    const first = await app.request(`${URL_}page`);
    const tag = first.headers.get('ETag')!;
    return app.request(`${URL_}page`, {
      headers: { Cookie: cookiePair(first.headers), 'If-None-Match': tag },
    });
  }

  it('registered after sessionMiddleware: a 304 still carries the new cookie (the README order)', async () => {
    const response = await revisit(appWith('session first'));
    expect(response.status).toBe(304);
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(response.headers.get('Cache-Control')).toContain('private');
  });

  it('registered before it: Hono drops Set-Cookie from the 304, the write is stored but not sent', async () => {
    const response = await revisit(appWith('etag first'));
    expect(response.status).toBe(304);
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

describe('hono: a handle() under app.mount() has a session of its own', () => {
  /** A login, then a logout in a mounted `handle()` while a middleware writes the session on every request. */
  async function logoutInMountedApp(kind: 'memory' | 'cookie'): Promise<string> {
    const store = kind === 'memory' ? createMemoryStore() : createCookieStore();
    const sessions = createSessions<Cart>({ store, secrets: [SECRET] });
    const app = new Hono<SessionEnv<Cart>>();
    app.use(sessionMiddleware(sessions));
    app.use(async (c, next) => {
      (await c.var.session).increment('visits');
      await next();
    });
    app.get('/login', async (c) => {
      (await c.var.session).set('name', 'ada');
      return c.text('in');
    });
    app.get('/me', async (c) => c.text((await c.var.session).get('name') ?? 'anon'));
    app.mount(
      '/legacy',
      sessions.handle(async (_req, session) => {
        session.destroy();
        return new Response('out');
      }),
    );
    const jar = createJar();
    const go = async (path: string) => {
      const cookie = jar.header();
      const response = await app.request(`${URL_.slice(0, -1)}${path}`, {
        headers: cookie === undefined ? {} : { Cookie: cookie },
      });
      jar.apply(response.headers);
      return response.text();
    };
    await go('/login');
    await go('/legacy/logout');
    return go('/me');
  }

  it('on a server store the mounted logout ends the session: the middleware’s write finds it ended', async () => {
    expect(await logoutInMountedApp('memory')).toBe('anon');
  });

  it('on the cookie store the middleware’s fresh cookie follows the expired one: the login stays', async () => {
    expect(await logoutInMountedApp('cookie')).toBe('ada');
  });
});

type LoginData = { user: string };

function setupLogin(kind: 'memory' | 'cookie') {
  const clock = createClock();
  const store = kind === 'memory' ? createMemoryStore({ now: clock.now }) : createCookieStore();
  const sessions = createSessions<LoginData>({ store, secrets: [SECRET], now: clock.now });
  const app = new Hono<SessionEnv<LoginData>>();
  app.use(sessionMiddleware(sessions));
  app.get('/me', async (c) => c.text((await c.var.session).get('user') ?? 'anon'));
  const jar = createJar({ now: clock.now });
  async function browse(path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie !== undefined) headers.set('Cookie', cookie);
    const response = await app.request(new URL(path, URL_).href, { ...init, headers });
    jar.apply(response.headers);
    return response;
  }
  return { sessions, app, browse };
}

describe('a login made with create() and ended again in the same request stays ended', () => {
  it('cookie store: sessions.destroy(request) whose headers the handler ignored still expires the cookie', async () => {
    const { sessions, app, browse } = setupLogin('cookie');
    app.post('/login', async (c) => {
      await c.var.session;
      const s = await sessions.create(c.req.raw, { data: { user: 'ada' } });
      for (const line of (await s.commit()).getSetCookie()) c.header('Set-Cookie', line, { append: true });
      await sessions.destroy(c.req.raw); // second factor failed: log out; headers forgotten (README: still sent)
      return c.text('denied', 401);
    });
    await browse('/login', { method: 'POST' });
    expect(await (await browse('/me')).text()).toBe('anon');
  });

  it('memory store: destroy() on the create()d session after its cookie was appended is committed', async () => {
    const { sessions, app, browse } = setupLogin('memory');
    app.post('/login', async (c) => {
      await c.var.session;
      const s = await sessions.create(c.req.raw, { data: { user: 'ada' } });
      for (const line of (await s.commit()).getSetCookie()) c.header('Set-Cookie', line, { append: true });
      s.destroy(); // left to the middleware, as for (await c.var.session).destroy()
      return c.text('denied', 401);
    });
    await browse('/login', { method: 'POST' });
    expect(await (await browse('/me')).text()).toBe('anon');
  });

  it('handle(): a create()d session destroyed and then replaced by start() is still committed', async () => {
    const clock = createClock();
    const sessions = createSessions<LoginData>({
      store: createMemoryStore({ now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
    });
    const jar = createJar({ now: clock.now });
    const app = sessions.handle(async (request, session) => {
      if (new URL(request.url).pathname === '/me') return new Response(session.get('user') ?? 'anon');
      const s = await sessions.create(request, { data: { user: 'ada' } });
      const response = new Response('denied', { status: 401, headers: await s.commit() });
      s.destroy(); // second factor failed
      await sessions.start(request); // e.g. a layout helper that reads flashes
      return response;
    });
    jar.apply(await app(new Request(`${URL_}login`, { method: 'POST' })));
    const me = await app(new Request(`${URL_}me`, { headers: { cookie: jar.header() ?? '' } }));
    expect(await me.text()).toBe('anon');
  });
});

describe('hono: login in a nested middleware, logout in the handler', () => {
  it('(await c.var.session).destroy() after a login made by a nested middleware logs the visitor out', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: memory, secrets: [SECRET], now: clock.now });
    const app = new Hono<SessionEnv>();
    app.use(sessionMiddleware(sessions));
    // e.g. a "remember-me token" middleware that logs the visitor in on /account/*
    app.use('/account/*', async (c, next) => {
      await c.var.session;
      await sessions.create(c.req.raw, { userId: 'bob', data: { who: 'bob' } });
      await next();
    });
    app.post('/account/logout', async (c) => {
      (await c.var.session).destroy(); // the documented logout
      return c.text('bye');
    });
    const jar = createJar();
    const res = await app.request('https://app.example/account/logout', { method: 'POST' });
    jar.apply(res.headers);
    // The handler logged out: no live session of bob may be left, nor a cookie that opens one.
    expect(await sessions.listByUser('bob')).toEqual([]);
    const cookie = jar.header();
    if (cookie !== undefined) expect((await sessions.start(request(cookie))).get('who')).toBeUndefined();
  });
});
