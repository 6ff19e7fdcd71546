import { commitLines } from './lib/commit.js';
import { maskId } from './lib/ids.js';
import { SessionError } from './errors.js';
import { toBigInt, toNumber } from './lib/numbers.js';
import { describeValue, isObject } from './lib/option-names.js';
import { isAnswered } from './lib/request-sessions.js';
import { drop, replace, type SessionCore } from './lib/session-core.js';
import { toObject } from './lib/value-codec.js';

/**
 * One user's session. Obtain it from `sessions.start(request)`, `sessions.create(request)` or the handler of
 * `sessions.handle()`; changes are kept in memory and written by `commit()` (which `handle()` calls for you).
 *
 * @example
 * const session = await sessions.start(request)
 * session.increment('visits')
 * const headers = await session.commit()   // Set-Cookie entries to append to your Response
 */
export class Session<Data extends Record<string, unknown> = Record<string, unknown>> {
  readonly #s: SessionCore;

  // Private: applications get sessions from `sessions.start()` or `sessions.create()`, and the declarations
  // published for this class name no internal type.
  private constructor(core: SessionCore) {
    this.#s = core;
  }

  /** @internal The manager's way to make a session. */
  static _over<Data extends Record<string, unknown>>(core: SessionCore): Session<Data> {
    return new Session<Data>(core);
  }

  // ------------------------------------------------------------------------------------------ identity and times

  /**
   * The session ID (a new session gets one when first asked or committed). Without the cookie's tag it cannot
   * be turned into a cookie, so admin pages and events may show it; `maskedId` is enough for most logs.
   */
  get id(): string {
    return this.#s.id;
  }

  /** `id` with all but the first and last three characters hidden, for logs. */
  get maskedId(): string {
    return maskId(this.id);
  }

  /** True until the session has been stored. */
  get isNew(): boolean {
    return !this.#s.stored;
  }

  /** Creation time, epoch ms. */
  get createdAt(): number {
    return this.#s.lifetime.createdAt;
  }

  /** Time of this access (this request), epoch ms. */
  get accessedAt(): number {
    return this.#s.accessedAt;
  }

  /** When the session expires as stored, or as the next commit will store it if its lifetime changed; epoch ms. */
  get expiresAt(): number {
    return this.#s.lifetime.expiresAt(this.#s.config.now(), this.#s.stored);
  }

  /** The user this session was created for (`create(request, { userId })`); undefined for an anonymous one. */
  get userId(): string | undefined {
    return this.#s.userId;
  }

  /** Remember-me: `true` (default) sends a cookie with Max-Age; `false` a browser-session cookie. */
  get persistent(): boolean {
    return this.#s.lifetime.persistent;
  }

  set persistent(value: boolean) {
    this.#s.writable();
    // Plain JavaScript: the string 'false' would otherwise keep a persistent cookie.
    if (typeof value !== 'boolean') {
      throw new SessionError('INVALID_OPTION', `persistent must be true or false, got ${describeValue(value)}`);
    }
    this.#s.lifetime.persistent = value;
  }

  /** True after `destroy()`, or when a commit found that another request had ended the session. */
  get destroyed(): boolean {
    return this.#s.destroyed;
  }

  // ------------------------------------------------------------------------------------------ data

  /** The value of `key`, or undefined. Objects come back as fresh copies: to change one, `set` it again. */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined {
    return this.#s.values.get(key) as Data[K] | undefined;
  }

  /**
   * Set a value; `null` or `undefined` deletes. Throws `UNSERIALIZABLE` for values the serializer cannot keep,
   * `IMMUTABLE` for a key set with `setImmutable`.
   */
  set<K extends keyof Data & string>(key: K, value: Data[K] | null | undefined): void {
    this.#s.writable();
    this.#s.values.set(key, value);
  }

  /**
   * Set `key` only if it holds no value (dolab `Value.Add`), and return whether it did. Absent means absent in
   * this request's view: of two overlapping requests that both add, the later commit's value stays.
   */
  add<K extends keyof Data & string>(key: K, value: Data[K]): boolean {
    this.#s.writable();
    return this.#s.values.add(key, value);
  }

  /** Set a value that a later `set` cannot overwrite; `get` returns a copy of it. */
  setImmutable<K extends keyof Data & string>(key: K, value: Data[K]): void {
    this.#s.writable();
    this.#s.values.setImmutable(key, value);
  }

  /** True if `key` was set with `setImmutable`. */
  isImmutable(key: string): boolean {
    return this.#s.values.isImmutable(key);
  }

  /** True if `key` holds a value. */
  has(key: string): boolean {
    return this.#s.values.has(key);
  }

  /** Remove `key` (an immutable key too). */
  delete(key: string): void {
    this.#s.writable();
    this.#s.values.delete(key);
  }

  /** Remove every value (constants and flashes stay). */
  clear(): void {
    this.#s.writable();
    this.#s.values.clear();
  }

  /** The keys that hold values. */
  keys(): string[] {
    return this.#s.values.keys();
  }

  /** A copy of all values. */
  getAll(): Partial<Data> {
    return toObject(this.#s.values.entries()) as Partial<Data>;
  }

  /**
   * Calls `visitor` for each value, in the order `keys()` gives: insertion order, except that after a reload
   * integer-like keys ("2") come first, as in any JavaScript object (records travel as JSON objects).
   */
  visitAll(visitor: (key: string, value: unknown) => void): void {
    for (const [k, v] of this.#s.values.entries()) visitor(k, v);
  }

  /** A constant attribute given to `create()`; read-only for the session's life. */
  constant<T = unknown>(key: string): T | undefined {
    return this.#s.values.constant(key) as T | undefined;
  }

  /**
   * Adds `by` (default 1) to a number (missing counts as 0) and returns the result. Atomic on every server-side
   * store: overlapping increments all count. `TYPE_MISMATCH` if the value is not a number or the result would
   * not be exact (not finite, or past ±`Number.MAX_SAFE_INTEGER`, where `2 ** 53 + 1` is `2 ** 53`: count
   * past it with `getBigInt` and `set`).
   */
  increment(key: keyof Data & string, by = 1): number {
    this.#s.writable();
    return this.#s.values.increment(key, by);
  }

  /** `increment(key, -by)`. */
  decrement(key: keyof Data & string, by = 1): number {
    return this.increment(key, -by);
  }

  // ------------------------------------------------------------------------------------------ typed getters

  /** A string; numbers and booleans are converted. Throws `TYPE_MISMATCH` otherwise; the default form never throws. */
  getString(key: string): string | undefined;
  getString(key: string, defaultValue: string): string;
  getString(key: string, defaultValue?: string): string | undefined {
    return this.#s.values.typed(key, defaultValue, 'a string', asString);
  }

  /**
   * A finite number; strings in decimal notation such as "42", "4.2" or "1.5e3" are parsed as `Number()` parses
   * them, to the nearest number ("0x10" is not a number). One exception: a string that parses to a number of
   * magnitude 2^53 or more (past MAX_SAFE_INTEGER) must be exactly that integer, in any notation, else it is
   * `TYPE_MISMATCH`, not rounded ("9007199254740993", "9007199254740993.0", "9.007199254740993e15", "1e23"):
   * read digit strings with `getBigInt`. `increment` and every store's merge read stored values by the same rule.
   */
  getNumber(key: string): number | undefined;
  getNumber(key: string, defaultValue: number): number;
  getNumber(key: string, defaultValue?: number): number | undefined {
    return this.#s.values.typed(key, defaultValue, 'a number', toNumber);
  }

  /** A safe integer; integer strings such as "42" are parsed. */
  getInt(key: string): number | undefined;
  getInt(key: string, defaultValue: number): number;
  getInt(key: string, defaultValue?: number): number | undefined {
    return this.#s.values.typed(key, defaultValue, 'an integer', (v) => {
      const n = toNumber(v);
      return Number.isSafeInteger(n) ? n : undefined;
    });
  }

  /**
   * An exact integer of any size (kataras `GetInt64`): a bigint (with a serializer that keeps them), a safe
   * integer, a string of digits, or any string `getInt` reads ("1e3", "4.0"). JSON has no 64-bit integers, so
   * store them as decimal strings:
   * `session.set('id', big.toString())`. A number past 2^53 is `TYPE_MISMATCH` (it may have been rounded already),
   * as is, for `getNumber`, a string that stands for an integer past 2^53 that no number equals.
   */
  getBigInt(key: string): bigint | undefined;
  getBigInt(key: string, defaultValue: bigint): bigint;
  getBigInt(key: string, defaultValue?: bigint): bigint | undefined {
    return this.#s.values.typed(key, defaultValue, 'an exact integer', toBigInt);
  }

  /** A boolean; "true"/"false"/"1"/"0" (any case) and 1/0 are parsed. */
  getBoolean(key: string): boolean | undefined;
  getBoolean(key: string, defaultValue: boolean): boolean;
  getBoolean(key: string, defaultValue?: boolean): boolean | undefined {
    return this.#s.values.typed(key, defaultValue, 'a boolean', (v) => {
      if (typeof v === 'boolean') return v;
      const s = typeof v === 'string' ? v.trim().toLowerCase() : typeof v === 'number' ? String(v) : '';
      return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : undefined;
    });
  }

  // ------------------------------------------------------------------------------------------ flash

  /** A value for the next request (and readable in this one). */
  setFlash(key: string, value: unknown): void {
    this.#s.writable();
    this.#s.values.setFlash(key, value);
  }

  /**
   * Appends `value` to the list of flashes under `key` (gorilla `AddFlash`): reading it gives the array, in
   * order. With the JSON serializer, overlapping requests' appends all stay on a store with atomic updates
   * (memory, Durable Objects), and a request that reads the list consumes only the items it saw. After the
   * list was read in this request, this request sees an append start a new list; in the store its items go
   * after those other requests appended meanwhile, which stay. With a custom serializer the whole list is
   * written, so of two overlapping appends the later commit's list stays.
   */
  addFlash(key: string, value: unknown): void {
    this.#s.writable();
    this.#s.values.addFlash(key, value);
  }

  /**
   * Reads and consumes a flash: gone from the next request on, still readable in this one. Only the items read
   * are consumed: items another request appended or stored meanwhile (even the same value again) wait for the
   * next request.
   */
  getFlash<T = unknown>(key: string): T | undefined {
    // Consuming is a change: refused where it would be dropped in silence (see writable()).
    if (this.#s.outcomeUnknown && this.#s.values.hasFlash(key)) this.#s.writable();
    return this.#s.values.getFlash(key) as T | undefined;
  }

  /**
   * `getFlash` as a string (kataras `GetFlashString`): `''` when absent; numbers and booleans are converted.
   * `TYPE_MISMATCH` for another value, which then stays unconsumed.
   */
  getFlashString(key: string): string {
    const text = asString(this.#s.values.peekFlash(key) ?? '');
    if (text === undefined) throw new SessionError('TYPE_MISMATCH', `flash "${key}" is not a string`);
    this.getFlash(key);
    return text;
  }

  /** Reads a flash without consuming it. */
  peekFlash<T = unknown>(key: string): T | undefined {
    return this.#s.values.peekFlash(key) as T | undefined;
  }

  /** True if a flash `key` is there, or without a key any flash (kataras `HasFlash()`), read or not in this request. */
  hasFlash(key?: string): boolean {
    return this.#s.values.hasFlash(key);
  }

  /** The keys of the flashes there, without consuming any. */
  flashKeys(): string[] {
    return this.#s.values.flashKeys();
  }

  /** All flashes, consumed. */
  getFlashes(): Record<string, unknown> {
    // Every key is checked before any is consumed: a refusal (COMMIT_IN_FLIGHT) must not have eaten the others.
    const keys = this.#s.values.flashKeys();
    for (const k of keys) this.#s.values.readableFlash('getFlashes', k);
    return toObject(keys.map((k) => [k, this.getFlash(k)]));
  }

  /** Remove a flash, whatever its value. */
  deleteFlash(key: string): void {
    this.#s.writable();
    this.#s.values.deleteFlash(key);
  }

  /** Remove every flash. */
  clearFlashes(): void {
    this.#s.writable();
    this.#s.values.clearFlashes();
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  /**
   * Give the session a new ID, keeping its data (call it at login and privilege changes: it defeats session
   * fixation). The next `commit()` moves the session in one store transaction, with every change other
   * requests made meanwhile, so the old cookie stops working as soon as the commit returns. A regenerate that
   * races a destroy never revives the session. Refused (`INVALID_ID`) on a session from `getById`: no cookie
   * could carry the new ID to the user, whose own cookie would then find nothing.
   */
  regenerate(): void {
    const s = this.#s;
    s.writable();
    // The write in flight sends the ID it started with: a new one now would be a cookie for an ID never stored.
    if (s.committing !== undefined) {
      throw new SessionError('COMMIT_IN_FLIGHT', 'regenerate: a commit of this session is in flight; await it first');
    }
    if (isAnswered(s.request)) {
      throw new SessionError('ANSWERED', 'regenerate: the response is made; no cookie could carry the new ID');
    }
    if (s.cookie.detached === true) {
      throw new SessionError(
        'INVALID_ID',
        'regenerate: a session from getById has no cookie to carry a new ID (regenerate it in a request of its own)',
      );
    }
    if (s.stored && s.previousId === undefined) s.previousId = s.id;
    s.renew();
  }

  /**
   * End the session: the next `commit()` ends it in the store, for good, and expires the cookie. On a session a
   * login (`create()`) has replaced, it ends the login: the app's handle on the request's session was older than
   * the login (a Hono handler after a login in an earlier middleware), and a logout must not be lost.
   */
  destroy(): void {
    let s = this.#s;
    while (s.replacedBy !== undefined) s = s.replacedBy;
    s.destroyed = true;
  }

  /** @internal `shiftExpiration` (seconds undefined) and `updateExpiration`: a new lifetime from now. */
  _setLifetime(seconds: number | undefined): void {
    this.#s.writable();
    this.#s.lifetime.setLifetime(seconds, this.#s.config.now());
  }

  /**
   * Writes what changed and returns the headers to append to the Response: a Set-Cookie (and
   * `Cache-Control: private`) when the browser's cookie must change, nothing otherwise. A new session that
   * holds nothing is not stored and sets no cookie. A store failure rejects with a `SessionError` and changes
   * nothing: the stored record and the browser's cookie stay as they were, and the session keeps its changes for
   * the next commit (but for `STORE_TIMEOUT`, whose outcome is unknown: what it carried is never sent again). A
   * commit made while another commit of this session is in flight waits for it and then writes only what is left:
   * the changes made meanwhile (each applied once); if that commit fails, so does this one.
   */
  async commit(): Promise<Headers> {
    return toHeaders(await commitLines(this.#s, true));
  }

  /**
   * @internal `commit()` as Set-Cookie lines (`handle()` appends them without a Headers object); `keep`: as
   * `commit()` does, keep them for `handle()` to send too.
   */
  _commitLines(keep = false): string[] | Promise<string[]> {
    return commitLines(this.#s, keep);
  }

  /** @internal The Set-Cookie lines `commit()` and `commitAll` handed to the app, in order. */
  _sentLines(): readonly string[] {
    return this.#s.sent;
  }

  /** @internal Lines `handle()` or the middleware appended: for a run around it, or a retry, they were sent. */
  _recordSent(lines: readonly string[]): void {
    this.#s.sent.push(...lines);
  }

  /**
   * @internal The session the request had before this one (`create()`, or `start()` after `destroy()`):
   * `handle()` and the Hono middleware commit every session of the request, in order.
   */
  _previous: Session<Record<string, unknown>> | undefined = undefined;

  /**
   * @internal For a session that follows another (`create()`, `start()` after `destroy()`): its number among those
   * made on its request (lib/request-sessions.ts, `nextMade`). A run that fails drops those made since it began.
   */
  _made = 0;

  /** @internal Records the session this one follows in its request, and its number; returns this session. */
  _after(previous: Session<Data>, made: number): this {
    this._previous = previous as unknown as Session<Record<string, unknown>>;
    this._made = made;
    return this;
  }

  /** @internal How many cookies this session's cookie spans in the browser as this response leaves it so far. */
  get _chunks(): number {
    return this.#s.cookie.chunks;
  }

  /**
   * @internal Whether this session itself committed nothing: no commit of it was made (none handed lines, none
   * stored it) and none is in flight.
   */
  get _uncommittedItself(): boolean {
    const s = this.#s;
    return !s.stored && s.sent.length === 0 && s.committing === undefined;
  }

  /** @internal Whether no commit of this session or one before it in its request was made or is in flight. */
  get _uncommitted(): boolean {
    let s: Session<Record<string, unknown>> | undefined = this as unknown as Session<Record<string, unknown>>;
    for (; s !== undefined; s = s._previous) {
      if (s.#s.sent.length > 0 || s.#s.committing !== undefined) return false;
    }
    return true;
  }

  /** @internal Made by a run that failed, and never committed: dropped, a login's replacement undone (`drop`). */
  _drop(): void {
    drop(this.#s);
  }

  /** @internal `create()`: this new session replaces `previous`, which its first commit ends (lib/commit.ts). */
  _replace(previous: Session<Record<string, unknown>>): void {
    const ended: SessionCore[] = [];
    for (let p = previous._previous; p !== undefined; p = p._previous) ended.unshift(p.#s);
    replace(this.#s, previous.#s, ended);
  }
}

/**
 * Commits every session given (gorilla's `sessions.Save`), each one even when another fails, and resolves the
 * headers of all of them in one `Headers` (one `Cache-Control: private` for all). When any failed, it rejects,
 * after the others were committed, with an `AggregateError` of their `SessionError`s; its `headers` property
 * holds what the committed ones must still send (a regenerated or new session's cookie): append it to your
 * error response. Given anything but a Session (a Promise of one not awaited, a `getById()` null), it rejects
 * with `INVALID_OPTION` naming the argument, and commits none of them.
 *
 * @example
 * const [user, cart] = await Promise.all([users.start(request), carts.start(request)])
 * const headers = await commitAll(user, cart)
 */
export async function commitAll(...sessions: Session[]): Promise<Headers> {
  // All checked before any is committed: a mistake must not leave half of them written.
  for (let i = 0; i < sessions.length; i++) if (!(sessions[i] instanceof Session)) refuseNonSession(i, sessions[i]);
  // The same session twice is committed once. Sessions of one request go in the order they followed each other,
  // whatever the order given: a login's cookie line must come after the expired one of the session it replaced.
  const ordered = [...new Set(sessions)].sort((a, b) => depth(a) - depth(b));
  const results = await Promise.allSettled(ordered.map(async (s) => s._commitLines(true)));
  const lines: string[] = [];
  const errors: unknown[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') lines.push(...result.value);
    else errors.push(result.reason);
  }
  const headers = toHeaders(lines);
  if (errors.length === 0) return headers;
  const message = `edge-sessions: commitAll: ${errors.length} of ${results.length} commits failed`;
  throw Object.assign(new AggregateError(errors, message), { headers });
}

/**
 * `INVALID_OPTION` for what `commitAll` was given at `index` instead of a Session. A Promise is the usual mistake
 * (`start()` not awaited), and a null a `getById()` that found nothing: the message names it and the position.
 */
function refuseNonSession(index: number, value: unknown): never {
  const got =
    typeof (value as PromiseLike<unknown> | null)?.then === 'function'
      ? 'a Promise (await it)'
      : isObject(value)
        ? 'an object'
        : describeValue(value);
  throw new SessionError('INVALID_OPTION', `commitAll: argument ${index + 1} must be a Session, got ${got}`);
}

/** A string; numbers and booleans converted. */
function asString(value: unknown): string | undefined {
  return typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : undefined;
}

function toHeaders(lines: readonly string[]): Headers {
  const out = new Headers();
  for (const line of lines) out.append('Set-Cookie', line);
  // A response that sets a session cookie must not be stored by a shared cache (RFC 9111 §5.2.2.7).
  if (lines.length > 0) out.append('Cache-Control', 'private');
  return out;
}

/** How many sessions of its request came before `session` (`_previous`). */
function depth(session: Session): number {
  let n = 0;
  for (let s = session._previous; s !== undefined; s = s._previous) n++;
  return n;
}
