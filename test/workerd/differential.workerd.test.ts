// Differential (model-based) fuzzing inside workerd, for the stores that only run there: the Durable Object store
// (the real SESSIONS_DO binding, each call a real RPC), the SQL store on D1 (Miniflare's D1, SESSIONS_DB, the
// binding as it is) and Workers KV (SESSIONS_KV) at one location. The model, the generator and the comparison are
// test/differential/model.ts, shared with test/differential.node.test.ts: the same random sequences of manager
// operations run against the memory store (the reference) and these, and what an app can observe after each
// step must be the same. Time is the sequence's own clock (the stores' `now`): workerd's cannot be moved.
//
// Groups, each store given only what it can do (README "Stores: which one"):
// - memory, Durable Objects, D1: everything but count/destroyAll ("Durable Objects ... cannot `count`,
//   `destroyAll` (`STORE_UNSUPPORTED`)");
// - memory and D1: with count and destroyAll;
// - memory and KV: KV is exact only at one location, and only for requests that do not overlap: "concurrent
//   commits are last-writer-wins" within the read-write gap, and it "cannot" do "an exact regenerate (two
//   overlapping ones may both win; a commit overlapping one may be lost)". So no overlapping requests (nor a slow
//   request with another step inside it). count() but no destroyAll(): "a login made in the very millisecond of
//   the marker counts as after it", and the sequences' clock often stands still between a login and a destroyAll.
//   Its TTLs are KV's real ones, never below 60 s, far longer than a sequence.
// Every store gets fresh storage per sequence: a table of its own on D1, a prefix on KV, and on the Durable Object
// namespace a prefix on every object name (the IDs repeat: a shrink replays a sequence with the same seed).
//
// DIFF_RUNS (sequences per group, default 20), DIFF_STEPS (steps per sequence, default 40), DIFF_SEED and
// DIFF_STATS=1 work as in the Node file; vitest.workerd.config.ts passes them to the Worker as bindings.
import { env } from 'cloudflare:workers';
import { createDurableObjectStore, type SessionObjectNamespace } from '../../src/durable-object.js';
import { createKVStore } from '../../src/kv.js';
import { createSqlStore } from '../../src/sql.js';
import { describeDifferential, type Group } from '../differential/model.js';

const knobs = env as unknown as Record<string, string | undefined>;
const RUNS = Number(knobs.DIFF_RUNS ?? 20);
const STEPS = Number(knobs.DIFF_STEPS ?? 40);
const SEED = Number(knobs.DIFF_SEED ?? 20260701);

const GROUPS: readonly Group[] = [
  {
    name: 'memory, Durable Objects, D1',
    kinds: ['memory', 'durable-object', 'd1'],
    admin: true,
    global: false,
    replay: true,
    overlap: true,
  },
  {
    name: 'memory, D1 (count, destroyAll)',
    kinds: ['memory', 'd1'],
    admin: true,
    global: true,
    replay: true,
    overlap: true,
  },
  {
    name: 'memory, KV (one location, count)',
    kinds: ['memory', 'kv'],
    admin: true,
    global: true,
    destroyAll: false,
    replay: true,
    overlap: false,
  },
];

/** The namespace with every object's name under `prefix`: a sequence's sessions and users, no other's. */
function prefixed(namespace: SessionObjectNamespace, prefix: string): SessionObjectNamespace {
  return { idFromName: (name) => namespace.idFromName(prefix + name), get: (id) => namespace.get(id) };
}

let subjects = 0;
const file = Math.random().toString(36).slice(2, 8);

describeDifferential({
  title: 'differential (workerd): Durable Objects, D1 and KV against the memory store, through the manager',
  groups: GROUPS,
  runs: RUNS,
  steps: STEPS,
  seed: SEED,
  stats: knobs.DIFF_STATS !== undefined,
  timeout: 600_000,
  async factory(kind, _seq, now) {
    const n = ++subjects;
    switch (kind) {
      case 'durable-object':
        return { store: createDurableObjectStore(prefixed(env.SESSIONS_DO, `diff${file}${n}/`), { now }) };
      case 'd1':
        return { store: createSqlStore(env.SESSIONS_DB, { now, table: `diff_${file}_${n}` }) };
      case 'kv':
        return { store: createKVStore(env.SESSIONS_KV, { now, prefix: `diff${file}${n}:` }) };
      default:
        throw new Error(`no store ${kind}`);
    }
  },
});
