// KV, Durable Object and D1 (SQL store) scenarios inside workerd (bundled and driven by bench/stores.mjs through
// Miniflare).
// Each store binding is wrapped to count operations; timing happens outside: `/run` does n operations, `/empty`
// builds the same n Requests (and the same uncounted sessions) and does nothing.
import { createSessions } from '../src/index.ts';
import { createDurableObjectStore, SessionDurableObject } from '../src/durable-object.ts';
import { createKVStore } from '../src/kv.ts';
import { createSqlStore } from '../src/sql.ts';

export { SessionDurableObject };

const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd';
const ORIGIN = 'https://bench.example';
const counts = { read: 0, write: 0, rpc: 0, sql: 0 };
/** Sessions per user in the listByUser and destroyByUser scenarios. */
const PER_USER = 10;

function countingKV(ns) {
  return {
    get: (...a) => (counts.read++, ns.get(...a)),
    put: (...a) => (counts.write++, ns.put(...a)),
    delete: (...a) => (counts.write++, ns.delete(...a)),
    list: (...a) => (counts.read++, ns.list(...a)),
  };
}

function countingDO(ns) {
  return {
    idFromName: (name) => ns.idFromName(name),
    get(id) {
      const stub = ns.get(id);
      // Every RPC method of the stub, counted (get, create, update, destroy, index).
      return new Proxy(
        {},
        {
          get:
            (_, method) =>
            (...a) => (counts.rpc++, stub[method](...a)),
        },
      );
    },
  };
}

/** The D1 binding with each round trip counted: a statement run alone, or a batch. */
function countingD1(db) {
  const inner = new WeakMap();
  const wrap = (statement) => {
    const wrapped = { bind: (...a) => wrap(statement.bind(...a)), all: () => (counts.sql++, statement.all()) };
    inner.set(wrapped, statement);
    return wrapped;
  };
  return {
    prepare: (query) => wrap(db.prepare(query)),
    batch: (statements) => (counts.sql++, db.batch(statements.map((s) => inner.get(s)))),
  };
}

/** The user a request names (`?user=`), for the per-user scenarios. */
const userOf = (req) => new URL(req.url).searchParams.get('user');

let suites;
function setup(env) {
  const make = (store) => {
    const sessions = createSessions({ store, secrets: [SECRET] });
    return {
      s1: sessions.handle((_req, s) => {
        s.set('user', 'u-42');
        s.set('n', 1);
        return new Response('ok');
      }),
      read: sessions.handle((_req, s) => new Response(s.get('user') ?? '')),
      rw: sessions.handle((_req, s) => {
        s.set('n', s.get('n') + 1);
        return new Response('ok');
      }),
      logout: sessions.handle((_req, s) => {
        s.destroy();
        return new Response(s.isNew ? 'none' : 'ok');
      }),
      renew: sessions.handle((_req, s) => {
        s.regenerate();
        return new Response(s.isNew ? 'none' : 'ok');
      }),
      // A login: a new session for the request's user, with the values S1 sets.
      async login(req) {
        const s = await sessions.create(req, { userId: userOf(req), device: 'bench', data: { user: 'u-42', n: 1 } });
        return new Response('ok', { headers: await s.commit() });
      },
      list: async (req) => new Response(String((await sessions.listByUser(userOf(req))).length)),
      logoutEverywhere: async (req) => new Response(String(await sessions.destroyByUser(userOf(req)))),
    };
  };
  return {
    kv: make(createKVStore(countingKV(env.KV))),
    'durable-object': make(createDurableObjectStore(countingDO(env.DO))),
    sql: make(createSqlStore(countingD1(env.DB))),
  };
}

const cookies = {};
let users = 0;
const request = (cookie, user) =>
  new Request(
    `${ORIGIN}/${user === undefined ? '' : `?user=${user}`}`,
    cookie ? { headers: { cookie: `theme=dark; ${cookie}; _ga=GA1.2.3.4` } } : {},
  );
const SCENARIOS = {
  S1: { fn: 's1', cookie: () => undefined },
  S2: { fn: 'read', cookie: (store) => cookies[store].valid },
  S3: { fn: 'rw', cookie: (store) => cookies[store].valid },
  S4: { fn: 'read', cookie: (store) => cookies[store].tampered },
  // A live session of its own for each request: created (uncounted) before the counted requests run.
  logout: { fn: 'logout', fresh: true },
  regenerate: { fn: 'renew', fresh: true },
  // Per user (Durable Objects): a login of a user of its own for each request; a returning read-only request, a
  // write and a logout of a user's session; listByUser and destroyByUser of a user with PER_USER sessions.
  login: { fn: 'login', cookie: () => undefined, user: () => `u${++users}` },
  'user read': { fn: 'read', cookie: (store) => cookies[store].user },
  'user write': { fn: 'rw', cookie: (store) => cookies[store].user },
  'user logout': { fn: 'logout', fresh: 'user' },
  listByUser: { fn: 'list', cookie: () => undefined, user: (store) => cookies[store].listed },
  destroyByUser: { fn: 'logoutEverywhere', users: true },
};

/** `n` new sessions' cookies, made through S1, or through logins of `user` (a new user each when it is true). */
async function freshCookies(store, n, user) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await (user === undefined
      ? suites[store].s1(request())
      : suites[store].login(request(undefined, user === true ? `u${++users}` : user)));
    out.push(res.headers.getSetCookie()[0].split(';')[0]);
  }
  return out;
}

/** `n` new users with PER_USER sessions each (uncounted). */
async function freshUsers(store, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const user = `u${++users}`;
    await freshCookies(store, PER_USER, user);
    out.push(user);
  }
  return out;
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname.startsWith('/user/')) return perUser(url, env);
    suites ??= setup(env);
    const store = url.searchParams.get('store');
    if (!cookies[store]) {
      const [pair] = await freshCookies(store, 1);
      const at = pair.length - 10;
      const listed = `u${++users}`;
      await freshCookies(store, PER_USER, listed);
      cookies[store] = {
        valid: pair,
        tampered: pair.slice(0, at) + (pair[at] === 'A' ? 'B' : 'A') + pair.slice(at + 1),
        user: (await freshCookies(store, 1, true))[0],
        listed,
      };
    }
    const scenario = SCENARIOS[url.searchParams.get('scenario')];
    const n = Number(url.searchParams.get('n'));
    const fresh = scenario.fresh ? await freshCookies(store, n, scenario.fresh === 'user' || undefined) : undefined;
    const ofUsers = scenario.users ? await freshUsers(store, n) : undefined;
    const reqs = Array.from({ length: n }, (_, i) =>
      ofUsers
        ? request(undefined, ofUsers[i])
        : request(fresh ? fresh[i] : scenario.cookie(store), scenario.user?.(store)),
    );
    if (url.pathname === '/empty') return new Response(null, { status: 204 });
    for (const key of Object.keys(counts)) counts[key] = 0;
    let body = '';
    // Timed here too (workerd's clock moves at I/O, in ms): for the scenarios whose uncounted setup dwarfs them.
    const start = Date.now();
    for (const r of reqs) body = await (await suites[store][scenario.fn](r)).text();
    const elapsedMs = Date.now() - start;
    const perRequest = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n]));
    return Response.json({ body, perRequest, elapsedMs });
  },
};

// Per-user sessions on KV (issue 12), apart from the scenarios above: `/user/run` and `/user/empty` take
// `scenario` (login, read, write, logout, list10, destroy10) and `n`. What a request needs (a user session, a user
// with 10 sessions) is made before counting starts, in `/empty` too.
const userCounts = { list: 0, read: 0, write: 0 };
let kvUsers;

function userSetup(env) {
  const kv = env.KV;
  const counted = {
    get: (...a) => (userCounts.read++, kv.get(...a)),
    put: (...a) => (userCounts.write++, kv.put(...a)),
    delete: (...a) => (userCounts.write++, kv.delete(...a)),
    list: (...a) => (userCounts.list++, kv.list(...a)),
  };
  const sessions = createSessions({ store: createKVStore(counted, { prefix: 'users:' }), secrets: [SECRET] });
  let next = 0;
  const login = sessions.handle(async (req, _s, userId) => {
    const session = await sessions.create(req, { userId, device: 'bench' });
    session.set('n', 1);
    return new Response('ok');
  });
  const signIn = async (userId) => (await login(request(), userId)).headers.getSetCookie()[0].split(';')[0];
  const read = sessions.handle((_req, s) => new Response(String(s.get('n'))));
  const write = sessions.handle((_req, s) => {
    s.set('n', s.get('n') + 1);
    return new Response('ok');
  });
  const logout = sessions.handle((_req, s) => {
    s.destroy();
    return new Response(s.isNew ? 'none' : 'ok');
  });
  /** A new user with `count` sessions. */
  const userWith = async (count) => {
    const userId = `user-${++next}`;
    for (let i = 0; i < count; i++) await signIn(userId);
    return userId;
  };
  let reader;
  let lister;
  return {
    login: { prepare: async () => `user-${++next}`, run: async (userId) => (await login(request(), userId)).text() },
    read: {
      prepare: async () => (reader ??= await signIn(`user-${++next}`)),
      run: async (cookie) => (await read(request(cookie))).text(),
    },
    write: {
      prepare: async () => (reader ??= await signIn(`user-${++next}`)),
      run: async (cookie) => (await write(request(cookie))).text(),
    },
    logout: {
      prepare: () => signIn(`user-${++next}`),
      run: async (cookie) => (await logout(request(cookie))).text(),
    },
    list10: {
      prepare: async () => (lister ??= await userWith(10)),
      run: async (userId) => String((await sessions.listByUser(userId)).length),
    },
    destroy10: { prepare: () => userWith(10), run: async (userId) => String(await sessions.destroyByUser(userId)) },
  };
}

async function perUser(url, env) {
  kvUsers ??= userSetup(env);
  const scenario = kvUsers[url.searchParams.get('scenario')];
  const n = Number(url.searchParams.get('n'));
  const inputs = [];
  for (let i = 0; i < n; i++) inputs.push(await scenario.prepare());
  if (url.pathname === '/user/empty') return new Response(null, { status: 204 });
  for (const key of Object.keys(userCounts)) userCounts[key] = 0;
  let body = '';
  for (const input of inputs) body = await scenario.run(input);
  const perRequest = Object.fromEntries(Object.entries(userCounts).map(([k, v]) => [k, v / n]));
  return Response.json({ body, perRequest });
}
