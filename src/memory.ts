import { applyChanges } from './lib/changes.js';
import type { SessionRecord, SessionStore } from './lib/types.js';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds, shared with the manager in tests. Default `Date.now`. */
  now?: (() => number) | undefined;
}

export interface MemoryStore extends SessionStore {
  touch(key: string, expiresAt: number): Promise<void>;
  update: NonNullable<SessionStore['update']>;
  count(): Promise<number>;
  clear(): Promise<void>;
}

interface Entry {
  readonly text: string;
  expiresAt: number;
  /** The record as update() last merged it: the next update() starts from it instead of parsing `text` again. Never handed out to be changed. */
  readonly merged?: SessionRecord;
}

/**
 * Sessions in a `Map`, for tests and single-process servers (Deno, Bun, Node). Records are kept as JSON text,
 * exactly as a remote store would keep them, so a value that would not survive KV does not survive here
 * either. Expired entries are deleted on the first read after expiry and swept as the map grows. Not shared between processes or
 * Workers isolates: on Workers use `edge-sessions/kv` or `edge-sessions/durable-object`.
 *
 * @example
 * import { createMemoryStore } from 'edge-sessions/memory'
 * const sessions = createSessions({ store: createMemoryStore(), secrets: [Deno.env.get('SESSION_SECRET')!] })
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let sweptAtSize = 0;

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    return entry === undefined || now() >= entry.expiresAt ? undefined : entry;
  }

  function sweep(): void {
    const t = now();
    for (const [key, entry] of entries) if (t >= entry.expiresAt) entries.delete(key);
    sweptAtSize = entries.size;
  }

  return {
    name: 'memory',
    async get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return null;
      // An expired entry is returned once more (so the manager can report `expired` rather than `unknown`)
      // and deleted; the manager never uses it.
      if (now() >= entry.expiresAt) entries.delete(key);
      const record = JSON.parse(entry.text) as SessionRecord;
      return entry.expiresAt === record.expiresAt ? record : { ...record, expiresAt: entry.expiresAt };
    },
    async set(key, record, expiresAt) {
      entries.set(key, { text: JSON.stringify(record), expiresAt });
      // Amortised O(1): a full sweep each time the map has doubled since the last one.
      if (entries.size > 2 * sweptAtSize + 64) sweep();
    },
    async delete(key) {
      entries.delete(key);
    },
    async touch(key, expiresAt) {
      const entry = live(key);
      if (entry !== undefined) entry.expiresAt = expiresAt;
    },
    // Read, merge and write with no await between them: atomic in this process, like a Durable Object. A
    // session destroyed meanwhile stays destroyed, and concurrent requests keep each other's changes.
    async update(key, changes, record, expiresAt) {
      const entry = live(key);
      if (entry === undefined) return null;
      const merged = applyChanges(
        entry.merged ?? (JSON.parse(entry.text) as SessionRecord),
        changes,
        record,
        expiresAt,
      );
      entries.set(key, { text: JSON.stringify(merged), expiresAt, merged });
      return merged;
    },
    async clear() {
      entries.clear();
      sweptAtSize = 0;
    },
    async count() {
      sweep();
      return entries.size;
    },
  };
}
