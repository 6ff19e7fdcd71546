import { SessionError } from './errors.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import { sameSession } from './lib/ids.js';
import { indexedUntil } from './lib/lifetime.js';
import { mergeChanges } from './lib/merge.js';
import { clockOption, refuseUnknownOptions, requireMethods } from './lib/option-names.js';
import { parseRecord } from './lib/records.js';
import type { SessionChanges, SessionRecord, SessionStore, SessionTimes, UserSession } from './lib/store-contract.js';

/** Deno KV limits (https://docs.deno.com/deploy/kv/manual/#limits). */
export const DENO_KV_LIMITS = Object.freeze({
  /** A value, serialized. */
  valueBytes: 65_536,
  /** A key, all its parts. */
  keyBytes: 2_048,
});

/** A Deno KV key: its parts. */
export type DenoKvKey = readonly (string | number | bigint | boolean | symbol | Uint8Array)[];

/** An entry as `Deno.Kv` answers it: `versionstamp` is null when the key holds nothing. */
export interface DenoKvEntry {
  /** The key. */
  readonly key: DenoKvKey;
  /** The stored value, or null. */
  readonly value: unknown;
  /** The entry's version, for `check`; null when the key holds nothing. */
  readonly versionstamp: string | null;
}

/** What the store needs of `Deno.AtomicOperation`. */
export interface DenoKvAtomic {
  /** The commit fails unless each key still has this versionstamp (null: still absent). */
  check(...checks: { key: DenoKvKey; versionstamp: string | null }[]): DenoKvAtomic;
  /** Writes a value; `expireIn` (ms) lets Deno delete it later (lazily: the store checks expiry itself). */
  set(key: DenoKvKey, value: unknown, options?: { expireIn?: number }): DenoKvAtomic;
  /** Deletes a key. */
  delete(key: DenoKvKey): DenoKvAtomic;
  /** Applies every mutation at once, or none when a check fails (`ok: false`). */
  commit(): Promise<{ ok: boolean }>;
}

/** What the store needs of a `Deno.Kv` (from `Deno.openKv()`). Any object with these methods works. */
export interface DenoKvLike {
  /** One entry. */
  get(key: DenoKvKey): Promise<DenoKvEntry>;
  /** Every entry under a key prefix. */
  list(selector: { prefix: DenoKvKey }): AsyncIterable<DenoKvEntry>;
  /** A new atomic operation. */
  atomic(): DenoKvAtomic;
}

/** Options of `createDenoKvStore`. */
export interface DenoKvStoreOptions {
  /** The first key part of every key the store writes. Default `"sessions"`. */
  prefix?: string | undefined;
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** The store `createDenoKvStore` returns: a `SessionStore` with a per-user index that can also count and clear. */
export interface DenoKvStore extends SessionStore {
  /** The live sessions of `userId`. */
  listByUser(userId: string): Promise<UserSession[]>;
  /** Ends every live session of `userId` but that of `except` (by lineage); resolves the IDs ended. */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
  /** Live sessions under the prefix. */
  count(): Promise<number>;
  /** Deletes every live session under the prefix (ended IDs stay ended). */
  clear(): Promise<void>;
}

/**
 * What a session key holds: a live record (as JSON text, so its size is known before the write), an ended
 * session kept until `until`, or a session moved to `to` by a regenerate (a forward, until `until`). `pruned`:
 * a listing found the record expired and dropped its index entry; a write that finds it live all the same (by
 * a clock behind the listing's) enters it in the index again.
 */
type Slot =
  | { readonly live: string; readonly user?: string | undefined; readonly pruned?: true | undefined }
  | { readonly until: number; readonly to?: string | undefined };

/** Optimistic transactions retry this many times when another request committed in between. */
const TRIES = 32;
/** Hops a destroy follows from an ID to the one it moved to. */
const MAX_FORWARDS = 16;

/**
 * Sessions in Deno KV (`Deno.openKv()`: a local SQLite file on a server, distributed on Deno Deploy). Every
 * lifecycle operation is an atomic operation checked against the versionstamps it read: a commit that another
 * request changed in between is read, merged and tried again, so no update is lost and nothing ended comes back.
 * Keys: `[prefix, "s", id]` for a session, `[prefix, "u", userId, id]` for the per-user index, written in the same
 * atomic operation as the session. Values expire with `expireIn`, which Deno applies lazily, so expiry is also
 * checked on every read. Values over 64 KiB and keys over 2 KiB are `STORE_LIMIT` errors, before any write.
 *
 * Operations: a read is 1 `get`; `create` 1 atomic; `update` and a touch 1 `get` + 1 atomic (again on a
 * conflict); `regenerate` 1 `get` + 1 atomic; `destroy` 1 `get` + 1 atomic per ID on its forward chain;
 * `listByUser` 1 `list` + 1 `get` per session (and per ID a regenerate moved it to meanwhile), and 1 atomic per
 * dead entry it prunes; `destroyByUser` that and a destroy per session.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createDenoKvStore } from 'edge-sessions/deno-kv'
 *
 * const sessions = createSessions({
 *   store: createDenoKvStore(await Deno.openKv()),
 *   secrets: [Deno.env.get('SESSION_SECRET')!],
 * })
 * Deno.serve(sessions.handle((request, session) => new Response(`visit ${session.increment('visits')}`)))
 */
export function createDenoKvStore(kv: DenoKvLike, options: DenoKvStoreOptions = {}): DenoKvStore {
  refuseUnknownOptions('createDenoKvStore', options, OPTION_NAMES);
  requireMethods('createDenoKvStore', 'the Deno KV database', kv, ['get', 'list', 'atomic']);
  const prefix = options.prefix ?? 'sessions';
  const now = clockOption('createDenoKvStore', options.now);
  if (typeof prefix !== 'string' || prefix === '' || byteLength(prefix) > 256) {
    throw new SessionError('INVALID_OPTION', 'deno-kv store: prefix must be a non-empty string of at most 256 bytes');
  }
  const sessionKey = (id: string): DenoKvKey => [prefix, 's', id];
  const userKey = (userId: string, id: string): DenoKvKey => {
    // The key's parts are stored with a few bytes of framing each: count them generously.
    if (exceedsBytes(prefix + userId + id, DENO_KV_LIMITS.keyBytes - 32)) {
      throw new SessionError('STORE_LIMIT', "deno-kv store: the userId makes a key over Deno KV's 2 KiB");
    }
    return [prefix, 'u', userId, id];
  };

  /** A live slot for `record`, refused before any write when over Deno KV's value limit. */
  function liveSlot(record: SessionRecord): Slot {
    const text = JSON.stringify(record);
    const user = record.userId;
    // As Deno KV counts it, serialized; the slot's framing (its field names, `pruned` once a listing marks it) is
    // a few dozen bytes more.
    const bytes = serializedBytes(text) + (user === undefined ? 0 : serializedBytes(user));
    if (bytes > DENO_KV_LIMITS.valueBytes - 128) {
      throw new SessionError('STORE_LIMIT', `deno-kv store: session of ${bytes} bytes exceeds 64 KiB`);
    }
    return user === undefined ? { live: text } : { live: text, user };
  }

  /** Milliseconds until `at`, at least 1 (Deno refuses 0). */
  const until = (at: number) => ({ expireIn: Math.max(1, Math.ceil(at - now())) });

  /** The session's entry and, if it is live and not expired, its record. */
  async function read(id: string): Promise<{ entry: DenoKvEntry; slot: Slot | null; record: SessionRecord | null }> {
    const entry = await kv.get(sessionKey(id));
    const slot = isSlot(entry.value) ? entry.value : null;
    if (slot === null || !('live' in slot)) return { entry, slot, record: null };
    // Text that is not JSON is not live either: never merged onto, and pruned from a listing.
    const record = parseRecord(slot.live);
    return { entry, slot, record: record !== null && record.expiresAt > now() ? record : null };
  }

  /** Runs `attempt` until its atomic commit succeeds (another request committed in between: read again). */
  async function transact<T>(attempt: () => Promise<{ op: DenoKvAtomic | null; answer: T }>): Promise<T> {
    for (let i = 0; i < TRIES; i++) {
      const { op, answer } = await attempt();
      if (op === null || (await op.commit()).ok) return answer;
    }
    throw new SessionError('STORE_WRITE', `deno-kv store: ${TRIES} conflicting writes in a row`);
  }

  /** A write of `changes` to the live session `id`, or to `newId` when it moves there. */
  function write(id: string, changes: SessionChanges, times: SessionTimes, newId?: string) {
    return transact(async () => {
      const { entry, slot, record } = await read(id);
      if (record === null) return { op: null, answer: null };
      const merged = mergeChanges(record, changes, times);
      const key = sessionKey(id);
      const op = kv.atomic().check(entry);
      const user = merged.userId;
      if (newId === undefined) {
        op.set(key, liveSlot(merged), until(times.expiresAt));
        // The index entry lives as long as the session can: moved with its lifetime's end (see indexedUntil), and
        // entered again when a listing pruned it.
        const indexed = indexedUntil(merged);
        const pruned = slot !== null && 'pruned' in slot;
        if (user !== undefined && (pruned || indexed !== indexedUntil(record))) {
          op.set(userKey(user, id), 1, until(indexed));
        }
      } else {
        const target = sessionKey(newId);
        op.check({ key: target, versionstamp: null });
        op.set(target, liveSlot(merged), until(times.expiresAt));
        op.set(key, { until: times.expiresAt, to: newId }, until(times.expiresAt));
        if (user !== undefined) op.delete(userKey(user, id)).set(userKey(user, newId), 1, until(indexedUntil(merged)));
      }
      return { op, answer: merged };
    });
  }

  /** Ends `id` (and where it moved), kept until `retainUntil`; the ID the session was live under, or false. */
  async function destroy(id: string, retainUntil: number): Promise<string | false> {
    let ended: string | false = false;
    let next: string | undefined = id;
    for (let hop = 0; next !== undefined && hop < MAX_FORWARDS; hop++) {
      const current: string = next;
      let liveHere = false; // by the attempt that committed (transact retries on a conflict)
      next = await transact(async () => {
        const { entry, slot, record } = await read(current);
        liveHere = record !== null;
        const keep = Math.max(retainUntil, slot !== null && 'until' in slot ? slot.until : 0);
        const op = kv.atomic().check(entry).set(sessionKey(current), { until: keep }, until(keep));
        if (slot !== null && 'user' in slot && slot.user !== undefined) op.delete(userKey(slot.user, current));
        return { op, answer: slot !== null && 'to' in slot ? slot.to : undefined };
      });
      if (liveHere) ended = current;
    }
    return ended;
  }

  /** The IDs the per-user index holds for `userId`. */
  async function indexed(userId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of kv.list({ prefix: [prefix, 'u', userId] })) ids.push(String(entry.key[3]));
    return ids;
  }

  return {
    name: 'deno-kv',
    async get(id) {
      const { entry } = await read(id);
      const slot = entry.value;
      // Expired but not yet deleted by Deno: returned, so the manager reports it as `expired`.
      return isSlot(slot) && 'live' in slot ? parseRecord(slot.live) : null;
    },
    async create(id, record) {
      const key = sessionKey(id);
      const op = kv.atomic().check({ key, versionstamp: null }).set(key, liveSlot(record), until(record.expiresAt));
      if (record.userId !== undefined) op.set(userKey(record.userId, id), 1, until(indexedUntil(record)));
      return (await op.commit()).ok;
    },
    update: (id, changes, times) => write(id, changes, times),
    regenerate: (id, newId, changes, times) => write(id, changes, times, newId),
    destroy,
    async listByUser(userId) {
      const found: UserSession[] = [];
      const listed = new Set<string>();
      for (const id of await indexed(userId)) {
        const { entry, slot, record } = await read(id);
        if (record !== null) {
          if (!listed.has(id)) found.push({ id, record });
          listed.add(id);
          continue;
        }
        // Moved by a regenerate since the index was read: listed under the ID it moved to.
        let to = slot !== null && 'to' in slot ? slot.to : undefined;
        for (let hop = 0; to !== undefined && hop < MAX_FORWARDS; hop++) {
          const moved = await read(to);
          if (moved.record !== null) {
            if (!listed.has(to)) found.push({ id: to, record: moved.record });
            listed.add(to);
            break;
          }
          to = moved.slot !== null && 'to' in moved.slot ? moved.slot.to : undefined;
        }
        // Dead under this ID: pruned, unless the session changed since it was read. An expired record is written
        // again, marked pruned, in the same operation: a commit that read it live just before it expired fails its
        // check and reads it again, and one that finds it live all the same (its clock behind ours) enters it in the
        // index again, rather than extending a session that is no longer indexed.
        const op = kv.atomic().check(entry).delete(userKey(userId, id));
        if (slot !== null && 'live' in slot) op.set(sessionKey(id), { ...slot, pruned: true }, until(now()));
        await op.commit();
      }
      return found;
    },
    async destroyByUser(userId, except, retainUntil) {
      const ended: string[] = [];
      for (const id of await indexed(userId)) {
        if (except !== undefined && sameSession(id, except)) continue;
        const at = await destroy(id, retainUntil);
        if (at !== false) ended.push(at);
      }
      return ended;
    },
    async count() {
      let n = 0;
      for await (const entry of kv.list({ prefix: [prefix, 's'] })) {
        const slot = entry.value;
        if (isSlot(slot) && 'live' in slot && (parseRecord(slot.live)?.expiresAt ?? 0) > now()) n++;
      }
      return n;
    },
    async clear() {
      for await (const listed of kv.list({ prefix: [prefix, 's'] })) {
        if (!isSlot(listed.value) || !('live' in listed.value)) continue;
        // Live when listed: deleted, read again when a commit landed meanwhile, and followed to the ID a
        // regenerate moved it to meanwhile (which the listing may have passed).
        let known: DenoKvEntry | undefined = listed;
        let next: string | undefined = String(listed.key[2]);
        for (let hop = 0; next !== undefined && hop < MAX_FORWARDS; hop++) {
          const current: string = next;
          next = await transact(async () => {
            const entry = known ?? (await kv.get(sessionKey(current)));
            known = undefined;
            const slot = entry.value;
            if (!isSlot(slot)) return { op: null, answer: undefined };
            if (!('live' in slot)) return { op: null, answer: slot.to };
            const op = kv.atomic().check(entry).delete(entry.key);
            if (slot.user !== undefined) op.delete(userKey(slot.user, current));
            return { op, answer: undefined };
          });
        }
      }
    },
  };
}

/**
 * The bytes V8's serializer, Deno KV's value format, takes for a string's characters: one each when all are
 * Latin-1, else two per UTF-16 unit. Not its UTF-8: 40 KB of ASCII and one euro sign are 80 KB to Deno.
 */
function serializedBytes(text: string): number {
  return /[^\u0000-\u00ff]/.test(text) ? 2 * text.length : text.length;
}

function isSlot(value: unknown): value is Slot {
  return typeof value === 'object' && value !== null && ('live' in value || 'until' in value);
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof DenoKvStoreOptions>(['prefix', 'now']);
