import { detached } from './lib/bounded.js';
import { sameSession } from './lib/ids.js';
import { mergeChanges } from './lib/merge.js';
import { SessionError } from './errors.js';
import { clockOption, refuseUnknownOptions } from './lib/option-names.js';
import type { SessionRecord, SessionStore, UserSession } from './lib/store-contract.js';

/** Options of `createMemoryStore`. */
export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds, shared with the manager in tests. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** The store `createMemoryStore` returns: a `SessionStore` with a per-user index that can also count and clear. */
export interface MemoryStore extends SessionStore {
  /** The live sessions of `userId`, from the per-user index. */
  listByUser(userId: string): Promise<UserSession[]>;
  /** Ends every live session of `userId` but that of `except` (by lineage), in one step; resolves the IDs ended. */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
  /** Live sessions in this process. */
  count(): Promise<number>;
  /** Deletes every live session (ended IDs stay ended). */
  clear(): Promise<void>;
}

/** A live session: its record as JSON text, exactly as a remote store would keep it. */
interface Live {
  readonly text: string;
  readonly expiresAt: number;
  /** The record as last merged: the next update starts from it instead of parsing `text` again. Never handed out. */
  readonly merged?: SessionRecord;
  /** The record's `userId`: the session is in that user's index. */
  readonly userId?: string | undefined;
}

/** An ended session, kept until `until` so nothing in flight revives it; `movedTo` after a regenerate. */
interface Ended {
  readonly until: number;
  readonly movedTo?: string;
}

type Entry = Live | Ended;

/**
 * Sessions in a `Map`, for tests and single-process servers (Deno, Bun, Node). Records are kept as JSON text, so
 * a value that would not survive KV does not survive here either. Every transaction runs without an `await`
 * between its read and its write, so it is atomic in this process: exact, like a Durable Object. Expired entries
 * are deleted on the first read after expiry and swept as the map grows. Not shared between processes or Workers
 * isolates: on Workers use `edge-sessions/kv` or `edge-sessions/durable-object`.
 *
 * @example
 * import { createMemoryStore } from 'edge-sessions/memory'
 * const sessions = createSessions({ store: createMemoryStore(), secrets: [Deno.env.get('SESSION_SECRET')!] })
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  refuseUnknownOptions('createMemoryStore', options, OPTION_NAMES);
  const now = clockOption('createMemoryStore', options.now);
  const entries = new Map<string, Entry>();
  /** The per-user index: user → IDs of their sessions. Kept exact by every transaction, pruned as entries end. */
  const users = new Map<string, Set<string>>();
  let sweptAtSize = 0;

  function live(id: string): Live | undefined {
    const entry = entries.get(id);
    return entry === undefined || !('text' in entry) || now() >= entry.expiresAt ? undefined : entry;
  }

  /** Sets an entry, keeping the per-user index right; `before` is the entry it replaces (the caller has read it). */
  function put(id: string, entry: Entry, before: Entry | undefined): void {
    // A new key is kept as a copy of its own: an ID the app passed in (destroyById) may be a slice of a larger
    // string, which the key would keep alive (the signer already copies IDs read from cookies).
    if (before === undefined) id = detached(id);
    if (before !== undefined && 'text' in before && before.userId !== undefined) unlist(before.userId, id);
    if ('text' in entry && entry.userId !== undefined) {
      let ids = users.get(entry.userId);
      if (ids === undefined) users.set(entry.userId, (ids = new Set()));
      ids.add(id);
    }
    entries.set(id, entry);
    // Amortised O(1): a full sweep each time the map has doubled since the last one.
    if (entries.size > 2 * sweptAtSize + 64) sweep();
  }

  function unlist(userId: string, id: string): void {
    const ids = users.get(userId);
    if (ids?.delete(id) === true && ids.size === 0) users.delete(userId);
  }

  /** Deletes an entry, and its index entry. */
  function remove(id: string, entry: Entry): void {
    if ('text' in entry && entry.userId !== undefined) unlist(entry.userId, id);
    entries.delete(id);
  }

  function sweep(): void {
    const t = now();
    for (const [id, entry] of entries) if (t >= ('text' in entry ? entry.expiresAt : entry.until)) remove(id, entry);
    sweptAtSize = entries.size;
  }

  /**
   * Ends `id` and every ID it moved to, however many, synchronously (so `destroyByUser` is one transaction too);
   * the ID the session was live under, or false. Each ID visited is ended without its forward, so even a cycle of
   * forwards ends.
   */
  function end(id: string, retainUntil: number): string | false {
    let ended: string | false = false;
    let next: string | undefined = id;
    while (next !== undefined) {
      const entry = entries.get(next);
      if (entry !== undefined && 'text' in entry && now() < entry.expiresAt) ended = next;
      const movedTo = entry !== undefined && 'movedTo' in entry ? entry.movedTo : undefined;
      put(next, { until: Math.max(retainUntil, entry !== undefined && 'until' in entry ? entry.until : 0) }, entry);
      next = movedTo;
    }
    return ended;
  }

  function parsed(entry: Live): SessionRecord {
    return entry.merged ?? (JSON.parse(entry.text) as SessionRecord);
  }

  return {
    name: 'memory',
    async get(id) {
      const entry = entries.get(id);
      if (entry === undefined || !('text' in entry)) return null;
      // An expired entry is returned once more (so the manager can report `expired` rather than `unknown`)
      // and deleted; the manager never uses it.
      if (now() >= entry.expiresAt) remove(id, entry);
      return JSON.parse(entry.text) as SessionRecord;
    },
    async create(id, record) {
      const entry = entries.get(id);
      if (entry !== undefined && now() < ('text' in entry ? entry.expiresAt : entry.until)) return false;
      put(id, { text: JSON.stringify(record), expiresAt: record.expiresAt, userId: record.userId }, entry);
      return true;
    },
    async update(id, changes, times) {
      const entry = live(id);
      if (entry === undefined) return null;
      const merged = mergeChanges(parsed(entry), changes, times);
      entries.set(id, { text: JSON.stringify(merged), expiresAt: times.expiresAt, merged, userId: entry.userId });
      return merged;
    },
    async regenerate(id, newId, changes, times) {
      const entry = live(id);
      if (entry === undefined) return null;
      if (entries.has(newId)) throw new SessionError('STORE_WRITE', 'memory store: regenerate: the new ID is taken');
      const merged = mergeChanges(parsed(entry), changes, times);
      put(id, { until: times.expiresAt, movedTo: newId }, entry);
      put(newId, { text: JSON.stringify(merged), expiresAt: times.expiresAt, merged, userId: entry.userId }, undefined);
      return merged;
    },
    destroy: async (id, retainUntil) => end(id, retainUntil),
    async listByUser(userId) {
      const found = [];
      for (const id of users.get(userId) ?? []) {
        const entry = entries.get(id)!;
        if (live(id) !== undefined) found.push({ id, record: JSON.parse((entry as Live).text) as SessionRecord });
        else remove(id, entry); // expired: pruned here rather than piled up until the next sweep
      }
      return found;
    },
    async destroyByUser(userId, except, retainUntil) {
      const ended: string[] = [];
      for (const id of [...(users.get(userId) ?? [])]) {
        if (except !== undefined && sameSession(id, except)) continue;
        const at = end(id, retainUntil);
        if (at !== false) ended.push(at);
      }
      return ended;
    },
    async clear() {
      // Ended entries stay: clearing must not let an ended ID be reused.
      for (const [id, entry] of entries) if ('text' in entry) remove(id, entry);
    },
    async count() {
      sweep();
      let n = 0;
      for (const entry of entries.values()) if ('text' in entry) n++;
      return n;
    },
  };
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof MemoryStoreOptions>(['now']);
