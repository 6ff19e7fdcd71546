import { DurableObject } from 'cloudflare:workers';
import { SessionError, type SessionErrorCode } from './errors.js';
import { randomId } from './lib/random.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import { mergeChanges } from './lib/merge.js';
import { refuseUnknownOptions } from './lib/option-names.js';
import type { SessionChanges, SessionRecord, SessionStore, SessionTimes } from './lib/store-contract.js';

/** SQLite-backed Durable Objects keep at most 2 MB in one string or row (we count the key with the value). */
export const MAX_DURABLE_OBJECT_VALUE_BYTES = 2_000_000;

// ------------------------------------------------------------------------------------------ the object

/** Alarms refuse far-future dates (after 2189); a record that lives longer is re-checked at this interval. */
const MAX_ALARM_AHEAD_MS = 31_536_000_000; // 365 days
/** How long the object remembers an operation's answer, so that a retry is answered instead of applied twice. */
const OPERATION_MEMORY_MS = 10 * 60_000;
/** A move that has not finished in this time was abandoned (its request died): the session may move again. */
const MOVE_TIMEOUT_MS = 60_000;

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

/**
 * A session's state in its object: `live`; `moving` while a regenerate copies it to its new ID (still usable,
 * changes still accepted); `moved` once the new ID holds it (the old ID forwards there); `ended` by a destroy.
 * `moved` and `ended` rows hold no record: they are kept until their deadline so nothing in flight revives them.
 */
type State = 'live' | 'moving' | 'moved' | 'ended';

interface Row {
  readonly value: string | null;
  readonly state: State;
  readonly forward: string | null;
  readonly version: number;
  readonly expires_at: number;
  readonly since: number;
}

/** An answer instead of an exception: an error's code does not survive RPC, and the store must keep it. */
export interface Refusal {
  /** The `SessionError` the store throws for it. */
  readonly refused: { readonly code: SessionErrorCode; readonly message: string };
}

/** `moveOut`'s answer: the record as moved and the version it was taken at. */
export interface MoveStart {
  /** The record as moved. */
  readonly record: SessionRecord;
  /** Its version then: a later one at `finishMove` means another request changed it during the move. */
  readonly version: number;
}

/** `finishMove`'s answer: done (with the record if changes landed during the move), or the session ended. */
export type MoveEnd = { readonly done: true; readonly record?: SessionRecord } | { readonly done: false };

/**
 * The Durable Object behind `createDurableObjectStore`: one object per session ID, holding its record in SQLite.
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
 * Strongly consistent: every method runs to completion in one SQLite transaction, without awaiting between its
 * read and its write, so concurrent commits never lose each other's changes and a destroyed session stays
 * destroyed. Each mutating call carries an operation ID; the object remembers recent ones (ten minutes) and
 * answers a retry with the first answer instead of applying it twice. An alarm deletes expired records and
 * ended markers without any request; once the object holds nothing its storage is freed.
 *
 * Times: `now` is the caller's clock (the manager's `now()`). The alarm runs on the object's own clock, so each
 * write also stores a deadline on that clock, `Date.now() + (expiresAt - now)`.
 *
 * @example
 * // worker.ts
 * export { SessionDurableObject } from 'edge-sessions/durable-object'
 */
export class SessionDurableObject extends DurableObject {
  /** The tables are known to exist (a write creates them, again after the object freed its storage). */
  #ready = false;
  /** The alarm time as this instance last set or read it; `undefined` when unknown. */
  #alarmAt: number | null | undefined;

  get #storage(): SessionObjectState['storage'] {
    return (this.ctx as SessionObjectState).storage;
  }

  /**
   * The record under `id` while it is live or moving, or null. One that expired by the caller's clock but the
   * alarm has not deleted yet is returned as it is: the manager checks expiry and reports it as `expired`.
   */
  get(id: string): SessionRecord | null {
    if (!this.#hasTables()) return null;
    const value = this.#row(id)?.value;
    return value === undefined || value === null ? null : (JSON.parse(value) as SessionRecord);
  }

  /** Stores a new session: `created`, or why not (`taken` by a live one, `ended` by a destroy or a move). */
  async create(id: string, record: SessionRecord, now: number, op: string): Promise<'created' | 'taken' | 'ended'> {
    this.#createTables();
    const result = this.#transaction(id, op, (row) => {
      if (row !== undefined) return row.value === null ? 'ended' : 'taken';
      this.#write(id, JSON.stringify(record), 'live', null, 0, record.expiresAt, now);
      return 'created';
    });
    if (result === 'created') await this.#scheduleBy(deadline(record.expiresAt, now));
    return result;
  }

  /** Merges `changes` into the live (or moving) record; null when there is none. */
  async update(
    id: string,
    changes: SessionChanges,
    times: SessionTimes,
    now: number,
    op: string,
  ): Promise<SessionRecord | null | Refusal> {
    if (!this.#hasTables()) return null;
    const result = this.#transaction(id, op, (row) =>
      isLive(row, now) ? this.#merge(id, row, changes, times, row.state, now) : null,
    );
    if (result !== null && !('refused' in result)) await this.#scheduleBy(deadline(times.expiresAt, now));
    return result;
  }

  /** The first step of a regenerate: the live record with `changes` merged, now `moving` towards `newId`. */
  moveOut(
    id: string,
    newId: string,
    changes: SessionChanges,
    times: SessionTimes,
    now: number,
    op: string,
  ): MoveStart | null | Refusal {
    if (!this.#hasTables()) return null;
    return this.#transaction(id, op, (row) => {
      if (!isLive(row, now)) return null;
      // Another regenerate is moving it: this one lost the race (unless that move was abandoned).
      if (row.state === 'moving' && Date.now() - row.since < MOVE_TIMEOUT_MS) return null;
      const merged = this.#merge(id, row, changes, times, 'moving', now, newId);
      return 'refused' in merged ? merged : { record: merged, version: row.version + 1 };
    });
  }

  /**
   * The last step of a regenerate, once `newId` holds the record: the old ID becomes a forward to it until the
   * session's expiry. Returns the record again if another request changed it during the move (the new ID must
   * take that), or `done: false` when a destroy ended the session meanwhile.
   */
  finishMove(id: string, newId: string, version: number, now: number, op: string): MoveEnd {
    if (!this.#hasTables()) return { done: false };
    return this.#transaction(id, op, (row): MoveEnd => {
      if (row === undefined || row.state !== 'moving' || row.forward !== newId) return { done: false };
      this.#write(id, null, 'moved', newId, row.version, row.expires_at, now);
      return row.version === version ? { done: true } : { done: true, record: JSON.parse(row.value!) };
    });
  }

  /** Replaces the live record (after a move that other requests changed meanwhile); false when it ended. */
  adopt(id: string, record: SessionRecord, now: number, op: string): boolean {
    if (!this.#hasTables()) return false;
    return this.#transaction(id, op, (row) => {
      if (row === undefined || row.state !== 'live') return false;
      this.#write(id, JSON.stringify(record), 'live', null, row.version + 1, record.expiresAt, now);
      return true;
    });
  }

  /**
   * Ends the session under `id` for good, kept as ended until `retainUntil` (nothing in flight can revive it,
   * not even a create of this ID). Returns whether a live session was ended and the ID it moves or moved to.
   */
  async destroy(
    id: string,
    retainUntil: number,
    now: number,
    op: string,
  ): Promise<{ ended: boolean; movedTo: string | null }> {
    this.#createTables();
    const result = this.#transaction(id, op, (row) => {
      const until = Math.max(retainUntil, row?.expires_at ?? 0);
      this.#write(id, null, 'ended', null, (row?.version ?? 0) + 1, until, now);
      return { ended: isLive(row, now), movedTo: row?.forward ?? null };
    });
    await this.#scheduleBy(deadline(retainUntil, now));
    return result;
  }

  /** Deletes what has expired by the object's clock and re-arms for the next deadline. Safe to run twice. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null; // a running alarm is no longer scheduled
    if (!this.#hasTables()) return;
    this.#exec('DELETE FROM sessions WHERE deadline <= ?', Date.now());
    this.#exec('DELETE FROM operations WHERE at <= ?', Date.now() - OPERATION_MEMORY_MS);
    // Every row has a deadline: none left means no sessions left.
    const next = this.#exec('SELECT MIN(deadline) AS next FROM sessions')[0]?.next;
    if (typeof next === 'number') {
      await this.#scheduleBy(next);
    } else {
      // An object without sessions keeps nothing: no tables, no alarm (it is billed for what it stores).
      await this.#storage.deleteAlarm();
      await this.#storage.deleteAll();
      this.#alarmAt = null;
      this.#ready = false;
    }
  }

  /**
   * `run` on the row of `id` (undefined when there is none) in one transaction, once per operation ID: a retry
   * gets the answer the first attempt stored.
   */
  #transaction<T>(id: string, op: string, run: (row: Row | undefined) => T): T {
    return this.#storage.transactionSync(() => {
      const known = this.#exec('SELECT * FROM operations WHERE op = ?', op)[0];
      if (known !== undefined) return JSON.parse(known.answer as string) as T;
      const answer = run(this.#row(id));
      // op, answer, at: the table's columns.
      this.#exec('INSERT INTO operations VALUES (?, ?, ?)', op, JSON.stringify(answer), Date.now());
      return answer;
    });
  }

  #merge(
    id: string,
    row: Row,
    changes: SessionChanges,
    times: SessionTimes,
    state: State,
    now: number,
    forward: string | null = row.forward,
  ): SessionRecord | Refusal {
    let merged: SessionRecord;
    let value: string;
    try {
      merged = mergeChanges(JSON.parse(row.value!) as SessionRecord, changes, times);
      value = JSON.stringify(merged);
      checkSize(id, value);
    } catch (error) {
      // The merge's verdict (TYPE_MISMATCH, STORE_READ) or the size limit, handed back with its code.
      if (error instanceof SessionError) return { refused: { code: error.code, message: error.message } };
      throw error;
    }
    this.#write(id, value, state, forward, row.version + 1, times.expiresAt, now);
    return merged;
  }

  #write(
    id: string,
    value: string | null,
    state: State,
    forward: string | null,
    version: number,
    expiresAt: number,
    now: number,
  ): void {
    // Every column, in the table's order: key, value, state, forward, version, expires_at, deadline, since.
    this.#exec(
      'INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      value,
      state,
      forward,
      version,
      expiresAt,
      deadline(expiresAt, now),
      Date.now(),
    );
  }

  #exec(query: string, ...bindings: unknown[]): Record<string, unknown>[] {
    return this.#storage.sql.exec(query, ...bindings).toArray();
  }

  /** Only writes make the tables: a read of a session this object does not hold leaves it empty (and unbilled). */
  #createTables(): void {
    if (this.#ready) return;
    this.#exec(
      'CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT, state TEXT NOT NULL, forward TEXT, ' +
        'version INTEGER NOT NULL, expires_at INTEGER NOT NULL, deadline INTEGER NOT NULL, since INTEGER NOT NULL)',
    );
    this.#exec(
      'CREATE TABLE IF NOT EXISTS operations (op TEXT PRIMARY KEY, answer TEXT NOT NULL, at INTEGER NOT NULL)',
    );
    this.#ready = true;
  }

  #hasTables(): boolean {
    return (this.#ready ||= this.#exec("SELECT * FROM sqlite_master WHERE name = 'operations'").length > 0);
  }

  #row(id: string): Row | undefined {
    return this.#exec('SELECT * FROM sessions WHERE key = ?', id)[0] as Row | undefined;
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
}

/** `expiresAt` on the caller's clock (`now`), on the object's own clock. */
function deadline(expiresAt: number, now: number): number {
  return Date.now() + (expiresAt - now);
}

/** A row has a record that has not expired by the caller's clock. */
function isLive(row: Row | undefined, now: number): row is Row {
  return row !== undefined && row.value !== null && row.expires_at > now;
}

/**
 * `STORE_LIMIT` for key and value together over what one row holds (counted in full only when the length leaves
 * it open): the store refuses such a record before any call, the object a merge that would grow past it.
 */
function checkSize(key: string, value: string): void {
  if (exceedsBytes(value, MAX_DURABLE_OBJECT_VALUE_BYTES - byteLength(key))) {
    const bytes = byteLength(value) + byteLength(key);
    throw new SessionError(
      'STORE_LIMIT',
      `durable-object store: a session of ${bytes} bytes exceeds the 2 MB a Durable Object row holds`,
    );
  }
}

// ------------------------------------------------------------------------------------------ the store

/** What the store needs of a stub of `SessionDurableObject` (RPC). */
export interface SessionObjectStub {
  /** `SessionDurableObject.get`. */
  get(id: string): Promise<SessionRecord | null>;
  /** `SessionDurableObject.create`. */
  create(id: string, record: SessionRecord, now: number, op: string): Promise<'created' | 'taken' | 'ended'>;
  /** `SessionDurableObject.update`. */
  update(
    id: string,
    changes: SessionChanges,
    times: SessionTimes,
    now: number,
    op: string,
  ): Promise<SessionRecord | null | Refusal>;
  /** `SessionDurableObject.moveOut`. */
  moveOut(
    id: string,
    newId: string,
    changes: SessionChanges,
    times: SessionTimes,
    now: number,
    op: string,
  ): Promise<MoveStart | null | Refusal>;
  /** `SessionDurableObject.finishMove`. */
  finishMove(id: string, newId: string, version: number, now: number, op: string): Promise<MoveEnd>;
  /** `SessionDurableObject.adopt`. */
  adopt(id: string, record: SessionRecord, now: number, op: string): Promise<boolean>;
  /** `SessionDurableObject.destroy`. */
  destroy(
    id: string,
    retainUntil: number,
    now: number,
    op: string,
  ): Promise<{ ended: boolean; movedTo: string | null }>;
}

/** The object's methods that change a session: each takes the session ID first and `now, op` last. */
type Mutation = Exclude<keyof SessionObjectStub, 'get'>;

/** What mutation `M` takes between the session ID and `now, op`. */
type MutationArgs<M extends Mutation> =
  Parameters<SessionObjectStub[M]> extends [string, ...infer Args, number, string] ? Args : never;

/** What mutation `M` answers, a refusal aside (the store throws it). */
type MutationAnswer<M extends Mutation> = Exclude<Awaited<ReturnType<SessionObjectStub[M]>>, Refusal>;

/** What the store needs of a `DurableObjectNamespace<SessionDurableObject>` binding. */
export interface SessionObjectNamespace {
  /** The object ID for a session ID. */
  idFromName(name: string): { toString(): string };
  /** A stub of that object. */
  get(id: { toString(): string }): SessionObjectStub;
}

/** Options of `createDurableObjectStore`. */
export interface DurableObjectStoreOptions {
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Hops a destroy follows from an ID to the one it moved to (each regenerate adds one while its forward lives). */
const MAX_FORWARDS = 16;

/**
 * Sessions in Durable Objects, one object per session ID (`idFromName(sessionId)`). Why not a fixed set of shard
 * objects: a shard serves all its sessions from one place and one thread (a soft limit near 1,000 requests a
 * second per object), and its count could never change without remapping every session; one object per
 * session is created near its user and costs a few milliseconds once, at the session's first write.
 *
 * Exact: every lifecycle operation is a transaction inside the session's object. A destroyed session is refused
 * everywhere as soon as `destroy` returns, and nothing in flight revives it; concurrent requests that change
 * different keys, or increment one counter, all keep their changes. A regenerate moves the session in three
 * calls (mark the old ID `moving`, create the new ID, turn the old ID into a forward), and a destroy of the old
 * ID at any point of it ends the session under the new ID too.
 *
 * Operations: a read 1 call; `create`, `update` (a change or a touch), `destroy` 1 call each (a destroy one more
 * per ID the session moved to); `regenerate` 3 calls (4 when another request changed the session during the
 * move). There is no `count()` or `clear()`: no object knows the others, so `sessions.count()` and
 * `sessions.destroyAll()` reject with `STORE_UNSUPPORTED`. To end every session at once, rotate `secrets`.
 *
 * A call whose stub fails with a retryable error (`error.retryable`, such as "Network connection lost") is
 * retried once on a fresh stub with the same operation ID, so the object never applies it twice; an overloaded
 * object (`error.overloaded`) is not retried, as Cloudflare advises. Stubs are made per call because a stub
 * cannot be used across requests. Sessions over 2 MB reject with `STORE_LIMIT`.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createDurableObjectStore } from 'edge-sessions/durable-object'
 * export { SessionDurableObject } from 'edge-sessions/durable-object'
 *
 * export default {
 *   async fetch(request: Request, env: Env) {
 *     const store = createDurableObjectStore(env.SESSIONS_DO)
 *     const sessions = createSessions({ store, secrets: [env.SESSION_SECRET] })
 *     return sessions.handle(async (req, session) => new Response(`visit ${session.increment('visits')}`))(request)
 *   },
 * } satisfies ExportedHandler<Env>
 */
export function createDurableObjectStore(
  namespace: SessionObjectNamespace,
  options: DurableObjectStoreOptions = {},
): SessionStore {
  refuseUnknownOptions('createDurableObjectStore', options, OPTION_NAMES);
  const now = options.now ?? Date.now;

  /**
   * `send` to the object of `id`, on a fresh stub: a call that fails retryably is sent once more on another, and a
   * refusal becomes the `SessionError` it stands for.
   */
  async function call<T>(id: string, send: (stub: SessionObjectStub) => Promise<T | Refusal>): Promise<T> {
    let answer: T | Refusal;
    try {
      answer = await send(namespace.get(namespace.idFromName(id)));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      answer = await send(namespace.get(namespace.idFromName(id)));
    }
    const refused = (answer as Partial<Refusal> | null)?.refused;
    if (refused !== undefined) throw new SessionError(refused.code, refused.message);
    return answer as T;
  }

  /**
   * `method(id, ...args, now(), op)` on the object of `id`, with an operation ID of its own: the same for both
   * attempts, so a retry after a lost connection is not applied twice.
   */
  function mutate<M extends Mutation>(method: M, id: string, ...args: MutationArgs<M>): Promise<MutationAnswer<M>> {
    const op = randomId();
    return call(id, (stub) =>
      (stub[method] as (...all: unknown[]) => Promise<MutationAnswer<M> | Refusal>)(id, ...args, now(), op),
    );
  }

  async function destroy(id: string, retainUntil: number): Promise<boolean> {
    let ended = false;
    for (let hop = 0, next: string | null = id; next !== null && hop < MAX_FORWARDS; hop++) {
      const result: MutationAnswer<'destroy'> = await mutate('destroy', next, retainUntil);
      ended ||= result.ended;
      next = result.movedTo;
    }
    return ended;
  }

  return {
    name: 'durable-object',
    get: (id) => call(id, (stub) => stub.get(id)),
    async create(id, record) {
      checkSize(id, JSON.stringify(record));
      return (await mutate('create', id, record)) === 'created';
    },
    update: (id, changes, times) => mutate('update', id, changes, times),
    async regenerate(id, newId, changes, times) {
      const start = await mutate('moveOut', id, newId, changes, times);
      if (start === null) return null;
      const created = await mutate('create', newId, start.record);
      if (created === 'taken') throw new SessionError('STORE_WRITE', 'durable-object store: the new ID is taken');
      // `ended`: a destroy of the old ID reached the new one first (the old one is ended too).
      if (created === 'ended') return null;
      const end = await mutate('finishMove', id, newId, start.version);
      if (!end.done) {
        // A destroy of the old ID landed during the move: it ends the session under its new ID too.
        await destroy(newId, times.expiresAt);
        return null;
      }
      if (end.record === undefined) return start.record;
      return (await mutate('adopt', newId, end.record)) ? end.record : null;
    },
    destroy,
  };
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof DurableObjectStoreOptions>(['now']);

/** Cloudflare: retry `retryable` errors on a new stub, never `overloaded` ones. */
function isRetryable(error: unknown): boolean {
  const e = error as { retryable?: unknown; overloaded?: unknown } | null;
  return typeof e === 'object' && e !== null && e.retryable === true && e.overloaded !== true;
}
