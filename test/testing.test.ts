// edge-sessions/testing: the suites catch broken stores (a suite that passes everything proves nothing), and
// the cookie jar and sessionCookie behave as a browser and a real login would.
import { createSessions, type SessionStore } from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore, type MemoryStore } from '../src/memory.js';
import {
  createCookieJar,
  describeLifecycleRaces,
  describeStoreConformance,
  sessionCookie,
  type TestClock,
} from '../src/testing.js';
import { describe, expect, it } from './harness.js';
import { collectingRunner, createClock, failingTests, request, SECRET } from './helpers.js';

/** The memory store with some methods replaced (bound, so the store's own closures keep working). */
function memoryWith(clock: TestClock, override: (store: SessionStore) => Partial<SessionStore>): SessionStore {
  const store = createMemoryStore({ now: clock.now });
  const bound: SessionStore = {
    name: 'broken memory',
    get: store.get.bind(store),
    create: store.create.bind(store),
    update: store.update.bind(store),
    regenerate: store.regenerate.bind(store),
    destroy: store.destroy.bind(store),
    clear: store.clear.bind(store),
    count: store.count.bind(store),
  };
  return { ...bound, ...override(bound) };
}

/** Says it ended the session, and keeps it. */
const destroyDoesNothing = (clock: TestClock) => memoryWith(clock, () => ({ destroy: async () => true }));

/** An update of a session it does not hold creates it (the lost-logout bug: a late commit revives a session). */
const updateRecreates = (clock: TestClock) =>
  memoryWith(clock, (store) => ({
    async update(id, changes, times) {
      const updated = await store.update(id, changes, times);
      if (updated !== null) return updated;
      await store.create(id, { data: {}, createdAt: times.accessedAt, ...times });
      return store.update(id, changes, times);
    },
  }));

const has = (failed: string[], fragment: string) => failed.some((name) => name.includes(fragment));

describe('edge-sessions/testing: the suites fail a broken store', () => {
  it('the conformance suite passes the memory store as it is (the collecting runner runs real tests)', async () => {
    const { runner, tests } = collectingRunner();
    describeStoreConformance('memory', (clock) => createMemoryStore({ now: clock.now }), runner, { perUser: true });
    expect(tests.length).toBeGreaterThanOrEqual(20);
    expect(tests.filter((t) => t.name.includes('per-user sessions')).length).toBeGreaterThanOrEqual(10);
    expect(await failingTests(tests)).toEqual([]);
  });

  it('the conformance suite fails a store whose destroy does nothing', async () => {
    const { runner, tests } = collectingRunner();
    describeStoreConformance('destroy does nothing', destroyDoesNothing, runner);
    const failed = await failingTests(tests);
    expect(has(failed, 'the store contract > destroy ends a session for good')).toBe(true);
    expect(has(failed, 'the store contract > update never creates')).toBe(true);
    expect(has(failed, 'the store contract > regenerate of a session that is not live creates nothing')).toBe(true);
    expect(has(failed, 'sessions over the store >')).toBe(true);
  });

  it('the conformance suite fails a store whose update recreates a session it does not hold', async () => {
    const { runner, tests } = collectingRunner();
    describeStoreConformance('update recreates', updateRecreates, runner);
    const failed = await failingTests(tests);
    expect(has(failed, 'the store contract > update never creates')).toBe(true);
    // Everything else of the contract still holds: the suite names the broken guarantee, not a pile of them.
    expect(failed.filter((name) => name.includes('the store contract >'))).toHaveLength(1);
  });

  it('the conformance suite fails a store whose update ignores a clear, or immutable keys', async () => {
    // session.clear() as a logout would store nothing; an immutable role could be overwritten.
    const ignoring = (drop: 'clear' | 'immutable') => (clock: TestClock) =>
      memoryWith(clock, (store) => ({
        update: (id, changes, times) => store.update(id, { ...changes, [drop]: undefined }, times),
      }));
    for (const drop of ['clear', 'immutable'] as const) {
      const { runner, tests } = collectingRunner();
      describeStoreConformance(`ignores ${drop}`, ignoring(drop), runner);
      const failed = await failingTests(tests);
      expect(has(failed, 'the store contract > update applies a clear'), drop).toBe(true);
    }
  });

  it('the per-user suite fails a store whose destroyByUser ends nothing, or whose index loses logins', async () => {
    const perUser = (clock: TestClock, override: (store: MemoryStore) => Partial<SessionStore>) => {
      const store = createMemoryStore({ now: clock.now });
      return Object.assign(Object.create(store) as MemoryStore, override(store));
    };
    const endsNothing = (clock: TestClock) => perUser(clock, () => ({ destroyByUser: async () => [] }));
    const losesLogins = (clock: TestClock) =>
      perUser(clock, (store) => ({ listByUser: async (userId) => (await store.listByUser(userId)).slice(0, 5) }));
    for (const [broken, fragment] of [
      [endsNothing, 'destroyByUser ends every session of the user'],
      [losesLogins, 'loses no entry under parallel logins'],
    ] as const) {
      const { runner, tests } = collectingRunner();
      describeStoreConformance('broken index', broken, runner, { perUser: true });
      expect(has(await failingTests(tests), fragment)).toBe(true);
    }
    // A store with an index that does not say so is told: its listByUser is not STORE_UNSUPPORTED.
    const { runner, tests } = collectingRunner();
    describeStoreConformance('memory', (clock) => createMemoryStore({ now: clock.now }), runner);
    expect(has(await failingTests(tests), 'listByUser and destroyByUser are STORE_UNSUPPORTED')).toBe(true);
  });

  it('the race suite fails a store whose destroy does nothing, and passes the memory store', async () => {
    for (const [createStore, broken] of [
      [destroyDoesNothing, true],
      [(clock: TestClock) => createMemoryStore({ now: clock.now }), false],
    ] as const) {
      const { runner, tests } = collectingRunner();
      describeLifecycleRaces('store', createStore, runner, { exact: true });
      expect(tests.length).toBeGreaterThanOrEqual(10);
      const failed = await failingTests(tests);
      expect(has(failed, 'a commit overlapping destroyById never brings the session back')).toBe(broken);
      expect(has(failed, 'a regenerate held before the store while destroyById runs')).toBe(broken);
      // A login ends the session it replaces through destroy: kept alive, it is caught racing a commit of it.
      expect(has(failed, 'a login overlapping a commit of the old session')).toBe(broken);
      expect(has(failed, 'a login held before it ends the old session while a commit of the old')).toBe(broken);
      expect(has(failed, 'a login-and-logout request held before it ends the old session')).toBe(broken);
      // Through handle(): the old session a login or a logout ended stays live.
      expect(has(failed, 'a login, a second login (another tab) and a logout of one cookie')).toBe(broken);
      expect(has(failed, 'a login held before it ends the old session while a logout runs')).toBe(broken);
      if (!broken) expect(failed).toEqual([]);
    }
  });
});

/** 3,000 characters that do not compress: about one cookie of its own in the cookie store. */
function noise(seed: number): string {
  let out = '';
  let x = seed;
  for (let i = 0; i < 3000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(97 + (x % 26));
  }
  return out;
}

describe('edge-sessions/testing: createCookieJar', () => {
  it('sets, replaces and deletes cookies as a browser does, from Headers or a Response', () => {
    const clock = createClock();
    const jar = createCookieJar({ now: clock.now });
    expect(jar.header()).toBeUndefined();
    const headers = new Headers();
    headers.append('Set-Cookie', 'a=1; Path=/; Max-Age=60; HttpOnly');
    headers.append('Set-Cookie', 'b=2; Path=/');
    headers.append('Set-Cookie', 'not a cookie');
    jar.apply(headers);
    expect(jar.header()).toBe('a=1; b=2');
    const response = new Response(null, { headers: [['Set-Cookie', 'a=3; max-age=120']] });
    jar.apply(response);
    expect([jar.get('a'), jar.size]).toEqual(['3', 2]);
    jar.apply(
      new Response(null, { headers: [['Set-Cookie', 'b=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT']] }),
    );
    expect(jar.header()).toBe('a=3');
    jar.apply(new Response(null, { headers: [['Set-Cookie', 'c=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT']] }));
    expect(jar.get('c')).toBeUndefined();
  });

  it('lets a Max-Age run out on its clock, and closeBrowser drops only browser-session cookies', () => {
    const clock = createClock();
    const jar = createCookieJar({ now: clock.now });
    const headers = new Headers();
    headers.append('Set-Cookie', 'short=1; Max-Age=60');
    headers.append('Set-Cookie', 'long=2; Max-Age=3600');
    headers.append('Set-Cookie', 'tab=3');
    jar.apply(headers);
    clock.advanceSec(60);
    expect(jar.header()).toBe('long=2; tab=3');
    jar.closeBrowser();
    expect(jar.header()).toBe('long=2');
    jar.clear();
    expect(jar.size).toBe(0);
  });

  it('follows a session across requests, and a logout', async () => {
    const clock = createClock();
    const sessions = createSessions({
      store: createMemoryStore({ now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
    });
    const app = sessions.handle(async (req, session) => {
      if (new URL(req.url).pathname === '/logout') await session.destroy();
      else session.increment('visits');
      return new Response(String(session.get('visits') ?? 'bye'));
    });
    const jar = createCookieJar({ now: clock.now });
    const get = async (path: string) => {
      const response = await app(request(jar.header(), `https://example.com${path}`));
      jar.apply(response);
      return response.text();
    };
    expect([await get('/'), await get('/'), await get('/')]).toEqual(['1', '2', '3']);
    expect(jar.size).toBe(1);
    await get('/logout');
    expect(jar.size).toBe(0);
    expect(await get('/')).toBe('1');
  });

  it('follows chunk cookies: a large sealed session spans several, and they go when it shrinks', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const jar = createCookieJar();
    const big = await sessions.start(request());
    big.set('a', noise(1));
    big.set('b', noise(2));
    jar.apply(await big.commit());
    expect(jar.size).toBe(3);
    const back = await sessions.start(request(jar.header()));
    expect(back.get('b')).toBe(noise(2));
    back.delete('a');
    back.delete('b');
    back.set('n', 1);
    jar.apply(await back.commit());
    expect(jar.size).toBe(1);
    expect((await sessions.start(request(jar.header()))).get('n')).toBe(1);
  });
});

/** Headers setting each line as a `Set-Cookie`. */
const setting = (...lines: string[]) => new Headers(lines.map((line): [string, string] => ['Set-Cookie', line]));

describe('edge-sessions/testing: createCookieJar with request URLs, as a browser (RFC 6265, RFC 6265bis)', () => {
  it('keeps cookies of one name on two paths apart, and sends each only to its path', () => {
    const jar = createCookieJar();
    jar.apply(setting('a=1; Path=/a'), 'https://example.com/a/login');
    jar.apply(setting('a=2; Path=/b'), 'https://example.com/b/login');
    expect(jar.size).toBe(2);
    expect([jar.header('https://example.com/a'), jar.header('https://example.com/a/x')]).toEqual(['a=1', 'a=1']);
    expect([jar.get('a', 'https://example.com/b/y'), jar.header('https://example.com/b')]).toEqual(['2', 'a=2']);
    // `/a` covers `/a/x`, not `/ab`; no cookie covers `/`.
    expect([jar.header('https://example.com/ab'), jar.header('https://example.com/')]).toEqual([undefined, undefined]);
    // A deletion names its path: the other cookie of the name stays.
    jar.apply(setting('a=; Path=/a; Max-Age=0'), 'https://example.com/a/logout');
    expect([jar.header('https://example.com/a'), jar.header('https://example.com/b')]).toEqual([undefined, 'a=2']);
  });

  it('gives a cookie without a Path (or with one not starting with /) the directory of the URL', () => {
    const jar = createCookieJar();
    jar.apply(setting('dir=1', 'odd=2; Path=docs'), 'https://example.com/docs/page?x=/y');
    jar.apply(setting('top=3'), 'https://example.com/page');
    expect(jar.header('https://example.com/docs')).toBe('dir=1; odd=2; top=3');
    expect(jar.header('https://example.com/docs/other/deep')).toBe('dir=1; odd=2; top=3');
    expect(jar.header('https://example.com/')).toBe('top=3');
    expect(jar.header('https://example.com/docsets')).toBe('top=3');
  });

  it('sends a host-only cookie to its host alone, and a Domain cookie to subdomains too', () => {
    const jar = createCookieJar();
    jar.apply(setting('host=1', 'dom=2; Domain=.Example.COM'), 'https://example.com/');
    jar.apply(setting('up=3; Domain=example.com'), 'https://www.example.com/');
    expect(jar.header('https://example.com/')).toBe('host=1; dom=2; up=3');
    expect(jar.header('https://a.b.example.com/')).toBe('dom=2; up=3');
    expect(jar.header('https://notexample.com/')).toBeUndefined();
    expect(jar.get('host', 'https://www.example.com/')).toBeUndefined();
    // The key is (name, domain, path): a Domain cookie of a host's own name replaces its host-only one.
    jar.apply(setting('host=4; Domain=example.com'), 'https://example.com/');
    expect([jar.size, jar.get('host', 'https://www.example.com/')]).toEqual([3, '4']);
  });

  it('ignores a cookie whose Domain the host is not within: another site, a subdomain, an IP address', () => {
    const jar = createCookieJar();
    jar.apply(setting('a=1; Domain=other.com', 'b=1; Domain=www.example.com'), 'https://example.com/');
    jar.apply(setting('c=1; Domain=0.0.1'), 'http://127.0.0.1/');
    jar.apply(setting('d=1; Domain=ample.com'), 'https://example.com/');
    expect(jar.size).toBe(0);
    expect(jar.header('https://other.com/')).toBeUndefined();
  });

  it('keeps Secure cookies off http: not set from it, not sent over it; localhost counts as secure', () => {
    const jar = createCookieJar();
    jar.apply(setting('s=1; Secure'), 'http://example.com/');
    expect(jar.size).toBe(0);
    jar.apply(setting('s=2; Secure', 'plain=3'), 'https://example.com/');
    expect([jar.header('https://example.com/'), jar.header('http://example.com/')]).toEqual([
      's=2; plain=3',
      'plain=3',
    ]);
    jar.apply(setting('local=4; Secure'), 'http://localhost:8787/');
    jar.apply(setting('loop=5; Secure'), 'http://127.0.0.1:8787/');
    expect([jar.header('http://localhost:8787/'), jar.header('http://127.0.0.1/')]).toEqual(['local=4', 'loop=5']);
  });

  it('refuses __Host- and __Secure- cookies without the attributes their prefix demands, in any case', () => {
    const jar = createCookieJar();
    const url = 'https://example.com/app/';
    jar.apply(
      setting(
        '__Host-ok=1; Secure; Path=/',
        '__Secure-ok=2; Secure',
        '__Host-nopath=x; Secure',
        '__Host-subpath=x; Secure; Path=/app',
        '__Host-domain=x; Secure; Path=/; Domain=example.com',
        '__HOST-insecure=x; Path=/',
        '__secure-insecure=x',
      ),
      url,
    );
    expect(jar.header(url)).toBe('__Secure-ok=2; __Host-ok=1');
    expect(jar.size).toBe(2);
  });

  it('lets Max-Age and Expires count for 400 days at most, with a URL or without', () => {
    const clock = createClock();
    const jar = createCookieJar({ now: clock.now });
    const twoYears = 730 * 86_400;
    jar.apply(setting(`age=1; Max-Age=${twoYears}`), 'https://example.com/');
    jar.apply(setting(`date=2; Expires=${new Date(clock.now() + twoYears * 1000).toUTCString()}`));
    clock.advanceSec(400 * 86_400 - 1);
    expect(jar.header('https://example.com/')).toBe('age=1; date=2');
    clock.advanceSec(1);
    expect(jar.size).toBe(0);
  });

  it('sends longer paths first, and cookies of one path length in the order they were first set', () => {
    const jar = createCookieJar();
    const url = 'https://example.com/a/b/c';
    jar.apply(
      setting('root=1; Path=/', 'mid=2; Path=/a', 'deep=3; Path=/a/b', 'root2=4; Path=/', 'bc=5; Path=/b/c'),
      url,
    );
    expect(jar.header(url)).toBe('deep=3; mid=2; root=1; root2=4');
    // A replaced cookie keeps its creation time (RFC 6265 §5.3 step 11); a deleted and re-set one does not.
    jar.apply(setting('root=6; Path=/'), url);
    expect(jar.header(url)).toBe('deep=3; mid=2; root=6; root2=4');
    jar.apply(setting('root=; Path=/; Max-Age=0'), url);
    jar.apply(setting('root=7; Path=/'), url);
    expect(jar.header(url)).toBe('deep=3; mid=2; root2=4; root=7');
    // get answers the first cookie of the name that the request carries: the one of the longest path.
    jar.apply(setting('root=8; Path=/a/b'), url);
    expect([jar.get('root', url), jar.get('root', 'https://example.com/')]).toEqual(['8', '7']);
  });

  it('without a URL keeps cookies by name as before: Domain, Path and Secure ignored, sent everywhere', () => {
    const jar = createCookieJar();
    jar.apply(setting('a=1; Path=/x; Domain=other.com; Secure', '__Host-loose=2; Path=/app'));
    jar.apply(setting('a=3; Path=/y'));
    expect([jar.size, jar.get('a'), jar.header()]).toEqual([2, '3', 'a=3; __Host-loose=2']);
    // A host-less cookie goes with every request, over http and on any path; URL-less header() sends all.
    expect(jar.header('http://anywhere.test/deep/path')).toBe('a=3; __Host-loose=2');
    jar.apply(setting('a=4; Path=/'), 'https://example.com/');
    expect([jar.size, jar.header(), jar.header('https://other.test/')]).toEqual([
      3,
      'a=3; __Host-loose=2; a=4',
      'a=3; __Host-loose=2',
    ]);
    // A URL-less deletion reaches the host-less cookie only, a URL one the cookie of its scope only.
    jar.apply(setting('a=; Max-Age=0'));
    expect(jar.header('https://example.com/')).toBe('__Host-loose=2; a=4');
    jar.apply(setting('__Host-loose=; Max-Age=0; Path=/; Secure'), 'https://example.com/');
    expect(jar.header()).toBe('__Host-loose=2; a=4');
  });
});

describe('edge-sessions/testing: sessionCookie', () => {
  it('gives a Cookie header for a stored session with the data, accepted on the first request', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const sessions = createSessions<{ user: string; role: string }>({ store, secrets: [SECRET], now: clock.now });
    const cookie = await sessionCookie(sessions, { data: { user: 'ada', role: 'admin' } });
    expect(await store.count()).toBe(1);
    const app = sessions.handle((_req, session) => new Response(`${session.isNew} ${session.get('user')}`));
    expect(await (await app(request(cookie))).text()).toBe('false ada');
    // Each call is a separate login.
    expect(await sessionCookie(sessions, { data: { user: 'bob' } })).not.toBe(cookie);
  });

  it('works without data, passes create options on, and on a stateless (chunked) cookie store', async () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const plain = await sessions.start(request(await sessionCookie(sessions, { persistent: false })));
    expect([plain.isNew, plain.persistent]).toEqual([false, false]);
    const sealed = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const cookie = await sessionCookie(sealed, { data: { a: noise(1), b: noise(2) } });
    expect(cookie.split('; ')).toHaveLength(3);
    expect((await sealed.start(request(cookie))).get('b')).toBe(noise(2));
  });

  it('signs in a user: the session has the userId and is listed among the user’s devices', async () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const cookie = await sessionCookie(sessions, { userId: 'ada', device: 'test runner' });
    const session = await sessions.start(request(cookie));
    expect(session.userId).toBe('ada');
    expect(await sessions.listByUser('ada')).toMatchObject([{ id: session.id, device: 'test runner' }]);
  });
});
