import { SessionError } from './errors.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import { ID_PATTERN as SESSION_ID, lineageOf } from './lib/ids.js';
import { indexedUntil } from './lib/lifetime.js';
import { mergeChanges } from './lib/merge.js';
import { parseRecord } from './lib/records.js';
import { clockOption, describeValue, isObject, refuseUnknownOptions, requireMethods } from './lib/option-names.js';
import type { SessionRecord, SessionStore, UserSession } from './lib/store-contract.js';

/** KV limits (https://developers.cloudflare.com/kv/platform/limits/). */
export const KV_LIMITS = Object.freeze({
  keyBytes: 512,
  valueBytes: 25 * 1024 * 1024,
  /** `expirationTtl` below this is refused by KV. */
  minTtlSec: 60,
  /** `cacheTtl` below this is refused by KV. */
  minCacheTtlSec: 30,
  /** Keys per `list` page. */
  maxListLimit: 1000,
  /** KV operations one Worker invocation may make (Free and Paid). */
  operationsPerInvocation: 1000,
});

/** Reads before a write: KV's shortest edge cache (its default is 60 s). */
const FRESHEST = { type: 'text', cacheTtl: KV_LIMITS.minCacheTtlSec } as const;

/** The longest session ID the manager accepts, with room for the longest marker suffix; a prefix must fit both. */
const MAX_ID_BYTES = 128 + ':revoked'.length;
/** Forwards a destroy reads through to learn whether it ended a live session (each regenerate adds one). */
const MAX_FORWARDS = 16;

/** A page of `list()`: what the store needs of `KVNamespaceListResult`. */
export interface KVListPage {
  /** The keys of this page, with their expiration (epoch seconds) and metadata. */
  readonly keys: readonly { readonly name: string; readonly expiration?: number; readonly metadata?: unknown }[];
  /** True on the last page. */
  readonly list_complete: boolean;
  /** Where the next page starts. */
  readonly cursor?: string;
}

/** What the store needs of a `KVNamespace` binding. Any object with these methods works (tests wrap one). */
export interface KVNamespaceLike {
  /** A bulk read: several keys in one KV operation. */
  get(keys: string[], options: { type: 'text'; cacheTtl?: number }): Promise<Map<string, string | null>>;
  /** Writes one key with a TTL (at least 60 s) and metadata. */
  put(key: string, value: string, options: { expirationTtl: number; metadata?: unknown }): Promise<void>;
  /** Deletes one key. */
  delete(key: string): Promise<void>;
  /** One page of the keys under a prefix. */
  list(options: { prefix: string; cursor?: string; limit?: number }): Promise<KVListPage>;
}

/** Options of `createKVStore`. */
export interface KVStoreOptions {
  /** Prepended to every session ID to make the KV key; at most 376 bytes. Default `"session:"`. */
  prefix?: string | undefined;
  /** Seconds a read may be served from the edge cache (KV's `cacheTtl`, at least 30). Default: KV's own (60). */
  cacheTtl?: number | undefined;
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Keys per `list` page for `count()`, `clear()` and the per-user index, 1–1000. Default 1000. */
  pageSize?: number | undefined;
  /**
   * KV operations `count()`, `clear()`, `listByUser()` or `destroyByUser()` may spend in one call. Default 1000,
   * the Workers limit per invocation; lower it by what the same invocation spends elsewhere.
   */
  maxOperations?: number | undefined;
}

/** The store `createKVStore` returns: a `SessionStore` with a per-user index that can also count and clear. */
export interface KVStore extends SessionStore {
  /** The live sessions of `userId`: a `list` of its index entries and one bulk read per 33 of them. */
  listByUser(userId: string): Promise<UserSession[]>;
  /**
   * Destroys every session of `userId` but that of `except` (by lineage, as `destroy`); resolves the IDs that
   * were live.
   */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
  /** Live sessions under the prefix, by the expiry in each key's metadata (list calls only). */
  count(): Promise<number>;
  /** Ends every session under the prefix (one marker), then deletes their keys, as many as `maxOperations` allows. */
  clear(): Promise<void>;
}

/**
 * Sessions in Workers KV. Each session is one key (`prefix + id`) holding the record as JSON, written with
 * `expirationTtl` so KV evicts it; the TTL is at least 60 s (KV's minimum), so a record can outlive its
 * `expiresAt` by up to a minute, and the manager checks expiry itself. The record's `expiresAt` also goes into
 * the key's metadata, so `count()` can skip expired keys without reading them.
 *
 * KV has no conditional write, so the lifecycle is built on two markers that no session write ever touches:
 * `prefix + lineage + ':revoked'`, written by `destroy`, and `prefix + id + ':moved'` (the new ID), written by
 * `regenerate`. The lineage is the first 22 characters of the ID, which the manager gives every ID a regenerate
 * moves the session to (`SessionStore.regenerate`), so one revocation ends the session under all its IDs,
 * including one a regenerate at another location moved it to before the revocation got there. Every read asks
 * for the session key, both markers and `prefix + ':cleared'` (when `clear()` last ran: a session created before
 * is ended) in one bulk read (one KV operation), and a marker ends the session: so
 * once a revocation has reached a location, no write from any location can undo it. What remains is KV's
 * propagation: a revocation made at one location takes up to about 60 s, or `cacheTtl`, to reach the others,
 * and until then they may still serve the session, under any of its IDs (the README gives the window).
 * Concurrent commits of one session merge their changes just before writing (`update` re-reads first), which
 * narrows but cannot close the lost-update window;
 * use `edge-sessions/durable-object` when that matters.
 *
 * Per-user sessions (`create` with a `userId`) are indexed by one key per session,
 * `prefix + 'user:' + userId + ':' + id`, written before the session and kept by KV until the session's `endsAt`
 * (for an unlimited session, 400 to 800 days, renewed by its writes; plus the cache time); `listByUser` lists a
 * user's keys and reads their sessions with their markers in bulk, and `destroyByUser` destroys each, so one
 * revocation per lineage ends it under every ID. The index shares KV's
 * window: a `destroyByUser` ends a session at once where it runs and within ~60 s (or `cacheTtl`) elsewhere,
 * and may miss a login made at another location in the ~60 s before it (that session is listed afterwards).
 *
 * Operations: a read 1 (bulk) read; `create` 1 write (2 with a `userId`); `update` (a change or a touch) 1 read
 * and 1 write (plus the index entry's, with a `userId`, when the lifetime's end moves later); `regenerate` 1 read
 * and 3 writes (5 with a `userId`); `destroy` 1 read and 2 writes (3 with a `userId`; plus 1 read for each
 * forward from an ID the session moved away from, to answer whether it ended a live session). `count()` makes
 * 1 read and ceil(n / pageSize) `list` calls; `clear()` 1 write, then the `list` calls and one `delete` per key.
 * `listByUser` makes ceil(n / pageSize) `list` calls, ceil(n / 33) bulk reads (and one more per forward hop of a
 * session a regenerate moved while it ran) and one `delete` per dead entry it prunes;
 * `destroyByUser` the `list` calls and, per session, 1 read and 3 writes. Workers allow 1,000 KV operations per
 * invocation: when `count()`, `listByUser` or `destroyByUser` would need more than `maxOperations` (counting
 * those at most), it rejects with a `SessionError` code `STORE_LIMIT` before reading a session or deleting
 * anything (`destroyByUser` works on about 249 sessions of one user with the defaults). `clear()` ends every
 * session whatever their number: its marker is one write, made before it deletes, so a commit or regenerate in
 * flight that writes a session back leaves it ended (as a revocation does, within KV's propagation window
 * elsewhere); it then deletes as many keys as `maxOperations` leaves room for (KV's TTL frees the rest). It
 * leaves the index entries to their TTL (listings skip them, and prune only those of a session a write put back:
 * an entry whose session key is gone may be a login on its way; `destroyByUser` still pays its read and
 * revocation).
 *
 * Keys over 512 bytes and values over 25 MiB reject with `STORE_LIMIT` before the write; so does a login whose
 * `userId` makes its index entry's key too long.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createKVStore } from 'edge-sessions/kv'
 *
 * export default {
 *   async fetch(request: Request, env: Env) {
 *     const store = createKVStore(env.SESSIONS_KV, { prefix: 'sess:' })
 *     const sessions = createSessions({ store, secrets: [env.SESSION_SECRET], idleTimeout: 1800 })
 *     return sessions.handle(async (req, session) => new Response(`hello ${session.get('name') ?? 'guest'}`))(request)
 *   },
 * } satisfies ExportedHandler<Env>
 */
export function createKVStore(namespace: KVNamespaceLike, options: KVStoreOptions = {}): KVStore {
  refuseUnknownOptions('createKVStore', options, OPTION_NAMES);
  requireMethods('createKVStore', 'the KV namespace', namespace, ['get', 'put', 'delete', 'list']);
  const prefix = options.prefix ?? 'session:';
  const now = clockOption('createKVStore', options.now);
  // Not empty: destroyAll() and count() cover every key under the prefix, and a namespace may hold other data.
  if (typeof prefix !== 'string' || prefix === '' || byteLength(prefix) > KV_LIMITS.keyBytes - MAX_ID_BYTES) {
    throw new SessionError(
      'INVALID_OPTION',
      `kv store: prefix must be a non-empty string of at most ${KV_LIMITS.keyBytes - MAX_ID_BYTES} bytes`,
    );
  }
  const cacheTtl =
    options.cacheTtl === undefined
      ? undefined
      : integer('cacheTtl (seconds)', options.cacheTtl, KV_LIMITS.minCacheTtlSec);
  const pageSize = integer('pageSize', options.pageSize ?? KV_LIMITS.maxListLimit, 1, KV_LIMITS.maxListLimit);
  const maxOperations = integer('maxOperations', options.maxOperations ?? KV_LIMITS.operationsPerInvocation, 1);
  const readOptions: { type: 'text'; cacheTtl?: number } =
    cacheTtl === undefined ? { type: 'text' } : { type: 'text', cacheTtl };

  /**
   * The time after which every location sees a write (KV's ~60 s, plus a read it may have cached meanwhile): a
   * record seen expired for longer cannot be one a touch elsewhere extended (see `listByUser`).
   */
  const settled = (60 + (cacheTtl ?? 60)) * 1000;

  /** The session's key, with room for the longest marker suffix (`':revoked'`) within KV's key limit. */
  function keyOf(id: string): string {
    const key = prefix + id;
    if (exceedsBytes(key, KV_LIMITS.keyBytes - REVOKED.length)) {
      const bytes = byteLength(key + REVOKED);
      throw new SessionError('STORE_LIMIT', `kv store: key of ${bytes} bytes exceeds KV's ${KV_LIMITS.keyBytes}`);
    }
    return key;
  }

  /**
   * The session's entry in its user's index, `prefix + 'user:' + userId + ':' + id` (one key per session: KV has
   * no atomic read-modify-write, so parallel logins must never rewrite a shared list); with `id` `''`, the prefix
   * that lists the user's entries. Checked like a session key (`STORE_LIMIT` before any write when a long userId
   * leaves no room). Never mistaken for a session key or a marker: it holds a `:` after `user`, and session IDs
   * hold none (so `count()` and `clear()` skip it), and a listing keeps only entries whose rest is an ID: the
   * listing of user `ada` also returns the keys of user `ada:x`, whose rest is `x:` followed by an ID.
   */
  function indexKey(userId: string, id: string): string {
    return keyOf(`user:${userId}:${id}`);
  }

  /**
   * Writes the session `id`; with `indexed` (a login, a regenerate, a longer lifetime), its user's index entry
   * first. Every limit is checked before the first write. The entry comes first so that the session is never
   * readable without it: a `destroyByUser` that lists it revokes the session even if the session's own write
   * lands later, and one that listed before it leaves it to be listed afterwards (if the session's write fails,
   * the entry dangles until its TTL; `listByUser` skips it). The entry lives until `indexedUntil(record)` (the
   * session's `endsAt`; for an unlimited one, a 400-day period ahead) plus a margin: a touch moves only
   * `expiresAt`, never past that, so the entry is rewritten only when it grows (`shiftExpiration`,
   * `updateExpiration`, an unlimited session's first write in a new period), never on a touch. It holds no value
   * and no metadata: a listing reads every record anyway (for its markers), and device and times come from there.
   */
  async function write(id: string, record: SessionRecord, indexed?: boolean): Promise<void> {
    const key = keyOf(id);
    const expiresAt = record.expiresAt;
    const value = JSON.stringify(record);
    if (exceedsBytes(value, KV_LIMITS.valueBytes)) {
      throw new SessionError(
        'STORE_LIMIT',
        `kv store: session of ${byteLength(value)} bytes exceeds KV's 25 MiB value limit`,
      );
    }
    const expirationTtl = Math.max(KV_LIMITS.minTtlSec, Math.ceil((expiresAt - now()) / 1000));
    if (indexed && record.userId) {
      await namespace.put(indexKey(record.userId, id), '', { expirationTtl: markerTtl(indexedUntil(record)) });
    }
    await namespace.put(key, value, { expirationTtl, metadata: { expiresAt, createdAt: record.createdAt } });
  }

  /** A marker's TTL: until `until`, plus the time a location may serve a cached "no marker". */
  function markerTtl(until: number): number {
    const ttl = Math.ceil((until - now()) / 1000) + (cacheTtl ?? 60);
    return Math.max(KV_LIMITS.minTtlSec, ttl);
  }

  /** The marker that ends every ID of the session `id` belongs to. */
  function revokedKey(id: string): string {
    return prefix + lineageOf(id) + REVOKED;
  }

  /** When `clear()` last ran, in epoch ms: one key under the prefix, read with every session. */
  const clearedKey = prefix + CLEARED;

  /** What one read of `id` asks for besides the clear marker: the session key, its revocation and its forward. */
  function keysOf(id: string): string[] {
    const key = keyOf(id);
    return [key, revokedKey(id), key + MOVED];
  }

  /** `names` (session keys and markers) read in bulk, 99 a read, each read with the clear marker: one operation. */
  async function readAll(names: readonly string[]): Promise<Map<string, string | null>> {
    const values = new Map<string, string | null>();
    for (let i = 0; i < names.length; i += 99) {
      const batch = [...names.slice(i, i + 99), clearedKey];
      for (const [key, value] of await namespace.get(batch, FRESHEST)) values.set(key, value);
    }
    return values;
  }

  /** The read of `id` out of a bulk read's values. */
  function storedOf(id: string, values: Map<string, string | null>): Stored {
    const [key, revoked, moved] = keysOf(id) as [string, string, string];
    const movedTo = values.get(moved) ?? undefined;
    const ended = values.get(revoked) != null || movedTo !== undefined;
    return { key, text: values.get(key) ?? null, ended, movedTo, clearedAt: Number(values.get(clearedKey) ?? 0) };
  }

  /** The session key, its lineage's revocation and its forward, with the clear marker, in one KV operation. */
  async function read(id: string, options: typeof readOptions): Promise<Stored> {
    return storedOf(id, await namespace.get([...keysOf(id), clearedKey], options));
  }

  /**
   * The record as stored, unless a marker ended it or `clear()` ran after it was created (so a write in flight
   * when it ran, or one from a location it had not reached yet, cannot bring a session back); a value that is
   * not JSON is handed on as it is (`parseRecord`).
   */
  function storedRecord(stored: Stored): SessionRecord | null {
    if (stored.ended) return null;
    const record = recordIn(stored);
    return clearedBefore(record, stored.clearedAt) ? null : record;
  }

  /** The stored record, if it is a live one (not expired); a value that is not a JSON object is none. */
  function liveRecord(stored: Stored): SessionRecord | null {
    const record = storedRecord(stored);
    return isObject(record) && record.expiresAt > now() ? record : null;
  }

  /**
   * Every key under `under` (the session keys under the prefix, or a user's index entries) whose rest looks like
   * a session ID, page by page; `STORE_LIMIT` once the pages, plus `perKey` operations for each key found, would
   * exceed `maxOperations`.
   */
  async function listAll(
    operation: string,
    perKey: number,
    under = prefix,
    reserved = 0,
  ): Promise<KVListPage['keys'][number][]> {
    const keys: KVListPage['keys'][number][] = [];
    let operations = reserved;
    let cursor: string | undefined;
    do {
      if (++operations > maxOperations) throw overBudget(operation, maxOperations);
      const page = await namespace.list(
        cursor === undefined ? { prefix: under, limit: pageSize } : { prefix: under, limit: pageSize, cursor },
      );
      // "sess" also lists "sessions-config": count and delete only what could be a session.
      for (const key of page.keys) if (SESSION_ID.test(key.name.slice(under.length))) keys.push(key);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    const needed = operations + Math.ceil(perKey * keys.length);
    if (needed > maxOperations) throw overBudget(operation, maxOperations, needed);
    return keys;
  }

  return {
    name: 'kv',
    async get(id) {
      // Expired but not yet deleted by KV (its TTL has a 60 s floor) is returned as it is: the manager checks
      // expiry itself and reports it as `expired`, clearing the cookie.
      const stored = await read(id, readOptions);
      // Text that is not JSON is handed on as it is (parseRecord): the manager reports it as corrupt, as on
      // every other store, rather than as a session never stored.
      return storedRecord(stored);
    },
    // No read first: KV has no conditional write, so a read could not make this a transaction anyway, and it
    // would cost every new session a KV read. New IDs are 144 random bits (`generateId`): none is ever taken.
    async create(id, record) {
      await write(id, record, true);
      return true;
    },
    async update(id, changes, times) {
      // No transaction: read with the shortest edge cache KV allows (there is no way past it) and merge this
      // request's changes just before writing. A write is seen at once where it was made, so here a concurrent
      // commit's other keys usually survive; elsewhere, or within the read-write gap, the last writer wins.
      const stored = await read(id, FRESHEST);
      const record = liveRecord(stored);
      if (record === null) return null;
      const merged = mergeChanges(record, changes, times);
      await write(id, merged, indexedUntil(merged) > indexedUntil(record));
      return merged;
    },
    async regenerate(id, newId, changes, times) {
      const stored = await read(id, FRESHEST);
      const record = liveRecord(stored);
      if (record === null) return null;
      const merged = mergeChanges(record, changes, times);
      // No check for a destroy racing the move: `newId` is of the old ID's lineage, so its revocation, written
      // before, meanwhile or later, at this location or another, ends the session under `newId` too. Nobody knows
      // the new ID yet: writing it first leaves nothing half-done that anyone could use. The forward then ends the
      // old ID (against an update in flight writing the old record back), and the delete only frees its key.
      // The new ID's index entry comes with it (first, as on a login); the old one goes last (until then, the
      // forward has listByUser skip and prune it).
      await write(newId, merged, true);
      await namespace.put(stored.key + MOVED, newId, { expirationTtl: markerTtl(times.expiresAt) });
      // The move is made: the forward ends the old ID. The deletes only free keys (KV's TTL frees them otherwise,
      // and listByUser prunes an entry the forward ended), so one that fails (a 429: the old key was written less
      // than a second ago) must not fail the regenerate, which would leave the client the old, ended cookie.
      await namespace.delete(stored.key).catch(() => undefined);
      if (merged.userId) await namespace.delete(indexKey(merged.userId, id)).catch(() => undefined);
      return merged;
    },
    async destroy(id, retainUntil) {
      // Reads come first only to answer which ID a live session was ended under: `id`, or the ID its forwards
      // lead to. The revocation itself needs no read: nothing a write does can hide it.
      const first = await read(id, FRESHEST);
      let stored = first;
      let at = id;
      for (let hops = 0; hops < MAX_FORWARDS && SESSION_ID.test(stored.movedTo ?? ''); hops++) {
        stored = await read((at = stored.movedTo!), FRESHEST);
      }
      const ended = liveRecord(stored) !== null;
      // Kept until `retainUntil` (now + the longest lifetime a session can have) plus the time a location may
      // serve a cached "no marker". Only within that time can a location the marker has not reached touch or
      // regenerate the session, giving it at most the longest lifetime from that moment: so no ID of this
      // lineage outlives the marker, and wherever it has arrived no read returns the session and no update or
      // regenerate writes it.
      await namespace.put(revokedKey(id), String(retainUntil), { expirationTtl: markerTtl(retainUntil) });
      if (first.text !== null) await namespace.delete(first.key);
      // Ended under the ID its forwards led to: that key goes too, or count() (a listing of keys) would count it.
      // The marker has ended it already, so a failed delete (a 429: written less than a second ago) fails nothing.
      if (at !== id && stored.text !== null) await namespace.delete(stored.key).catch(() => undefined);
      // The index entry of the ID the session ended under, last: until it goes, listByUser skips and prunes it.
      const userId = recordIn(stored)?.userId;
      if (userId) await namespace.delete(indexKey(userId, at));
      return ended && at;
    },
    // The user's index entries (a `list` per page), each checked against its session's read (one bulk read per
    // 100 keys: 33 sessions with their markers), within `maxOperations` counting one prune per entry. An entry is
    // listed only if its session is live under that ID, and pruned only if the session is dead for certain:
    // revoked or moved away (a marker), or its record expired more than `settled` ago (so no touch elsewhere can
    // have extended it unseen). An entry without a record is left to its KV TTL: it may be a login whose session
    // write is in flight or on its way from another location, or a session KV expired (its key's TTL ends at its
    // expiry) that a touch elsewhere may have extended within the last minute; deleting the entry of a session
    // that lives would hide it from listByUser and destroyByUser for good.
    async listByUser(userId) {
      const under = indexKey(userId, '');
      // Per entry: a prune at most, and a 33rd of a bulk read (99 keys, 3 a session, and the clear marker).
      const keys = await listAll('listByUser', 1 + 1 / 33, under);
      const found = new Map<string, UserSession>();
      const dead: Listed[] = [];
      // The first round reads the listed entries; each later one the IDs a regenerate in progress moved a session
      // to: it writes the new ID's entry before the old ID's forward, so an entry listed before the one and read
      // after the other leads, by its forward, to a session the `list` did not see.
      let ids = keys.map((key) => key.name.slice(under.length));
      for (let hop = 0; ids.length > 0 && hop <= MAX_FORWARDS; hop++) {
        const values = await readAll(ids.flatMap(keysOf));
        const moved: string[] = [];
        ids.forEach((id, i) => {
          const stored = storedOf(id, values);
          const record = liveRecord(stored);
          if (record?.userId === userId) found.set(id, { id, record });
          if (record !== null) return;
          if (SESSION_ID.test(stored.movedTo ?? '')) moved.push(stored.movedTo!);
          const gone = stored.ended || cleared(stored) || recordIn(stored)?.expiresAt! + settled < now();
          if (hop === 0 && gone) dead.push(keys[i]!);
        });
        ids = [...new Set(moved)].filter((id) => !found.has(id));
      }
      await each(dead, (key) => namespace.delete(key.name));
      return [...found.values()];
    },
    // Each listed session is destroyed as `destroy` does it (its lineage revoked first, so also under an ID a
    // regenerate is moving it to), live or not: one not live yet may be a login whose session write is in flight.
    // One destroy per lineage (KV takes one write per second per key), none for the lineage of `except`: the
    // current session may be mid-regenerate, listed under both IDs. The budget counts 4 operations per entry (a
    // destroy's read and 3 writes); a forward a destroy follows adds a read, which only an entry left behind by a
    // regenerate in progress has.
    async destroyByUser(userId, except, retainUntil) {
      const under = indexKey(userId, '');
      // Per entry: the read and three writes of a destroy.
      const keys = await listAll('destroyByUser', 4, under);
      const seen = new Set([except && lineageOf(except)]);
      const ended: string[] = [];
      await each(keys, async (key) => {
        const id = key.name.slice(under.length);
        if (seen.has(lineageOf(id))) return;
        seen.add(lineageOf(id));
        const at = await this.destroy(id, retainUntil);
        if (typeof at === 'string') ended.push(at); // this store answers the ID, or false
      });
      return ended;
    },
    async count() {
      const t = now();
      // One read of the clear marker, then the list: a key a write in flight put back after clear() is not live.
      const clearedAt = Number((await namespace.get([clearedKey], FRESHEST)).get(clearedKey) ?? 0);
      const keys = await listAll('count', 0, prefix, 1);
      return keys.filter((key) => liveAt(key, t, clearedAt)).length;
    },
    async clear() {
      // The marker first: once it is written, no read here returns a session created before it, and no commit or
      // regenerate in flight (which reads before it writes) can put one back, however many sessions there are.
      // The deletes then only free keys: as many as `maxOperations` leaves room for (the marker and each `list`
      // counted); KV's TTL frees the rest, which the marker has ended all the same.
      await namespace.put(clearedKey, String(now()), { expirationTtl: CLEARED_TTL_SEC + (cacheTtl ?? 60) });
      let budget = maxOperations - 1;
      let cursor: string | undefined;
      while (budget-- > 0) {
        const page = await namespace.list(
          cursor === undefined ? { prefix, limit: pageSize } : { prefix, limit: pageSize, cursor },
        );
        const keys = page.keys.filter((key) => SESSION_ID.test(key.name.slice(prefix.length))).slice(0, budget);
        budget -= keys.length;
        await each(keys, (key) => namespace.delete(key.name));
        if (page.list_complete) return;
        cursor = page.cursor;
      }
    },
  };
}

const REVOKED = ':revoked';
const MOVED = ':moved';
/** After the prefix: when `clear()` last ran. A `:` first, so no session ID or index entry is ever this key. */
const CLEARED = ':cleared';
/** How long the clear marker is kept: past the longest a record written after it can live (400 days), and more. */
const CLEARED_TTL_SEC = 401 * 86_400;

/**
 * One read of a session: its key, its record's text, whether a marker ended it (and where it moved), and when
 * `clear()` last ran (a record created before that is ended too).
 */
interface Stored {
  readonly key: string;
  readonly text: string | null;
  readonly ended: boolean;
  readonly movedTo: string | undefined;
  readonly clearedAt: number;
}

/**
 * Whether `clear()`, which last ran at `clearedAt`, ended `record` (a stored record, or a listed key's metadata,
 * which carries its `createdAt` too): it was created before then. (One created in that very millisecond is taken
 * for a login after it. The two times come from the clocks of the locations that cleared and created: one behind
 * by d ms ends its logins of the d ms after a clear. A record of another shape is left to the manager, which
 * reports it as corrupt.)
 */
function clearedBefore(record: { readonly createdAt?: unknown } | null | undefined, clearedAt: number): boolean {
  const createdAt = record?.createdAt;
  return typeof createdAt === 'number' && createdAt < clearedAt;
}

/** Whether `clear()` ended the session `stored` holds (one that is there and was created before it ran). */
function cleared(stored: Stored): boolean {
  return clearedBefore(recordIn(stored), stored.clearedAt);
}

/**
 * The value `stored` read, parsed as every store hands a record on (`parseRecord`: text that is not JSON as it is),
 * so not necessarily a record: a field of it is read with `?.` and checked; null when the key holds nothing.
 */
function recordIn(stored: Stored): SessionRecord | null {
  return stored.text === null ? null : parseRecord(stored.text);
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof KVStoreOptions>([
  'prefix',
  'cacheTtl',
  'now',
  'pageSize',
  'maxOperations',
]);

/**
 * An option that must be a whole number from `min` to `max` (a safe integer): `value`, or an `INVALID_OPTION` that
 * names the option, the range and the value given.
 */
function integer(name: string, value: unknown, min: number, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new SessionError(
      'INVALID_OPTION',
      `kv store: ${name} must be an integer ${range}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Runs `run` on every item, six at a time: Workers cap simultaneous outgoing requests at six. */
async function each<T>(items: readonly T[], run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += 6) await Promise.all(items.slice(i, i + 6).map(run));
}

/** A key as `list` gives it. */
type Listed = KVListPage['keys'][number];

/**
 * Whether a listed key is still live at `t`: by the `expiresAt` in its metadata, else by KV's own expiration;
 * not if its metadata says it was created before `clear()` last ran (`clearedAt`).
 */
function liveAt(key: Listed, t: number, clearedAt: number): boolean {
  const meta = key.metadata as { expiresAt?: unknown; createdAt?: unknown } | null | undefined;
  if (clearedBefore(meta, clearedAt)) return false;
  if (typeof meta?.expiresAt === 'number') return meta.expiresAt > t;
  return key.expiration === undefined || key.expiration * 1000 > t;
}

function overBudget(operation: string, maxOperations: number, needed?: number): SessionError {
  const what = needed === undefined ? `more than ${maxOperations}` : String(needed);
  return new SessionError(
    'STORE_LIMIT',
    `kv store: ${operation}() needs ${what} KV operations, over maxOperations (${maxOperations}; ` +
      'Workers allow 1,000 per invocation)',
  );
}
