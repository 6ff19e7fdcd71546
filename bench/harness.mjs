// The scenarios, defined once, and the runtime-neutral machinery around them: preparing cookies per library,
// checking each library really does what the scenario says, counting crypto.subtle calls, timing samples.
// Bundled with bench/adapters.mjs by bench/matrix.mjs and run unchanged on Node, Bun, Deno and workerd.

import { ADAPTERS } from './adapters.mjs';

export { median, profileBytes, SAMPLING, shuffle } from './stats.mjs';

export const ORIGIN = 'https://bench.example';
const UNRELATED = ['theme=dark', '_ga=GA1.2.3.4'];
/**
 * S2-cold cookies per library, used round-robin. Larger than edge-sessions' isolate caches (at most 2,048
 * verified HMAC tags per secret list in lib/signer.ts, two generations of 1,024; 256 opened values in
 * cookie-store.ts; first in, first out), and a cookie comes back only after POOL requests, so every S2-cold
 * request misses them; S2 re-sends one cookie, so after the first request it always hits. The same goes for
 * forgeries (S4-cold vs S4) and the caches of failed values (256 HMAC, 128 sealed). Runners must not advance the
 * pool pointers outside timed requests (see `mark`/`restore`).
 */
export const POOL = 4096;
/** Peers and the floor keep no such cache (their S2 and S2-cold subtle counts are equal), so a small pool does. */
const PEER_POOL = 64;

/** S1 new visitor, S2 returning read-only (one cookie re-sent), S2-cold (a cookie this isolate has not seen
 * recently), S3 returning read + write, S4 tampered tag → no session (the same forgery re-sent), S4-cold (a new
 * forgery each request: the tampered twin of each S2-cold cookie). */
export const SCENARIOS = {
  S1: { fn: 's1', path: '/s1', cookie: () => cookieHeader([]), expect: (r) => r.setCookies > 0 || 'no Set-Cookie' },
  S2: {
    fn: 'read',
    path: '/read',
    cookie: (lib) => lib.warm,
    expect: (r) => r.body === 'u-42' || `read ${JSON.stringify(r.body)}`,
  },
  'S2-cold': {
    fn: 'read',
    path: '/read',
    cookie: (lib) => lib.cold[lib.next++ % lib.cold.length],
    expect: (r) => r.body === 'u-42' || `read ${JSON.stringify(r.body)}`,
  },
  // S3 sends what a browser would: the cookie the previous read + write set (a new seal for a sealed store,
  // which its cache of opened seals has not seen; the same signed ID for a server-side store).
  S3: {
    fn: 'rw',
    path: '/rw',
    cookie: (lib) => lib.chain[lib.nextChain++ % lib.chain.length],
    expect: (r) => (r.status === 200 && r.setCookies > 0) || `status ${r.status}, ${r.setCookies} Set-Cookie`,
  },
  S4: { fn: 'read', path: '/read', cookie: (lib) => lib.tampered, expect: rejected },
  'S4-cold': {
    fn: 'read',
    path: '/read',
    cookie: (lib) => lib.coldTampered[lib.nextTampered++ % lib.coldTampered.length],
    expect: rejected,
  },
};

function rejected(r) {
  return (r.status === 200 && r.body === '') || `tampered cookie: status ${r.status}, read ${JSON.stringify(r.body)}`;
}

const cookieHeader = (pairs) => [UNRELATED[0], ...pairs, UNRELATED[1]].join('; ');

/** The pool pointers, to put back after building Requests that are not timed (workerd's empty dispatch). */
export const mark = (lib) => [lib.next, lib.nextTampered, lib.nextChain];
export function restore(lib, [next, nextTampered, nextChain]) {
  lib.next = next;
  lib.nextTampered = nextTampered;
  lib.nextChain = nextChain;
}

/** The `name=value` pairs a browser would keep from a response: a later line for a name wins, deletions drop. */
function setPairs(res) {
  const jar = new Map();
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(';')[0].trim();
    const eq = pair.indexOf('=');
    if (eq === pair.length - 1 || /max-age=0\b/i.test(line)) jar.delete(pair.slice(0, eq));
    else jar.set(pair.slice(0, eq), pair);
  }
  return [...jar.values()];
}

/** One character of the MAC/tag changed: ~10 characters from the end of the session cookie's value, which is
 * inside the tag for every format here (`id.kid+tag`, `payload.sig`, iron `…*hmac~2`, JWE `….tag`, GCM `iv|ct|tag`).
 * A percent-encoded value is decoded first and encoded again, so the change lands on the tag, never on a `%2B`. */
export function tamper(pairs) {
  const last = pairs[pairs.length - 1];
  const eq = last.indexOf('=');
  const raw = last.slice(eq + 1);
  const encoded = raw.includes('%');
  const value = encoded ? decodeURIComponent(raw) : raw;
  let i = value.length - 10;
  while (!/[A-Za-z0-9]/.test(value[i])) i--;
  const c = value[i];
  const swapped = c === 'A' ? 'B' : c === '0' ? '1' : /[0-9]/.test(c) ? '0' : 'A';
  const forged = value.slice(0, i) + swapped + value.slice(i + 1);
  return [...pairs.slice(0, -1), `${last.slice(0, eq + 1)}${encoded ? encodeURIComponent(forged) : forged}`];
}

export function request(scenario, header) {
  return new Request(ORIGIN + SCENARIOS[scenario].path, { headers: { cookie: header } });
}

/** A handler that does nothing: runs with it measure the loop around the handlers (and, in workerd, building
 * the Requests), which an allocation figure subtracts. It answers with one Response made once (made lazily: not at
 * a Worker's global scope). */
let NOTHING;
const nothing = async () => (NOTHING ??= new Response(null, { status: 204 }));
export const NOOP = { s1: nothing, read: nothing, rw: nothing };

/** A known allocation to check the allocation figures against: one `new Array(1000)` per request, 8,048 bytes on a
 * V8 heap with 8-byte fields (Node, Deno: 32-byte JSArray + 16-byte header + 1000 × 8) and 4,024 with pointer
 * compression (workerd: 16 + 8 + 1000 × 4). The sink keeps the compiler from removing it. */
let sink;
const allocateKnown = async () => {
  sink = new Array(1000);
  return (NOTHING ??= new Response(null, { status: 204 }));
};
const CHECK = {
  name: 'check: new Array(1000)',
  kind: 'check',
  make: async () => ({ s1: allocateKnown, read: allocateKnown, rw: allocateKnown }),
};

/** Builds every adapter, makes its cookies (warm, cold pool, tampered) and checks every scenario once. */
export async function createSuite({ pool = POOL, only, allocationCheck = false } = {}) {
  const libs = [];
  for (const adapter of allocationCheck ? [...ADAPTERS, CHECK] : ADAPTERS) {
    if (only !== undefined && !only.test(adapter.name) && adapter !== CHECK) continue;
    const lib = {
      name: adapter.name,
      kind: adapter.kind,
      sealed: adapter.sealed === true,
      signed: adapter.signed === true,
      next: 0,
      nextTampered: 0,
      nextChain: 0,
      checks: {},
      errors: [],
    };
    libs.push(lib);
    try {
      lib.h = await adapter.make();
      const newVisitor = async () => setPairs(await lib.h.s1(request('S1', cookieHeader([]))));
      const pairs = await newVisitor();
      lib.warm = cookieHeader(pairs);
      lib.tampered = pairs.length > 0 ? cookieHeader(tamper(pairs)) : lib.warm;
      lib.cold = [];
      lib.coldTampered = [];
      lib.chain = [];
      let chained = lib.warm;
      for (let i = 0; i < (lib.kind === 'edge' ? pool : PEER_POOL); i++) {
        const cold = await newVisitor();
        lib.cold.push(cookieHeader(cold));
        lib.coldTampered.push(cookieHeader(cold.length > 0 ? tamper(cold) : cold));
        // A browser's succession of cookies through read + write requests of one session.
        const next = setPairs(await lib.h.rw(request('S3', chained)));
        if (next.length > 0) chained = cookieHeader(next);
        lib.chain.push(chained);
      }
      for (const scenario of Object.keys(SCENARIOS)) lib.checks[scenario] = await check(lib, scenario);
    } catch (error) {
      lib.errors.push(
        String(error?.stack ?? error)
          .split('\n')
          .slice(0, 3)
          .join(' | '),
      );
    }
  }
  return libs;
}

async function check(lib, scenario) {
  const s = SCENARIOS[scenario];
  const res = await lib.h[s.fn](request(scenario, s.cookie(lib)));
  const r = { status: res.status, body: await res.text(), setCookies: res.headers.getSetCookie().length };
  const verdict = lib.kind === 'framework' || lib.kind === 'check' ? true : s.expect(r);
  return { ok: verdict === true, why: verdict === true ? undefined : verdict, setCookies: r.setCookies };
}

export const runnable = (lib, scenario) => lib.h !== undefined && lib.checks[scenario]?.ok === true;

export function prepare(lib, scenario, ops) {
  const s = SCENARIOS[scenario];
  const reqs = [];
  for (let i = 0; i < ops; i++) reqs.push(request(scenario, s.cookie(lib)));
  return reqs;
}

/** Runs the prepared Requests one after another, or as `inflight` concurrent chains: chain c awaits requests c,
 * c + inflight, c + 2·inflight, … in turn, so at most `inflight` requests are between start and response. */
export async function run(lib, scenario, reqs, { inflight = 1, noop = false } = {}) {
  const handler = (noop ? NOOP : lib.h)[SCENARIOS[scenario].fn];
  if (inflight <= 1) {
    for (const req of reqs) await handler(req);
    return;
  }
  const chain = async (first) => {
    for (let i = first; i < reqs.length; i += inflight) await handler(reqs[i]);
  };
  const chains = [];
  for (let c = 0; c < Math.min(inflight, reqs.length); c++) chains.push(chain(c));
  await Promise.all(chains);
}

/** A sample's operation count: a whole number of rounds of `inflight` requests, so every chain does as many. */
export const roundOps = (ops, inflight = 1) => Math.ceil(ops / inflight) * inflight;

/** µs per operation over `ops` operations (requests built beforehand, outside the timing): one at a time, or
 * `inflight` at once (then the sample's wall time divided by `ops`). `collect`, when given, runs after the Requests
 * are built and before the clock starts (the forced-collection mode), so its own time is never counted. */
export async function sample(lib, scenario, ops, { inflight = 1, collect } = {}) {
  const reqs = prepare(lib, scenario, ops);
  collect?.();
  const t0 = performance.now();
  await run(lib, scenario, reqs, { inflight });
  return ((performance.now() - t0) * 1000) / ops;
}

const SUBTLE = [
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'digest',
  'generateKey',
  'deriveKey',
  'deriveBits',
  'importKey',
  'exportKey',
  'wrapKey',
  'unwrapKey',
];

/** crypto.subtle calls per request in steady state (after `warmup` requests), by method. */
export async function countSubtle(lib, scenario, ops = 32, warmup = 4) {
  await run(lib, scenario, prepare(lib, scenario, warmup));
  const reqs = prepare(lib, scenario, ops);
  const proto = Object.getPrototypeOf(crypto.subtle);
  const counts = {};
  const saved = SUBTLE.filter((m) => typeof proto[m] === 'function').map((m) => [
    m,
    Object.getOwnPropertyDescriptor(proto, m),
  ]);
  for (const [m, d] of saved) {
    const original = d.value;
    Object.defineProperty(proto, m, {
      ...d,
      value(...args) {
        counts[m] = (counts[m] ?? 0) + 1;
        return original.apply(this, args);
      },
    });
  }
  try {
    await run(lib, scenario, reqs);
  } finally {
    for (const [m, d] of saved) Object.defineProperty(proto, m, d);
  }
  const perOp = {};
  let total = 0;
  for (const [m, n] of Object.entries(counts)) {
    perOp[m] = n / ops;
    total += n / ops;
  }
  return { total, ...perOp };
}

/** What every runner reports besides timings. */
export async function describe(libs) {
  const out = {};
  for (const lib of libs) {
    const scenarios = {};
    for (const scenario of Object.keys(SCENARIOS)) {
      const c = lib.checks[scenario];
      scenarios[scenario] = {
        ok: c?.ok ?? false,
        why: c?.why,
        setCookies: c?.setCookies,
        subtle: runnable(lib, scenario) ? await countSubtle(lib, scenario) : undefined,
      };
    }
    out[lib.name] = { kind: lib.kind, sealed: lib.sealed, signed: lib.signed, errors: lib.errors, scenarios };
  }
  return out;
}
