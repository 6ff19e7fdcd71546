// Differential (model-based) fuzzing of the stores through the public manager API, on Node. The memory store is
// the reference (exact and atomic): one random sequence of operations (logins, requests that change, regenerate or
// destroy their session, logouts, admin calls, the clock moving past touchAfter, idle timeouts and expiry, a
// browser closing) runs against a manager over each store, every manager with its own cookie jars and a clock of
// its own that moves in step, and after each step what an app can observe must be the same: Set-Cookie lines and
// their Max-Age, the session's values, flashes, flags and expiresAt, the events (type, reason, ID), listings,
// counts and error codes. IDs come from a seeded generateId, the same sequence for every store, so they compare
// as they are.
//
// Three groups, each store given only what it can do (README "Stores: which one"):
// - memory, Redis (the test redis-server), SQLite (better-sqlite3): no count/destroyAll (Redis has neither);
// - memory and SQLite: with count and destroyAll;
// - memory, the sealed and the signed cookie store: no admin call at all (stateless: no getById, destroyById,
//   listByUser, destroyByUser, count, destroyAll), and no replay of an old cookie (a copy of a destroyed or
//   regenerated cookie keeps working on a stateless store: "cannot revoke").
// The model (operations, generator, observation, comparison, shrinking) is test/differential/model.ts, shared with
// test/workerd/differential.workerd.test.ts. What remains and no store promises is compared as a set: the order of
// keys in getAll() and flashKeys(), of sessions used at the same time in listByUser, and of the `destroyed` events
// of one destroyByUser. The documented differences are modelled there in `normalise` (an expired session's
// `expired` or `rejected unknown`; chunk cookies) and in `run` (a cookie store's COOKIE_TOO_LARGE ends the
// comparison). Redis's own TTLs are padded (paddedTtls).
//
// DIFF_RUNS (sequences per group, default 100), DIFF_STEPS (steps per sequence, default 40) and DIFF_SEED run a
// longer campaign or replay one (a failure prints its `replay` variables: with `-t <group>`); DIFF_STATS=1 prints
// what the reference observed, counted. A failing sequence is shrunk (a delta loop) before it is reported.
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { createCookieStore } from '../src/cookie-store.js';
import { createRedisStore, type RedisClientLike } from '../src/redis.js';
import { createSqlStore } from '../src/sql.js';
import { fromSyncSqlite } from '../worker-example/sqlite-adapter.js';
import { afterAll } from 'vitest';
import { describeDifferential, type Group } from './differential/model.js';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const RUNS = Number(env.DIFF_RUNS ?? 100);
const STEPS = Number(env.DIFF_STEPS ?? 40);
const SEED = Number(env.DIFF_SEED ?? 20260701);

const GROUPS: readonly Group[] = [
  {
    name: 'memory, Redis, SQLite',
    kinds: ['memory', 'redis', 'sqlite'],
    admin: true,
    global: false,
    replay: true,
    overlap: true,
  },
  {
    name: 'memory, SQLite (count, destroyAll)',
    kinds: ['memory', 'sqlite'],
    admin: true,
    global: true,
    replay: true,
    overlap: true,
  },
  {
    name: 'memory, sealed and signed cookies',
    kinds: ['memory', 'sealed', 'signed'],
    admin: false,
    global: false,
    replay: false,
    overlap: false,
  },
];

let redisConnection: Promise<{ client: RedisClientLike; close(): Promise<void> }> | undefined;
function redis() {
  return (redisConnection ??= (async () => {
    // The test Redis, started for the run by vitest's global setup (test/redis/global-setup.ts).
    const url = env.EDGE_SESSIONS_REDIS_URL;
    if (url === undefined) throw new Error('EDGE_SESSIONS_REDIS_URL is not set: run through vitest.config.ts');
    const r = createClient({ url, disableOfflineQueue: true });
    r.on('error', () => {});
    await r.connect();
    return { client: { send: (c, a) => r.sendCommand([c, ...a]) } as RedisClientLike, close: async () => r.destroy() };
  })());
}
afterAll(async () => {
  if (redisConnection !== undefined) await (await redisConnection).close();
});

/**
 * The client with every TTL a script sets a day longer. Redis expires keys on its own clock, which the test clock
 * does not move: a write near a session's end on the test clock would give a key a TTL of a few real ms, and Redis
 * would drop it while the run goes on. The stores' liveness checks use the expiry stored in the hash and the test
 * clock, not the TTL, so nothing else changes.
 */
function paddedTtls(client: RedisClientLike): RedisClientLike {
  const DAY = 86_400_000;
  return {
    send(command, args) {
      if (command === 'EVAL') {
        const script = args[0]!;
        const keys = Number(args[1]);
        // CREATE and END have the TTL as ARGV[2], COMMIT as ARGV[3].
        const at = script.includes('local k,n,u=KEYS[1]')
          ? 3
          : script.includes("redis.call('exists',KEYS[1])") || script.startsWith('local p,t,now=')
            ? 2
            : undefined;
        if (at !== undefined) {
          args = [...args];
          const i = 1 + keys + at;
          args[i] = String(Number(args[i]) + DAY);
        }
      }
      return client.send(command, args);
    },
  };
}

let sequenceNumber = 0;

describeDifferential({
  title: 'differential: every store against the memory store, through the manager',
  groups: GROUPS,
  runs: RUNS,
  steps: STEPS,
  seed: SEED,
  stats: env.DIFF_STATS !== undefined,
  timeout: 600_000,
  async factory(kind, seq, now) {
    switch (kind) {
      case 'redis': {
        const { client } = await redis();
        return {
          store: createRedisStore(paddedTtls(client), { now, prefix: `diff${++sequenceNumber}-${seq.seed}:` }),
        };
      }
      case 'sqlite': {
        const db = new Database(':memory:');
        return { store: createSqlStore(fromSyncSqlite(db), { now }), close: () => db.close() };
      }
      case 'sealed':
        return { store: createCookieStore() };
      case 'signed':
        return { store: createCookieStore({ encrypt: false }) };
      default:
        throw new Error(`no store ${kind}`);
    }
  },
});
