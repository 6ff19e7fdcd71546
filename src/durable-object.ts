import { DurableObject } from 'cloudflare:workers';
import { SessionError } from './errors.js';
import { randomId } from './lib/random.js';
import { applyChanges } from './lib/changes.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import type { SessionChanges, SessionRecord, SessionStore } from './lib/types.js';

/** SQLite-backed Durable Objects keep at most 2 MB in one string or row (we count the key with the value). */
export const MAX_DURABLE_OBJECT_VALUE_BYTES = 2_000_000;

// ------------------------------------------------------------------------------------------ the object

/** Alarms refuse far-future dates (after 2189); a record that lives longer is re-checked at this interval. */
const MAX_ALARM_AHEAD_MS = 365 * 24 * 3600 * 1000;

/** What the object needs of its `DurableObjectState`: SQLite storage and alarms. */
interface SessionObjectState {
  readonly storage: {
    readonly sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] } };
    transactionSync<T>(closure: () => T): T;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
    deleteAlarm(): Promise<void>;
    deleteAll(): Promise<void>;
  };
}

interface Row {
  readonly value: string;
  readonly expires_at: number;
  readonly op: string | null;
}

/**
 * The Durable Object behind `createDurableObjectStore`: one object per session, holding its record in SQLite.
 * Export it from your Worker's entry and bind it with a `new_sqlite_classes` migration:
 *
 * ```toml
 * [[durable_objects.bindings]]
 * name = "SESSIONS_DO"
 * class_name = "SessionDurableObject"
 *
 * [[migrations]]
 * tag = "v1"
 * new_sqlite_classes = ["SessionDurableObject"]
 * ```
 *
 * Strongly consistent: every method runs to completion without awaiting between its read and its write (the
 * SQLite API is synchronous), so concurrent `update`s of one session never lose each other's changes. An alarm
 * deletes the record when it expires, without any request; once the object is empty its storage is freed.
 *
 * Times: `expiresAt` and `now` are the caller's clock (the manager's `now()`). The alarm runs on the object's
 * own clock, so each write also stores a deadline on that clock, `Date.now() + (expiresAt - now)`.
 * Reads compare the caller's times; the alarm only collects garbage.
 *
 * @example
 * // worker.ts
 * export { SessionDurableObject } from 'edge-sessions/durable-object'
 */
export class SessionDurableObject extends DurableObject {
  /** The table is known to exist (a write creates it, again after the object freed its storage). */
  #ready = false;
  /** The alarm time as this instance last set or read it; `undefined` when unknown. */
  #alarmAt: number | null | undefined;

  get #storage(): SessionObjectState['storage'] {
    return (this.ctx as SessionObjectState).storage;
  }

  /**
   * The record under `key`, or null. One that expired by the caller's clock but the alarm has not deleted yet
   * is returned as it is: the manager checks expiry and reports it as `expired`.
   */
  get(key: string): SessionRecord | null {
    if (!this.#hasTable()) return null;
    const row = this.#row(key);
    return row === undefined ? null : withExpiry(row);
  }

  /** Stores `record` (whose data the caller built) under `key` until `expiresAt`. */
  async set(key: string, record: SessionRecord, expiresAt: number, now: number): Promise<void> {
    const deadline = Date.now() + (expiresAt - now);
    this.#createTable();
    this.#exec(
      'INSERT OR REPLACE INTO sessions (key, value, expires_at, deadline, op) VALUES (?, ?, ?, ?, NULL)',
      key,
      JSON.stringify({ ...record, expiresAt }),
      expiresAt,
      deadline,
    );
    await this.#scheduleBy(deadline);
  }

  async delete(key: string): Promise<void> {
    if (!this.#hasTable()) return;
    this.#exec('DELETE FROM sessions WHERE key = ?', key);
    await this.#freeIfEmpty();
  }

  /** Moves the expiry of a live record; a missing or expired record stays missing. */
  async touch(key: string, expiresAt: number, now: number): Promise<void> {
    if (!this.#hasTable()) return;
    const deadline = Date.now() + (expiresAt - now);
    const rows = this.#exec(
      'UPDATE sessions SET expires_at = ?, deadline = ? WHERE key = ? AND expires_at > ? RETURNING key',
      expiresAt,
      deadline,
      key,
      now,
    );
    if (rows.length > 0) await this.#scheduleBy(deadline);
  }

  /**
   * Applies one request's `changes` to the stored record in a single transaction and returns the result, or
   * null when the record is gone or expired (a commit never resurrects a destroyed session). `op` makes a retry
   * of the same call (after a lost connection) return the stored result instead of applying it twice.
   */
  async update(
    key: string,
    changes: SessionChanges,
    record: SessionRecord,
    expiresAt: number,
    now: number,
    op?: string,
  ): Promise<SessionRecord | null | TooLarge> {
    if (!this.#hasTable()) return null;
    const deadline = Date.now() + (expiresAt - now);
    const next = this.#storage.transactionSync((): SessionRecord | null | TooLarge => {
      const row = this.#row(key);
      if (row === undefined || row.expires_at <= now) return null;
      if (op !== undefined && row.op === op) return withExpiry(row);
      const merged = applyChanges(JSON.parse(row.value) as SessionRecord, changes, record, expiresAt);
      const value = JSON.stringify(merged);
      // Answered, not thrown: an error's code does not survive RPC, and the store must say STORE_LIMIT.
      if (tooLong(key, value)) return { tooLarge: byteLength(value) + byteLength(key) };
      this.#exec(
        'UPDATE sessions SET value = ?, expires_at = ?, deadline = ?, op = ? WHERE key = ?',
        value,
        expiresAt,
        deadline,
        op ?? null,
        key,
      );
      return merged;
    });
    if (next !== null && !('tooLarge' in next)) await this.#scheduleBy(deadline);
    return next;
  }

  /** Deletes what has expired by the object's clock and re-arms for the next deadline. Safe to run twice. */
  override async alarm(): Promise<void> {
    if (!this.#hasTable()) {
      this.#alarmAt = null;
      return;
    }
    this.#exec('DELETE FROM sessions WHERE deadline <= ?', Date.now());
    this.#alarmAt = null; // a running alarm is no longer scheduled
    const next = this.#exec('SELECT MIN(deadline) AS next FROM sessions')[0]?.next;
    if (typeof next === 'number') await this.#scheduleBy(next);
    else await this.#freeIfEmpty();
  }

  #exec(query: string, ...bindings: unknown[]): Record<string, unknown>[] {
    return this.#storage.sql.exec(query, ...bindings).toArray();
  }

  /** Only writes make the table: a read of a session this object does not hold leaves it empty (and unbilled). */
  #createTable(): void {
    if (this.#ready) return;
    this.#exec(
      'CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, deadline INTEGER NOT NULL, op TEXT)',
    );
    this.#ready = true;
  }

  #hasTable(): boolean {
    this.#ready ||= this.#exec("SELECT 1 FROM sqlite_master WHERE name = 'sessions'").length > 0;
    return this.#ready;
  }

  #row(key: string): Row | undefined {
    return this.#exec('SELECT value, expires_at, op FROM sessions WHERE key = ?', key)[0] as Row | undefined;
  }

  /** Makes sure the alarm fires no later than `deadline` (capped at a year ahead; the alarm then re-arms). */
  async #scheduleBy(deadline: number): Promise<void> {
    deadline = Math.min(deadline, Date.now() + MAX_ALARM_AHEAD_MS);
    if (this.#alarmAt === undefined) this.#alarmAt = await this.#storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > deadline) {
      await this.#storage.setAlarm(deadline);
      this.#alarmAt = deadline;
    }
  }

  /** An object without sessions keeps nothing: no table, no alarm (it is billed for what it stores). */
  async #freeIfEmpty(): Promise<void> {
    if (Number(this.#exec('SELECT COUNT(*) AS n FROM sessions')[0]?.n ?? 0) > 0) return;
    await this.#storage.deleteAlarm();
    await this.#storage.deleteAll();
    this.#alarmAt = null;
    this.#ready = false;
  }
}

/** The object's answer when a merged record would not fit a row. */
export interface TooLarge {
  readonly tooLarge: number;
}

function withExpiry(row: Row): SessionRecord {
  const record = JSON.parse(row.value) as SessionRecord;
  return record.expiresAt === row.expires_at ? record : { ...record, expiresAt: row.expires_at };
}

/** Key and value together over what one row holds (counted in full only when the length leaves it open). */
function tooLong(key: string, value: string): boolean {
  return exceedsBytes(value, MAX_DURABLE_OBJECT_VALUE_BYTES - byteLength(key));
}

function tooLarge(bytes: number): SessionError {
  return new SessionError(
    'STORE_LIMIT',
    `durable-object store: a session of ${bytes} bytes exceeds the 2 MB a Durable Object row holds`,
  );
}

// ------------------------------------------------------------------------------------------ the store

/** What the store needs of a stub of `SessionDurableObject` (RPC). */
export interface SessionObjectStub {
  get(key: string): Promise<SessionRecord | null>;
  set(key: string, record: SessionRecord, expiresAt: number, now: number): Promise<void>;
  delete(key: string): Promise<void>;
  touch(key: string, expiresAt: number, now: number): Promise<void>;
  update(
    key: string,
    changes: SessionChanges,
    record: SessionRecord,
    expiresAt: number,
    now: number,
    op?: string,
  ): Promise<SessionRecord | null | TooLarge>;
}

/** What the store needs of a `DurableObjectNamespace<SessionDurableObject>` binding. */
export interface SessionObjectNamespace {
  idFromName(name: string): { toString(): string };
  get(id: { toString(): string }): SessionObjectStub;
}

export interface DurableObjectStoreOptions {
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/**
 * Sessions in Durable Objects, one object per session (`idFromName(sessionId)`). Why not a fixed set of shard
 * objects: a shard serves all its sessions from one place and one thread (a soft limit near 1,000 requests a
 * second per object), and its count could never change without remapping every session; one object per
 * session is created near its user and costs a few milliseconds once, at the session's first write.
 *
 * Strongly consistent: a destroyed session is refused everywhere as soon as `destroy` returns, and concurrent
 * requests that change different keys, or increment one counter, all keep their changes (`update` is applied
 * inside the object). Each object deletes its session by alarm when it expires.
 *
 * There is no `count()` or `clear()`: no object knows the others, so `sessions.count()` and
 * `sessions.destroyAll()` reject with `STORE_UNSUPPORTED`. To end every session at once, rotate `secrets`
 * (every cookie then fails its signature). For a rough count, tally `created` events from `onEvent`: sessions
 * the alarm expires emit nothing, and `destroyById` reports an ID it was given whether or not it existed.
 *
 * A call whose stub fails with a retryable error (`error.retryable`, such as "Network connection lost") is
 * retried once on a fresh stub; an overloaded object (`error.overloaded`) is not retried, as Cloudflare advises.
 * Stubs are made per call because a stub cannot be used across requests. Values over 2 MB reject with a
 * `SessionError` code `STORE_LIMIT` before any call.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createDurableObjectStore } from 'edge-sessions/durable-object'
 * export { SessionDurableObject } from 'edge-sessions/durable-object'
 *
 * export default {
 *   async fetch(request: Request, env: Env) {
 *     const sessions = createSessions({ store: createDurableObjectStore(env.SESSIONS_DO), secrets: [env.SESSION_SECRET] })
 *     return sessions.handle(async (req, session) => new Response(`visit ${session.increment('visits')}`))(request)
 *   },
 * } satisfies ExportedHandler<Env>
 */
export function createDurableObjectStore(
  namespace: SessionObjectNamespace,
  options: DurableObjectStoreOptions = {},
): SessionStore {
  const now = options.now ?? Date.now;

  async function call<T>(key: string, method: (stub: SessionObjectStub) => Promise<T>): Promise<T> {
    try {
      return await method(namespace.get(namespace.idFromName(key)));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      return method(namespace.get(namespace.idFromName(key)));
    }
  }

  return {
    name: 'durable-object',
    get: (key) => call(key, (stub) => stub.get(key)),
    async set(key, record, expiresAt) {
      checkSize(key, record, expiresAt);
      return call(key, (stub) => stub.set(key, record, expiresAt, now()));
    },
    delete: (key) => call(key, (stub) => stub.delete(key)),
    touch: (key, expiresAt) => call(key, (stub) => stub.touch(key, expiresAt, now())),
    async update(key, changes, record, expiresAt) {
      checkSize(key, record, expiresAt);
      // One op id for both attempts: a retry after a lost connection is not applied twice.
      const op = randomId();
      const result = await call(key, (stub) => stub.update(key, changes, record, expiresAt, now(), op));
      if (result !== null && 'tooLarge' in result) throw tooLarge(result.tooLarge);
      return result;
    },
  };
}

function checkSize(key: string, record: SessionRecord, expiresAt: number): void {
  const value = JSON.stringify({ ...record, expiresAt });
  if (tooLong(key, value)) throw tooLarge(byteLength(value) + byteLength(key));
}

/** Cloudflare: retry `retryable` errors on a new stub, never `overloaded` ones. */
function isRetryable(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { retryable?: unknown; overloaded?: unknown };
  return e.retryable === true && e.overloaded !== true;
}
