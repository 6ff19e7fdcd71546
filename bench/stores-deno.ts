// The Deno KV rows of `npm run bench:stores` (run by bench/stores.mjs on the real deno binary, --unstable-kv):
// a login, a read-only request, a write and a logout through the manager on an in-memory Deno KV and on a
// database file, µs per request (median of ROUNDS rounds of OPS requests) and the Deno KV calls each one made
// (get, list, atomic commit), counted by a wrapper around the real database.
import { createSessions } from '../src/index.ts';
import { createDenoKvStore, type DenoKvAtomic, type DenoKvLike } from '../src/deno-kv.ts';

declare const Deno: {
  openKv(path?: string): Promise<DenoKvLike & { close(): void }>;
  makeTempDir(): Promise<string>;
  env: { get(name: string): string | undefined };
};

const ROUNDS = Number(Deno.env.get('ROUNDS') ?? 15);
const OPS = Number(Deno.env.get('OPS') ?? 64);
const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd';

/** The database with every call counted. */
function counted(kv: DenoKvLike) {
  const calls = { get: 0, list: 0, commit: 0 };
  const wrapped: DenoKvLike = {
    get: (key) => (calls.get++, kv.get(key)),
    list: (selector) => (calls.list++, kv.list(selector)),
    atomic: () => {
      const op = kv.atomic();
      const counting: DenoKvAtomic = {
        check: (...checks) => (op.check(...checks), counting),
        set: (key, value, options) => (op.set(key, value, options), counting),
        delete: (key) => (op.delete(key), counting),
        commit: () => (calls.commit++, op.commit()),
      };
      return counting;
    },
  };
  return { kv: wrapped, calls };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const request = (cookie?: string) => new Request('https://bench.local/', cookie ? { headers: { cookie } } : {});

for (const [label, path] of [
  ['in memory', ':memory:'],
  ['file', `${await Deno.makeTempDir()}/bench.sqlite3`],
] as const) {
  const db = await Deno.openKv(path);
  const { kv, calls } = counted(db);
  const sessions = createSessions({ store: createDenoKvStore(kv), secrets: [SECRET] });
  const cookieOf = (headers: Headers) => headers.getSetCookie()[0]!.split(';')[0]!;
  const login = async () =>
    cookieOf(await (await sessions.create(request(), { userId: 'ada', data: { n: 1 } })).commit());
  const scenarios: Record<string, { prepare: () => Promise<string[]>; run: (cookie: string) => Promise<unknown> }> = {
    login: { prepare: async () => Array(OPS).fill(''), run: () => login() },
    'read-only': {
      prepare: async () => Array(OPS).fill(await login()),
      run: async (cookie) => (await sessions.start(request(cookie))).get('n'),
    },
    write: {
      prepare: async () => Array(OPS).fill(await login()),
      run: async (cookie) => {
        const s = await sessions.start(request(cookie));
        s.increment('n');
        return s.commit();
      },
    },
    logout: {
      prepare: async () => Promise.all(Array.from({ length: OPS }, login)),
      run: (cookie) => sessions.destroy(request(cookie)),
    },
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    const samples: number[] = [];
    let perRequest = '';
    for (let round = -1; round < ROUNDS; round++) {
      const cookies = await scenario.prepare();
      calls.get = calls.list = calls.commit = 0;
      const t = performance.now();
      for (const cookie of cookies) await scenario.run(cookie);
      const us = ((performance.now() - t) * 1000) / cookies.length;
      if (round >= 0) samples.push(us);
      const per = (n: number) => +(n / cookies.length).toFixed(2);
      perRequest = `${per(calls.get)} get, ${per(calls.list)} list, ${per(calls.commit)} atomic`;
    }
    console.log(`| deno-kv (${label}) | ${name} | ${median(samples).toFixed(1)} | ${perRequest} |`);
  }
  db.close();
}
