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
