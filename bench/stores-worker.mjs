// KV, Durable Object and D1 (SQL store) scenarios inside workerd (bundled and driven by bench/stores.mjs through
// Miniflare).
// Each store binding is wrapped to count operations; timing happens outside: `/run` does n operations, `/empty`
// builds the same n Requests and does nothing.
import { createSessions } from '../src/index.ts';
import { createDurableObjectStore, SessionDurableObject } from '../src/durable-object.ts';
import { createKVStore } from '../src/kv.ts';
import { createSqlStore } from '../src/sql.ts';

export { SessionDurableObject };

const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd';
const ORIGIN = 'https://bench.example';
const counts = { read: 0, write: 0, rpc: 0, sql: 0 };

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
      // Every RPC method of the stub, counted (get, create, update, moveOut, finishMove, adopt, destroy).
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
    };
  };
  return {
    kv: make(createKVStore(countingKV(env.KV))),
    'durable-object': make(createDurableObjectStore(countingDO(env.DO))),
    sql: make(createSqlStore(countingD1(env.DB))),
  };
}

const cookies = {};
const request = (cookie) =>
  new Request(`${ORIGIN}/`, cookie ? { headers: { cookie: `theme=dark; ${cookie}; _ga=GA1.2.3.4` } } : {});
const SCENARIOS = {
  S1: { fn: 's1', cookie: () => undefined },
  S2: { fn: 'read', cookie: (store) => cookies[store].valid },
  S3: { fn: 'rw', cookie: (store) => cookies[store].valid },
  S4: { fn: 'read', cookie: (store) => cookies[store].tampered },
  // A live session of its own for each request: created (uncounted) before the counted requests run.
  logout: { fn: 'logout', fresh: true },
  regenerate: { fn: 'renew', fresh: true },
};

/** `n` new sessions' cookies, made through S1. */
async function freshCookies(store, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await suites[store].s1(request());
    out.push(res.headers.getSetCookie()[0].split(';')[0]);
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
      const res = await suites[store].s1(request());
      const pair = res.headers.getSetCookie()[0].split(';')[0];
      const at = pair.length - 10;
      cookies[store] = {
        valid: pair,
        tampered: pair.slice(0, at) + (pair[at] === 'A' ? 'B' : 'A') + pair.slice(at + 1),
      };
    }
    const scenario = SCENARIOS[url.searchParams.get('scenario')];
    const n = Number(url.searchParams.get('n'));
    const fresh = scenario.fresh ? await freshCookies(store, n) : undefined;
    const reqs = Array.from({ length: n }, (_, i) => request(fresh ? fresh[i] : scenario.cookie(store)));
    if (url.pathname === '/empty') return new Response(null, { status: 204 });
    for (const key of Object.keys(counts)) counts[key] = 0;
    let body = '';
    for (const r of reqs) body = await (await suites[store][scenario.fn](r)).text();
    return Response.json({ body, perRequest: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n])) });
  },
};

// Per-user sessions on KV (issue 12), apart from the scenarios above: `/user/run` and `/user/empty` take
// `scenario` (login, read, write, logout, list10, destroy10) and `n`. What a request needs (a user session, a user
// with 10 sessions) is made before counting starts, in `/empty` too.
const userCounts = { list: 0, read: 0, write: 0 };
let users;

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
  users ??= userSetup(env);
  const scenario = users[url.searchParams.get('scenario')];
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
