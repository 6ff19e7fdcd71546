import { SessionError } from './errors.js';
import { applyChanges } from './lib/changes.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import type { SessionRecord, SessionStore } from './lib/types.js';
import { ID_PATTERN as SESSION_ID } from './lib/ids.js';

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

/** The longest session ID the manager accepts; a prefix must leave room for it within `keyBytes`. */
const MAX_ID_BYTES = 128;

/** A page of `list()`: what the store needs of `KVNamespaceListResult`. */
export interface KVListPage {
  readonly keys: readonly { readonly name: string; readonly expiration?: number; readonly metadata?: unknown }[];
  readonly list_complete: boolean;
  readonly cursor?: string;
}

/** What the store needs of a `KVNamespace` binding. Any object with these methods works (tests wrap one). */
export interface KVNamespaceLike {
  get(key: string, options: { type: 'text'; cacheTtl?: number }): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options: { prefix: string; cursor?: string; limit?: number }): Promise<KVListPage>;
}

export interface KVStoreOptions {
  /** Prepended to every session ID to make the KV key; at most 384 bytes. Default `"session:"`. */
  prefix?: string | undefined;
  /** Seconds a read may be served from the edge cache (KV's `cacheTtl`, at least 30). Default: KV's own (60). */
  cacheTtl?: number | undefined;
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Keys per `list` page for `count()` and `clear()`, 1–1000. Default 1000. */
  pageSize?: number | undefined;
  /**
   * KV operations `count()` or `clear()` may spend in one call. Default 1000, the Workers limit per
   * invocation; lower it by what the same invocation spends elsewhere.
   */
  maxOperations?: number | undefined;
}

export interface KVStore extends SessionStore {
  update: NonNullable<SessionStore['update']>;
  touch(key: string, expiresAt: number): Promise<void>;
  count(): Promise<number>;
  clear(): Promise<void>;
}

/**
 * Sessions in Workers KV. Each session is one key (`prefix + id`) holding the record as JSON, written with
 * `expirationTtl` so KV evicts it; the TTL is at least 60 s (KV's minimum), so a record can outlive its
 * `expiresAt` by up to a minute, and `get` therefore compares `expiresAt` with `now()` itself. The record's
 * `expiresAt` also goes into the key's metadata, so `count()` can skip expired keys without reading them.
 *
 * KV is eventually consistent and last-writer-wins: a change (or a destroy) may take up to about 60 s, or
 * `cacheTtl`, to be seen at other locations, and concurrent commits of one session are last-writer-wins
 * (`update` re-reads and merges just before its write, which narrows but cannot close that window). Use
 * `edge-sessions/durable-object` when that matters.
 *
 * Operations: `get` 1 read; `set` 1 write; `delete` 1 delete; `update` (a returning session's changes) and
 * `touch` 1 read and 1 write each (KV has no partial update, so the record is read back, merged or given the
 * new TTL, and rewritten). `count()` makes ceil(n / pageSize)
 * `list` calls; `clear()` those plus one `delete` per key. Workers allow 1,000 KV operations per invocation:
 * when a call would need more than `maxOperations`, it rejects with a `SessionError` code `STORE_LIMIT`
 * before deleting anything (so `clear()` works on up to about 999 sessions per invocation with the
 * defaults). To end more sessions at once, rotate `secrets`: every existing cookie then fails its signature.
 *
 * Keys over 512 bytes and values over 25 MiB reject with `STORE_LIMIT` before the write.
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
  const prefix = options.prefix ?? 'session:';
  const now = options.now ?? Date.now;
  const pageSize = options.pageSize ?? KV_LIMITS.maxListLimit;
  const maxOperations = options.maxOperations ?? KV_LIMITS.operationsPerInvocation;
  const cacheTtl = options.cacheTtl;

  // Not empty: destroyAll() and count() cover every key under the prefix, and a namespace may hold other data.
  if (typeof prefix !== 'string' || prefix === '' || byteLength(prefix) > KV_LIMITS.keyBytes - MAX_ID_BYTES) {
    throw new SessionError(
      'INVALID_OPTION',
      `kv store: prefix must be a non-empty string of at most ${KV_LIMITS.keyBytes - MAX_ID_BYTES} bytes`,
    );
  }
  if (cacheTtl !== undefined && !(Number.isSafeInteger(cacheTtl) && cacheTtl >= KV_LIMITS.minCacheTtlSec)) {
    throw new SessionError(
      'INVALID_OPTION',
      `kv store: cacheTtl must be a whole number of seconds, at least ${KV_LIMITS.minCacheTtlSec}`,
    );
  }
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > KV_LIMITS.maxListLimit) {
    throw new SessionError(
      'INVALID_OPTION',
      `kv store: pageSize must be an integer from 1 to ${KV_LIMITS.maxListLimit}`,
    );
  }
  if (!Number.isSafeInteger(maxOperations) || maxOperations < 1) {
    throw new SessionError('INVALID_OPTION', 'kv store: maxOperations must be a positive integer');
  }
  const readOptions: { type: 'text'; cacheTtl?: number } =
    cacheTtl === undefined ? { type: 'text' } : { type: 'text', cacheTtl };

  function keyOf(id: string): string {
    const key = prefix + id;
    if (exceedsBytes(key, KV_LIMITS.keyBytes)) {
      throw new SessionError(
        'STORE_LIMIT',
        `kv store: key of ${byteLength(key)} bytes exceeds KV's ${KV_LIMITS.keyBytes}`,
      );
    }
    return key;
  }

  async function write(key: string, record: SessionRecord, expiresAt: number): Promise<void> {
    const value = JSON.stringify(record.expiresAt === expiresAt ? record : { ...record, expiresAt });
    if (exceedsBytes(value, KV_LIMITS.valueBytes)) {
      throw new SessionError(
        'STORE_LIMIT',
        `kv store: session of ${byteLength(value)} bytes exceeds KV's 25 MiB value limit`,
      );
    }
    const expirationTtl = Math.max(KV_LIMITS.minTtlSec, Math.ceil((expiresAt - now()) / 1000));
    await namespace.put(key, value, { expirationTtl, metadata: { expiresAt } });
  }

  /** The record if it is live; a value that is not JSON (written by something else) is no session. */
  function parse(text: string | null): SessionRecord | null {
    if (text === null) return null;
    try {
      const record = JSON.parse(text) as SessionRecord | null;
      return record !== null && typeof record === 'object' ? record : null;
    } catch {
      return null;
    }
  }

  function parseLive(text: string | null): SessionRecord | null {
    const record = parse(text);
    return record !== null && record.expiresAt > now() ? record : null;
  }

  /** Every session key under the prefix (the rest must look like a session ID), page by page, within the operation budget. */
  async function listAll(operation: string): Promise<{ keys: KVListPage['keys'][number][]; operations: number }> {
    const keys: KVListPage['keys'][number][] = [];
    let operations = 0;
    let cursor: string | undefined;
    do {
      if (++operations > maxOperations) throw overBudget(operation, maxOperations);
      const page = await namespace.list(
        cursor === undefined ? { prefix, limit: pageSize } : { prefix, limit: pageSize, cursor },
      );
      // "sess" also lists "sessions-config": count and delete only what could be a session.
      for (const key of page.keys) if (SESSION_ID.test(key.name.slice(prefix.length))) keys.push(key);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    return { keys, operations };
  }

  return {
    name: 'kv',
    async get(id) {
      // Expired but not yet deleted by KV (its TTL has a 60 s floor) is returned as it is: the manager checks
      // expiry itself and reports it as `expired`, clearing the cookie.
      return parse(await namespace.get(keyOf(id), readOptions));
    },
    async set(id, record, expiresAt) {
      await write(keyOf(id), record, expiresAt);
    },
    async delete(id) {
      await namespace.delete(keyOf(id));
    },
    async update(id, changes, record, expiresAt) {
      const key = keyOf(id);
      // KV has no transaction: read the current record with the shortest edge cache KV allows (there is no
      // way past it) and apply this request's changes to it just before writing. A write is seen at once where
      // it was made, so at this location a destroyed session stays destroyed and a concurrent commit's other
      // keys usually survive; elsewhere, or within the read-write gap, the last writer wins.
      const stored = parseLive(await namespace.get(key, FRESHEST));
      if (stored === null) return null;
      const merged = applyChanges(stored, changes, record, expiresAt);
      await write(key, merged, expiresAt);
      return merged;
    },
    async touch(id, expiresAt) {
      const key = keyOf(id);
      // The shortest edge cache, whatever the store's cacheTtl: a touch should not rewrite an older copy.
      const record = parseLive(await namespace.get(key, FRESHEST));
      if (record !== null) await write(key, record, expiresAt);
    },
    async count() {
      const t = now();
      const { keys } = await listAll('count');
      return keys.filter((key) => liveAt(key, t)).length;
    },
    async clear() {
      const { keys, operations } = await listAll('clear');
      if (operations + keys.length > maxOperations) throw overBudget('clear', maxOperations, operations + keys.length);
      // A few deletes in flight at a time: Workers cap simultaneous outgoing requests at six.
      for (let i = 0; i < keys.length; i += 6)
        await Promise.all(keys.slice(i, i + 6).map((key) => namespace.delete(key.name)));
    },
  };
}

/** Whether a listed key is still live at `t`: by the `expiresAt` in its metadata, else by KV's own expiration. */
function liveAt(key: KVListPage['keys'][number], t: number): boolean {
  const meta = key.metadata as { expiresAt?: unknown } | null | undefined;
  if (typeof meta?.expiresAt === 'number') return meta.expiresAt > t;
  return key.expiration === undefined || key.expiration * 1000 > t;
}

function overBudget(operation: string, maxOperations: number, needed?: number): SessionError {
  const what = needed === undefined ? `more than ${maxOperations}` : String(needed);
  return new SessionError(
    'STORE_LIMIT',
    `kv store: ${operation}() needs ${what} KV operations, over maxOperations (${maxOperations}; Workers allow 1,000 per invocation)`,
  );
}
