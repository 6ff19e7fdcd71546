import { DurableObject } from 'cloudflare:workers';
import { MESSAGE_PREFIX, SessionError, type SessionErrorCode } from './errors.js';
import { randomId } from './lib/random.js';
import { lineageOf, sameSession } from './lib/ids.js';
import { byteLength, exceedsBytes } from './lib/encoding.js';
import { mergeChanges } from './lib/merge.js';
import { clockOption, refuseUnknownOptions, requireMethods } from './lib/option-names.js';
import { parseRecord } from './lib/records.js';
import type { SessionChanges, SessionRecord, SessionStore, SessionTimes, UserSession } from './lib/store-contract.js';

/** SQLite-backed Durable Objects keep at most 2 MB in one string or row (we count the key with the value). */
export const MAX_DURABLE_OBJECT_VALUE_BYTES = 2_000_000;

// ------------------------------------------------------------------------------------------ the object

/** Alarms refuse far-future dates (after 2189); a record that lives longer is re-checked at this interval. */
const MAX_ALARM_AHEAD_MS = 31_536_000_000; // 365 days
/** How long the object remembers an operation's answer, so that a retry is answered instead of applied twice. */
const OPERATION_MEMORY_MS = 10 * 60_000;
/**
 * A move that has not finished in this time was abandoned (its request died): the session may move again. Counted
 * from the move's first step: a commit to the session while it moves does not restart it. A move cut short by a
 * failed call does not wait for it: the store cancels the move (`cancel`) before it rejects.
 */
const MOVE_TIMEOUT_MS = 60_000;
/** The last instant a `Date` holds: the expiry of a user's index entry, which only the store removes. */
const NEVER = 8.64e15;
/** The key of the row that remembers operation `op`'s answer (no session ID holds a ':'). */
const opKey = (op: string) => `op:${op}`;

/** What the object needs of its `DurableObjectState`: SQLite storage and alarms. */
interface SessionObjectState {
  readonly storage: {
    readonly sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[] } };
    transactionSync<T>(closure: () => T): T;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
    deleteAll(): Promise<void>;
  };
}

/**
 * What a row of the object's one table is. A session's states: `live`; `moving` while a regenerate copies it to
 * its new ID (still usable, changes still accepted); `ended` by a destroy, or once the new ID holds it. An ended
 * row holds no record and keeps its forward to the new ID, if any: it is kept until its deadline so nothing in
 * flight revives the session, and a destroy of the old ID meanwhile still ends it under the new one. `user`: in
 * a user's object, the user's index (the key is the object's name, the value the list of session IDs). `op`: an
 * operation's answer (the key is `op:` + its ID, the value the answer), kept ten minutes.
 */
type State = 'live' | 'moving' | 'ended' | 'user' | 'op';

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
  /** `[code, message]` of the `SessionError` the store throws for it (RPC hands a tuple over as an array). */
  readonly refused: readonly string[];
}

/**
 * `update`'s answer: the record as stored and its version. For a regenerate's first step: the record as the new ID
 * takes it, and the version the move compares at its last step.
 */
export interface Updated {
  /** The record as stored (as moved, for a regenerate's first step). */
  readonly record: SessionRecord;
  /** Its version: a later one when the move ends means another request changed it during the move. */
  readonly version: number;
}

/**
 * A regenerate's last step, the destroy of the old ID: what it moved at (`version`), and the request's `changes`
 * and `times`, to merge again into the record if another request changed it during the move. An object of an
 * older version (a deploy under way) takes it for a version that never matches: it answers its record as it is,
 * which its own first step stored with the changes, and the new ID takes that (one more call, nothing lost).
 */
export interface Move {
  /** The old ID's version when the move began (`Updated.version`). */
  readonly version: number;
  /** The request's changes, never stored under the old ID. */
  readonly changes: SessionChanges;
  /** The times of the request's write. */
  readonly times: SessionTimes;
}

/** `destroy`'s answer. */
export interface Ended {
  /** A live session was ended. */
  readonly ended: boolean;
  /** The ID the session moves or moved to, if any: the store ends it too. */
  readonly movedTo: string | null;
  /** The record, when a regenerate's last step finds that another request changed it during the move. */
  readonly record?: SessionRecord | undefined;
}

/**
 * The Durable Object behind `createDurableObjectStore`: one object per session ID, holding its record in SQLite,
 * and one per user with sessions created for a `userId` (named `user:` + the user ID), holding the user's index.
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
  get #storage(): SessionObjectState['storage'] {
    return (this.ctx as SessionObjectState).storage;
  }

  /**
   * The record under `id` while it is live or moving, or null. One that expired by the caller's clock but the
   * alarm has not deleted yet is returned as it is: the manager checks expiry and reports it as `expired`.
   */
  get(id: string): SessionRecord | null {
    const value = this.#hasTable() && this.#row(id)?.value;
    return value ? parseRecord(value) : null;
  }

  /**
   * Stores a new session: `created`, or why not (`taken` by a live one, `ended` by a destroy or a move). With
   * `replace`, replaces the live record instead (after a move that other requests changed meanwhile): `created`
   * when it did, else `ended` or `taken` (by a move).
   */
  async create(
    id: string,
    record: SessionRecord,
    replace: boolean,
    now: number,
    op: string,
  ): Promise<'created' | 'taken' | 'ended'> {
    return this.#change(id, op, record.expiresAt, now, (row) => {
      if (replace ? row?.state !== 'live' : row !== undefined) return row?.value == null ? 'ended' : 'taken';
      this.#write(id, JSON.stringify(record), 'live', null, row ? row.version + 1 : 0, record.expiresAt, now);
      return 'created';
    });
  }

  /**
   * Merges `changes` into the live (or moving) record; null when there is none. With `newId`, the first step of
   * a regenerate: the record is then `moving` towards `newId`, and null also while another regenerate moves it
   * (unless that move was abandoned). The move stores nothing of `changes` here: it answers the record merged,
   * for the new ID to take, and leaves the stored one as it was, so that a move cut short (`cancel`) leaves the
   * session as it was before the request. Refused (`STORE_WRITE`, nothing merged) when a move towards `newId` was
   * cancelled: that ID is ended, and this is the same move tried again. Refused too, nothing written, when the
   * merge is (`TYPE_MISMATCH`, `STORE_READ`) or its result is over 2 MB (`STORE_LIMIT`).
   */
  async update(
    id: string,
    changes: SessionChanges,
    times: SessionTimes,
    newId: string | null,
    now: number,
    op: string,
  ): Promise<Updated | null | Refusal> {
    // A session this object does not hold: no table made (and billed) for it.
    if (!this.#hasTable()) return null;
    return this.#change(id, op, times.expiresAt, now, (row) => {
      if (!isLive(row, now)) return null;
      if (newId && row.state === 'moving' && Date.now() - row.since < MOVE_TIMEOUT_MS) return null;
      if (newId && row.state === 'live' && row.forward === newId) {
        throw new SessionError('STORE_WRITE', 'regenerate: the new ID was ended when an earlier attempt failed');
      }
      const [record, value] = merged(id, row, changes, times);
      const version = row.version + 1;
      if (newId) {
        // Marked moving, its record as it was. Live at least until the request's expiry: a move begun while the
        // session lived ends even if its old expiry passes meanwhile.
        this.#write(id, row.value, 'moving', newId, version, Math.max(row.expires_at, times.expiresAt), now);
      } else {
        // A move's window runs from its first step: a commit while it moves keeps it (a new move starts its own).
        const since = row.state === 'moving' ? row.since : Date.now();
        this.#write(id, value, row.state, row.forward, version, times.expiresAt, now, since);
      }
      return { record, version };
    }).catch(refusal);
  }

  /**
   * Ends the session under `id` for good, kept as ended until `retainUntil` (nothing in flight can revive it,
   * not even a create of this ID), with the forward to the ID it moves or moved to. A regenerate's last step,
   * once the new ID holds the session, is a destroy of the old ID with its `move`: if another request changed the
   * record during the move, the answer has it with the move's changes merged (the new ID must take that), and a
   * verdict on that merge (as `update`'s) is refused before anything is written, so the old ID stays the
   * session's. A bare version is from a Worker of an older version (a deploy under way), whose first step expected
   * its changes stored here: with a change meanwhile, the record as it is lacks them and they are not here to
   * merge, so it is refused (`STORE_WRITE`) and that Worker undoes its move.
   */
  async destroy(
    id: string,
    retainUntil: number,
    move: Move | number | null,
    now: number,
    op: string,
  ): Promise<Ended | Refusal> {
    return this.#change(id, op, retainUntil, now, (row): Ended => {
      const movedTo = row?.forward ?? null;
      const ended = isLive(row, now);
      let record: SessionRecord | undefined;
      if (ended && move !== null && (typeof move === 'number' ? move : move.version) !== row.version) {
        if (typeof move === 'number') throw new SessionError('STORE_WRITE', 'regenerate: changed during the move');
        record = merged(id, row, move.changes, move.times)[0];
      }
      this.#write(id, null, 'ended', movedTo, 0, Math.max(retainUntil, row?.expires_at ?? 0), now);
      return { ended, movedTo, record };
    }).catch(refusal);
  }

  /**
   * Cancels a regenerate cut short after its first step: the row of `id`, if it still moves towards `newId`, is
   * live again, with its record as it is: the commits made during the move kept, none of the move's own changes
   * (its first step stored none). With `keep` (the store has ended `newId`) it keeps its forward to `newId`: a
   * destroy follows it harmlessly, and a mark towards `newId` again (the same move tried again) is refused.
   * Without (`newId` is another session's) it has none. True when it did. A row that no longer moves towards
   * `newId` stays as it is: ended by a destroy (which stands), or marked by another regenerate since (whose move
   * stands). `expiresAt` is the move's, as its first step gave it (the alarm is set by then).
   */
  async cancel(id: string, newId: string, keep: boolean, expiresAt: number, now: number, op: string): Promise<boolean> {
    if (!this.#hasTable()) return false;
    return this.#change(id, op, expiresAt, now, (row) => {
      if (row?.state !== 'moving' || row.forward !== newId) return false;
      this.#write(id, row.value, 'live', keep ? newId : null, row.version, row.expires_at, now);
      return true;
    });
  }

  /**
   * In a user's object (`name` is `user:` + the user ID; no session ID holds a ':', so no session's object is
   * one): adds the session IDs `ids` to the user's index, or with `add` false removes them, and returns the IDs
   * listed. The index is the object's one row, under `name`, whose value is the list (`get(name)` reads it). It
   * has no expiry while it lists any ID: the store drops the IDs of ended sessions. Emptied, it expires at once
   * and the alarm, ten minutes on (to forget the operation ID), frees the object.
   */
  async index(name: string, ids: string[], add: boolean, now: number, op: string): Promise<string[]> {
    return this.#change(name, op, now + OPERATION_MEMORY_MS, now, (row) => {
      const listed = new Set<string>(JSON.parse(row?.value ?? '[]'));
      for (const id of ids) add ? listed.add(id) : listed.delete(id);
      this.#write(name, JSON.stringify([...listed]), 'user', null, 0, listed.size ? NEVER : now, now);
      return [...listed];
    });
  }

  /**
   * Deletes what has expired by the object's clock and re-arms for the next deadline of a session or index
   * entry (operations are forgotten on the way, or with the rest). Safe to run twice.
   */
  override async alarm(): Promise<void> {
    if (!this.#hasTable()) return;
    this.#exec('DELETE FROM sessions WHERE deadline <= ?', Date.now());
    const next = this.#exec("SELECT MIN(deadline) AS next FROM sessions WHERE state != 'op'")[0]!.next as number | null;
    if (next) {
      await this.#scheduleBy(next, Date.now());
    } else {
      // An object without sessions keeps nothing: no table, no alarm (it is billed for what it stores; the alarm
      // that is running is gone when it returns).
      await this.#storage.deleteAll();
    }
  }

  /**
   * `run` on the row of `id` (undefined when there is none) in one transaction, once per operation ID: a retry
   * gets the answer the first attempt stored. If `run` throws, nothing it wrote stays. Then makes sure the alarm
   * fires by `expiresAt` (on the caller's clock, `now`).
   *
   * Only writes make the table: a read of a session this object does not hold leaves it empty (and unbilled).
   * Columns need no types in SQLite: `#write` fills every one (only `value` and `forward` may be null); times are
   * integers (epoch ms), `version` counts the record's writes, `since` is when the row was written (for a moving
   * row: when its move began).
   */
  async #change<T>(
    id: string,
    op: string,
    expiresAt: number,
    now: number,
    run: (row: Row | undefined) => T,
  ): Promise<T> {
    this.#exec(
      'CREATE TABLE IF NOT EXISTS sessions ' +
        '(key PRIMARY KEY, value, state, forward, version, expires_at, deadline, since)',
    );
    const answer = this.#storage.transactionSync(() => {
      const known = this.#row(opKey(op));
      if (known) return JSON.parse(known.value!) as T;
      const answer = run(this.#row(id));
      this.#write(opKey(op), JSON.stringify(answer), 'op', null, 0, now + OPERATION_MEMORY_MS, now);
      return answer;
    });
    await this.#scheduleBy(expiresAt, now);
    return answer;
  }

  #write(
    id: string,
    value: string | null,
    state: State,
    forward: string | null,
    version: number,
    expiresAt: number,
    now: number,
    since = Date.now(),
  ): void {
    // Every column, in the table's order: key, value, state, forward, version, expires_at, deadline, since.
    this.#exec(
      'REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      value,
      state,
      forward,
      version,
      expiresAt,
      deadline(expiresAt, now),
      since,
    );
  }

  #exec(query: string, ...bindings: unknown[]): Record<string, unknown>[] {
    return this.#storage.sql.exec(query, ...bindings).toArray();
  }

  #hasTable(): boolean {
    return this.#exec("SELECT * FROM sqlite_master WHERE name = 'sessions'").length > 0;
  }

  #row(id: string): Row | undefined {
    return this.#exec('SELECT * FROM sessions WHERE key = ?', id)[0] as Row | undefined;
  }

  /**
   * Makes sure the alarm fires no later than `expiresAt` (on the caller's clock, `now`; capped at a year ahead,
   * after which the alarm re-arms).
   */
  async #scheduleBy(expiresAt: number, now: number): Promise<void> {
    const at = Math.min(deadline(expiresAt, now), Date.now() + MAX_ALARM_AHEAD_MS);
    const alarm = await this.#storage.getAlarm();
    if (alarm === null || alarm > at) await this.#storage.setAlarm(at);
  }
}

/** `expiresAt` on the caller's clock (`now`), on the object's own clock. */
function deadline(expiresAt: number, now: number): number {
  return Date.now() + (expiresAt - now);
}

/**
 * `changes` merged into the record of `row` (stored under `key`), and its JSON: throws the merge's verdict or
 * `STORE_LIMIT` when it is over what one row holds.
 */
function merged(key: string, row: Row, changes: SessionChanges, times: SessionTimes): [SessionRecord, string] {
  const record = mergeChanges(JSON.parse(row.value!) as SessionRecord, changes, times);
  const value = JSON.stringify(record);
  checkSize(key, value);
  return [record, value];
}

/**
 * A `SessionError` thrown in a transaction (which then wrote nothing) as an answer: its code does not survive RPC,
 * and the store throws it again. Any other error is thrown on.
 */
function refusal(error: unknown): Refusal {
  // The message without its `edge-sessions: ` prefix: the store's SessionError adds it again.
  if (error instanceof SessionError) return { refused: [error.code, error.message.slice(MESSAGE_PREFIX.length)] };
  throw error;
}

/** A row has a record that has not expired by the caller's clock. */
function isLive(row: Row | undefined, now: number): row is Row {
  return row?.value != null && row.expires_at > now;
}

/**
 * `STORE_LIMIT` for key and value together over what one row holds (counted in full only when the length leaves
 * it open): the store refuses such a record before any call, the object a merge that would grow past it.
 */
function checkSize(key: string, value: string): void {
  if (exceedsBytes(value, MAX_DURABLE_OBJECT_VALUE_BYTES - byteLength(key))) {
    const bytes = byteLength(value) + byteLength(key);
    throw new SessionError('STORE_LIMIT', `durable-object store: a session of ${bytes} bytes is over 2 MB`);
  }
}

// ------------------------------------------------------------------------------------------ the store

/** What the store needs of a stub of `SessionDurableObject` (RPC). */
export interface SessionObjectStub {
  /** `SessionDurableObject.get`. */
  get(id: string): Promise<SessionRecord | null>;
  /** `SessionDurableObject.create`. */
  create(
    id: string,
    record: SessionRecord,
    replace: boolean,
    now: number,
    op: string,
  ): Promise<'created' | 'taken' | 'ended'>;
  /** `SessionDurableObject.update`. */
  update(
    id: string,
    changes: SessionChanges,
    times: SessionTimes,
    newId: string | null,
    now: number,
    op: string,
  ): Promise<Updated | null | Refusal>;
  /** `SessionDurableObject.destroy`. */
  destroy(id: string, retainUntil: number, move: Move | null, now: number, op: string): Promise<Ended | Refusal>;
  /** `SessionDurableObject.cancel`. */
  cancel(id: string, newId: string, keep: boolean, expiresAt: number, now: number, op: string): Promise<boolean>;
  /** `SessionDurableObject.index`. */
  index(name: string, ids: string[], add: boolean, now: number, op: string): Promise<string[]>;
}

/** The object's methods: each takes the object's name first; those that write take `now, op` last. */
type Method = keyof SessionObjectStub;

/** What method `M` takes between the object's name and `now, op` (nothing, for a read). */
type Args<M extends Method> =
  Parameters<SessionObjectStub[M]> extends [string, ...infer Rest, number, string] ? Rest : [];

/** What method `M` answers, a refusal aside (the store throws it). */
type Answer<M extends Method> = Exclude<Awaited<ReturnType<SessionObjectStub[M]>>, Refusal>;

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

/** The store `createDurableObjectStore` returns: a `SessionStore` with an exact per-user index. */
export interface DurableObjectStore extends SessionStore {
  /** The live sessions of `userId`, from the user's object (pruning the entries of ended sessions). */
  listByUser(userId: string): Promise<UserSession[]>;
  /**
   * Ends every live session of `userId` but that of `except` (by lineage), each as `destroy` ends one; resolves
   * the IDs ended.
   */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
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
 * calls (an update that marks the old ID `moving` towards the new one, the create of the new ID, a destroy of the
 * old ID, which keeps its forward), and a destroy of the old ID at any point of it ends the session under the new
 * ID too. The request's changes are stored under the new ID only: the first call answers the record with them
 * merged but leaves the old one as it was, and if another request commits during the move, the destroy merges them
 * again into the record as it then is, for the new ID to take (a fourth call). So a move cut short by a failed call
 * leaves the session as it was before the request, other requests' commits kept: it ends the new ID (its create
 * may have landed unseen) and turns the old ID live again before it rejects, and the next regenerate can move it.
 * If the end of the new ID fails too after its create landed, that copy lives on, named by no cookie, until its
 * expiry: a destroy of the old ID still ends it (by the forward, until another regenerate moves the session), and
 * `listByUser` lists it if its index entry landed (`destroyByUser` ends it).
 *
 * Per user, exact: a session created with a `userId` is entered in the user's object (`user:` + the user ID) as
 * soon as its own object holds it, before its cookie is sent, and a regenerate enters the new ID before it ends
 * the old one (for that moment the session is listed under both). `destroyByUser` ends each listed ID with
 * `destroy`, which follows forwards, so a regenerate in flight ends under its new ID too; a login whose ID was
 * entered too late to be listed is listed afterwards (until it is, nobody holds its cookie). An entry whose
 * session is gone is gone for good, so `listByUser`, which reads every listed session's record from its object,
 * drops it, as `destroyByUser` drops the IDs it ends. Reads, writes and logouts never call the user's object.
 *
 * Operations: a read 1 call; `create`, `update` (a change or a touch), `destroy` 1 call each (a destroy one more
 * per ID the session moved to); `regenerate` 3 calls (4 when another request changed the session during the
 * move; 2 more to undo a move cut short by a failed call); a login (`create` with a `userId`) and a regenerate
 * of a user's session 1 more; `listByUser` 1 call plus 1 per listed session (and 1 to prune), `destroyByUser` 2
 * plus 1 per listed session. There is no `count()` or `clear()`: no object knows the others, so
 * `sessions.count()` and `sessions.destroyAll()` reject with `STORE_UNSUPPORTED`. To end every session at once,
 * rotate `secrets`.
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
): DurableObjectStore {
  refuseUnknownOptions('createDurableObjectStore', options, OPTION_NAMES);
  requireMethods('createDurableObjectStore', 'the Durable Object namespace', namespace, ['idFromName', 'get']);
  const now = clockOption('createDurableObjectStore', options.now);

  /**
   * `method(id, ...args, now(), op)` on the object of `id` (a read ignores `now` and `op`), on a fresh stub: a
   * call that fails retryably is sent once more on another, with the same operation ID, so that the object does
   * not apply it twice. Cloudflare: retry `retryable` errors on a new stub, never `overloaded` ones. A refusal
   * becomes the `SessionError` it stands for.
   */
  async function send<M extends Method>(method: M, id: string, ...args: Args<M>): Promise<Answer<M>> {
    const op = randomId();
    const attempt = () =>
      (namespace.get(namespace.idFromName(id))[method] as (...all: unknown[]) => Promise<Answer<M> | Refusal>)(
        id,
        ...args,
        now(),
        op,
      );
    const answer = await attempt().catch((error: { retryable?: unknown; overloaded?: unknown } | null) => {
      if (error?.retryable !== true || error.overloaded === true) throw error;
      return attempt();
    });
    const refused = (answer as Partial<Refusal> | null)?.refused;
    if (refused) throw new SessionError(...(refused as [SessionErrorCode, string]));
    return answer as Answer<M>;
  }

  /**
   * Ends `id` and every ID it moved to: the ID the session was live under, or null. The first live hop: a
   * regenerate cut short leaves the old row live (or moving, until the move's timeout) with a forward to an ID
   * that never held the session or was ended when the move failed, and that ID must not be named in the
   * `destroyed` event.
   */
  async function end(id: string, retainUntil: number): Promise<string | null> {
    let live: string | null = null;
    for (let hop = 0, next: string | null = id; next !== null && hop < MAX_FORWARDS; hop++) {
      const result: Ended = await send('destroy', next, retainUntil, null);
      if (result.ended) live ??= next;
      next = result.movedTo;
    }
    return live;
  }

  /**
   * A regenerate cut short after its first step (`id` marked moving towards `newId`), before it rejects: ends
   * `newId` first, so that no second live copy stays or lands there (its create may have landed with the answer
   * lost, or still be on its way: a late create of an ended ID is refused), then turns `id` live again if it still
   * moves towards `newId` (`cancel`), so the next regenerate need not wait out MOVE_TIMEOUT_MS. Best effort: if
   * either call fails, `id` stays moving until that timeout frees it; if the end of `newId` fails after its create
   * landed, that copy stays until it expires (no cookie names it; the forward of `id` leads to it until the next
   * regenerate marks `id` towards another ID).
   */
  async function abandon(id: string, newId: string, expiresAt: number): Promise<void> {
    try {
      await send('destroy', newId, expiresAt, null);
      await send('cancel', id, newId, true, expiresAt);
    } catch {
      // The move's timeout frees the old ID.
    }
  }

  const get = (id: string) => send('get', id);

  /** Adds `ids` to the index of `userId` (the object `user:` + `userId`), or removes them; resolves its IDs. */
  const index = (userId: string, ids: string[], add = false) => send('index', `user:${userId}`, ids, add);

  /** Enters `id` in its user's index, once its object holds it (an anonymous session has no user). */
  async function enter(id: string, record: SessionRecord): Promise<void> {
    if (record.userId !== undefined) await index(record.userId, [id], true);
  }

  /**
   * `visit` on every ID in the index of `userId`, in parallel; then removes the IDs it answered null for from the
   * index and resolves the other answers, but undefined (an ID that stays indexed without an answer). With
   * `follow`, also visits the IDs the removal's answer lists that were not read before: a regenerate enters its
   * new ID before it ends the old one, so an ID found ended may have moved to one entered since the index was read.
   */
  async function eachOf<T>(
    userId: string,
    visit: (id: string) => Promise<T | null | undefined>,
    follow = false,
  ): Promise<T[]> {
    // The index is its object's one row: a read.
    let ids = ((await get(`user:${userId}`)) as unknown as string[] | null) ?? [];
    const seen = new Set<string>();
    const found: T[] = [];
    for (let round = 0; ids.length > 0 && round < MAX_FORWARDS; round++) {
      for (const id of ids) seen.add(id);
      const answers = await Promise.all(ids.map(visit));
      for (const answer of answers) if (answer != null) found.push(answer);
      const gone = ids.filter((_, i) => answers[i] === null);
      if (!gone.length) break;
      const listed = await index(userId, gone);
      ids = follow ? listed.filter((id) => !seen.has(id)) : [];
    }
    return found;
  }

  return {
    name: 'durable-object',
    get,
    async create(id, record) {
      checkSize(id, JSON.stringify(record));
      if ((await send('create', id, record, false)) !== 'created') return false;
      await enter(id, record);
      return true;
    },
    update: async (id, changes, times) => (await send('update', id, changes, times, null))?.record ?? null,
    async regenerate(id, newId, changes, times) {
      // The old ID is marked moving; the record answered has the request's changes, which the new ID alone stores.
      const start = await send('update', id, changes, times, newId);
      if (start === null) return null;
      let created: Answer<'create'>;
      try {
        created = await send('create', newId, start.record, false);
      } catch (error) {
        await abandon(id, newId, times.expiresAt);
        throw error;
      }
      if (created === 'taken') {
        // Of this session's lineage: its own copy, left live by an earlier attempt of this move that could not end
        // it. It ends, and the old ID keeps its forward (as when a move is cut short).
        if (sameSession(id, newId)) await abandon(id, newId, times.expiresAt);
        // Another session's: none of this one is there to end. The old ID is live again (or at the timeout).
        else await send('cancel', id, newId, false, times.expiresAt).catch(() => false);
        throw new SessionError('STORE_WRITE', 'regenerate: the new ID is taken');
      }
      if (created === 'ended') {
        // A destroy of the old ID reached the new one first (the old one is ended too: null). Or an earlier
        // attempt of this move ended the new ID when it failed but could not cancel its mark, which then timed
        // out: the old ID, live, stays the session's.
        if (await send('cancel', id, newId, true, times.expiresAt)) {
          throw new SessionError('STORE_WRITE', 'regenerate: the new ID was ended when an earlier attempt failed');
        }
        return null;
      }
      try {
        // Listed under its new ID before the old one ends: meanwhile it is listed under the old one.
        await enter(newId, start.record);
        // The old ID ends, forwarding to the new one until the session's expiry. If another request committed during
        // the move, the answer is the record as it now is with this request's changes merged again, which the new
        // ID takes; a verdict on that merge is refused before the old ID ends.
        const moved = await send('destroy', id, times.expiresAt, { version: start.version, changes, times });
        if (!moved.ended) {
          // A destroy of the old ID landed during the move: it ends the session under its new ID too.
          await end(newId, times.expiresAt);
          return null;
        }
        if (!moved.record) return start.record;
        return (await send('create', newId, moved.record, true)) === 'created' ? moved.record : null;
      } catch (error) {
        // No cookie will name the new ID: it ends. If the old ID did not end (its destroy failed before it landed,
        // or was refused), it is live again, as it was before this request.
        await abandon(id, newId, times.expiresAt);
        throw error;
      }
    },
    destroy: async (id, retainUntil) => (await end(id, retainUntil)) ?? false,
    listByUser: (userId) =>
      eachOf(
        userId,
        async (id) => {
          // Null: ended, moved away or deleted by the alarm (an ID is entered only once its object holds it): its
          // entry goes. Expired but not deleted yet: not listed, but its entry stays until the alarm deletes it,
          // since an update sent before it expired (with the time it was made at) may still arrive and extend it.
          const record = await get(id);
          if (record === null) return null;
          return record.expiresAt > now() ? { id, record } : undefined;
        },
        true,
      ),
    async destroyByUser(userId, except, retainUntil) {
      // What each listed ID's end answered, in the index's order (set before the end is awaited).
      const ended = new Map<string, string | null>();
      // Every ID but those of the spared session leaves the index (a stale one of it goes at the next list).
      await eachOf(userId, async (id) => {
        if (except !== undefined && sameSession(id, except)) return id;
        ended.set(id, null);
        ended.set(id, await end(id, retainUntil));
        return null;
      });
      // One ID per session (lineage). While a session moves, the index lists its old ID, then its new one, and
      // both are live: the move this cuts short leaves the session under the old one, which comes first.
      const named = new Map<string, string>();
      for (const live of ended.values())
        if (live !== null && !named.has(lineageOf(live))) named.set(lineageOf(live), live);
      return [...named.values()];
    },
  };
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof DurableObjectStoreOptions>(['now']);
