// The Deno KV rows of `npm run bench:stores` (the npm script runs it after bench/stores.mjs, on the real deno binary,
// --unstable-kv): a login, a read-only request, a write and a logout through the manager on an in-memory Deno KV
// and on a database file, µs per request (median of ROUNDS rounds of OPS requests) and the Deno KV calls each one
// made (get, list, atomic commit), counted by a wrapper around the real database.
import { createSessions } from '../src/index.ts';
import { createDenoKvStore, type DenoKvAtomic, type DenoKvLike } from '../src/deno-kv.ts';
import { storeRows } from './store-scenarios.mjs';

declare const Deno: {
  openKv(path?: string): Promise<DenoKvLike & { close(): void }>;
  makeTempDir(): Promise<string>;
  env: { get(name: string): string | undefined };
};

const ROUNDS = Number(Deno.env.get('ROUNDS') ?? 15);
const OPS = Number(Deno.env.get('OPS') ?? 64);

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

for (const [label, path] of [
  ['in memory', ':memory:'],
  ['file', `${await Deno.makeTempDir()}/bench.sqlite3`],
] as const) {
  const db = await Deno.openKv(path);
  const { kv, calls } = counted(db);
  const rows = await storeRows({
    createSessions,
    store: createDenoKvStore(kv),
    label: `deno-kv (${label})`,
    rounds: ROUNDS,
    ops: OPS,
    reset: () => (calls.get = calls.list = calls.commit = 0),
    calls: (n: number) => {
      const per = (count: number) => +(count / n).toFixed(2);
      return `${per(calls.get)} get, ${per(calls.list)} list, ${per(calls.commit)} atomic`;
    },
  });
  for (const row of rows) console.log(row);
  db.close();
}
