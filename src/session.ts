import { SessionError, type SessionErrorCode } from './errors.js';
import { serializeCookie } from './lib/cookie.js';
import { ID_PATTERN, maskId } from './lib/ids.js';
import { MAX_COOKIE_AGE_SEC, type Config } from './lib/options.js';
import type { BackgroundContext, Sealer, SessionChanges, SessionEvent, SessionRecord } from './lib/types.js';
import { decodeValue, encodeValue, stringMap, toObject } from './lib/values.js';

// Most sessions have no flashes, constants or immutable keys: they share these empty stand-ins (three fewer
// allocations per request) until their first write makes a collection of their own. Filling a stand-in would
// leak into every session, so they refuse it loudly.
const NO_ENTRIES: Map<string, string> = new (class extends Map<string, string> {
  override set(): never {
    throw new TypeError('edge-sessions: shared empty map');
  }
})();
const NO_KEYS: Set<string> = new (class extends Set<string> {
  override add(): never {
    throw new TypeError('edge-sessions: shared empty set');
  }
})();

/** How the manager hands a session over (not for applications: use `sessions.start()` or `sessions.create()`). */
export interface SessionInit {
  readonly id?: string | undefined;
  readonly record?: SessionRecord | undefined;
  /** The cookie value that arrived, when it was signed with `secrets[0]` (re-sent as is, without signing). */
  readonly cookieValue?: string | undefined;
  /** The arriving cookie was signed with an older secret: send a freshly signed one on the next commit. */
  readonly resign?: boolean | undefined;
  /** The request carried a cookie that was not accepted: clear it unless a new session replaces it. */
  readonly staleCookie?: boolean | undefined;
  /** `create()`: write even if empty. */
  readonly forced?: boolean | undefined;
  readonly data?: Readonly<Record<string, unknown>> | undefined;
  readonly constants?: Readonly<Record<string, unknown>> | undefined;
  readonly persistent?: boolean | undefined;
  /** The request's ctx (Workers), for background work. */
  readonly ctx?: BackgroundContext | undefined;
  /** Stateless stores: how many chunk cookies the request carried. */
  readonly chunks?: number | undefined;
}

/** @internal Safe event delivery: a hook that throws or rejects never breaks a request. */
export function emit(config: Config, event: SessionEvent, ctx?: BackgroundContext): void {
  if (config.onEvent === undefined) return;
  try {
    const result = config.onEvent(event);
    if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
      const settled = Promise.resolve(result).catch(() => undefined);
      ctx?.waitUntil(settled);
    }
  } catch {
    // The hook is for logging and metrics; its failure is not the request's failure.
  }
}

/**
 * @internal Runs a store call, turning any failure into a SessionError that names the store and keeps the
 * cause; with `storeTimeout`, a call that takes longer fails with `STORE_TIMEOUT` (the call itself cannot be
 * cancelled, but the request no longer waits for it).
 */
export async function storeCall<T>(
  config: Config,
  code: SessionErrorCode,
  op: string,
  call: () => Promise<T>,
): Promise<T> {
  const limit = config.storeTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (limit === undefined) return await call();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new SessionError('STORE_TIMEOUT', `${config.storeName} store: ${op} took longer than ${limit} ms`)),
        limit,
      );
    });
    return await Promise.race([call(), timeout]);
  } catch (cause) {
    throw storeFailure(config, code, op, cause);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** @internal What a store's failure becomes: its own verdicts (a limit, an impossible operation, a timeout) as they are, anything else a `code` error naming the store, with the cause. */
export function storeFailure(config: Config, code: SessionErrorCode, op: string, cause: unknown): SessionError {
  if (cause instanceof SessionError && PASS_THROUGH.has(cause.code)) return cause;
  return new SessionError(code, `${config.storeName} store: ${op} failed`, { cause });
}

const PASS_THROUGH = new Set<SessionErrorCode>(['STORE_TIMEOUT', 'STORE_LIMIT', 'STORE_UNSUPPORTED']);

/**
 * Why a stored record is no longer valid at `now`, or undefined if it is. Expiry is inclusive: a record whose
 * `expiresAt` equals `now` is expired.
 */
export function expiryReason(
  config: Config,
  record: SessionRecord,
  now: number,
): 'lifetime' | 'idle' | 'absolute' | undefined {
  if (config.absoluteMs !== undefined && now >= record.createdAt + config.absoluteMs) return 'absolute';
  if (now >= record.endsAt) return 'lifetime';
  if (now >= record.expiresAt) return 'idle';
  return undefined;
}

/** A record from a store is untrusted input: check its shape before using it. */
export function isRecord(value: unknown): value is SessionRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.data === 'object' &&
    r.data !== null &&
    Number.isFinite(r.createdAt) &&
    Number.isFinite(r.endsAt) &&
    Number.isFinite(r.expiresAt) &&
    (r.immutable === undefined || (Array.isArray(r.immutable) && r.immutable.every((k) => typeof k === 'string'))) &&
    (r.persistent === undefined || typeof r.persistent === 'boolean')
  );
}

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
  readonly #c: Config;
  #id: string | undefined;
  #isNew: boolean;
  #createdAt: number;
  #endsAt: number;
  #expiresAt: number;
  #persistent: boolean;
  readonly #accessedAt: number;

  #data: Map<string, string>;
  #immutable: Set<string>;
  readonly #constants: Map<string, string>;
  #flash: Map<string, string>;
  /** Flashes read in this request: still readable here, not stored again. Made on first use. */
  #consumed: Set<string> | undefined;

  // What this request changed, for commit() and for stores that apply changes atomically: per key, 'set' (send
  // the final value), 'delete', or a number (an addition not yet applied). Made on first change.
  #ops: Map<string, 'set' | 'delete' | number> | undefined;
  #cleared = false;
  // Per flash key: true = stored with its current value, false = removed (read, deleted or cleared). Per key
  // whose immutability changed: true = made immutable, false = no longer. Sent as such to update(), so two
  // requests that touch different flashes or immutable keys keep each other's changes. Made on first change.
  #flashOps: Map<string, boolean> | undefined;
  #immutableOps: Map<string, boolean> | undefined;
  #timesChanged = false;
  #forced: boolean;
  #previousId: string | undefined;
  #destroyed = false;
  #cookieValue: string | undefined;
  #resign: boolean;
  #staleCookie: boolean;
  readonly #ctx: BackgroundContext | undefined;
  #chunks: number;

  /** Not for applications: use `sessions.start()` or `sessions.create()`. */
  constructor(config: Config, init: SessionInit) {
    this.#c = config;
    const now = config.now();
    this.#accessedAt = now;
    this.#cookieValue = init.cookieValue;
    this.#resign = init.resign ?? false;
    this.#staleCookie = init.staleCookie ?? false;
    this.#forced = init.forced ?? false;
    this.#ctx = init.ctx;
    this.#chunks = init.chunks ?? 0;
    const record = init.record;
    if (record !== undefined && init.id !== undefined) {
      this.#id = init.id;
      this.#isNew = false;
      this.#createdAt = record.createdAt;
      this.#endsAt = record.endsAt;
      this.#expiresAt = record.expiresAt;
      this.#persistent = record.persistent !== false;
      this.#data = stringMap(record.data) ?? new Map();
      this.#flash = record.flash === undefined ? NO_ENTRIES : (stringMap(record.flash) ?? NO_ENTRIES);
      this.#constants = record.constants === undefined ? NO_ENTRIES : (stringMap(record.constants) ?? NO_ENTRIES);
      this.#immutable = record.immutable === undefined ? NO_KEYS : new Set(record.immutable);
    } else {
      this.#id = undefined;
      this.#isNew = true;
      this.#createdAt = now;
      this.#endsAt = this.#capEnd(now + config.expiresMs);
      this.#expiresAt = this.#endsAt;
      this.#persistent = init.persistent ?? true;
      this.#data = new Map();
      this.#flash = NO_ENTRIES;
      this.#immutable = NO_KEYS;
      if (init.data !== undefined) for (const [k, v] of Object.entries(init.data)) this.#put(k, v);
      const constants = new Map<string, string>();
      if (init.constants !== undefined) {
        for (const [k, v] of Object.entries(init.constants)) {
          if (v !== undefined && v !== null) constants.set(k, encodeValue(config.serializer, config.json, k, v));
        }
      }
      this.#constants = constants.size > 0 ? constants : NO_ENTRIES;
    }
  }

  // ---------------------------------------------------------------- identity and times

  /** The session ID (a new session gets one when first asked or committed). Never log it: use `maskedId`. */
  get id(): string {
    if (this.#id === undefined) {
      const id = this.#c.generateId();
      if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
        throw new SessionError(
          'INVALID_ID',
          'generateId must return 22 to 128 base64url characters (>= 128 random bits)',
        );
      }
      this.#id = id;
    }
    return this.#id;
  }

  /** `id` with all but the first and last three characters hidden, for logs. */
  get maskedId(): string {
    return maskId(this.id);
  }

  /** True until the session has been stored. */
  get isNew(): boolean {
    return this.#isNew;
  }

  /** Creation time, epoch ms. */
  get createdAt(): number {
    return this.#createdAt;
  }

  /** Time of this access (this request), epoch ms. */
  get accessedAt(): number {
    return this.#accessedAt;
  }

  /** When the session expires as stored, or as the next commit will store it if its lifetime changed; epoch ms. */
  get expiresAt(): number {
    return this.#isNew || this.#timesChanged ? this.#idleExpiry(this.#c.now()) : this.#expiresAt;
  }

  /** Remember-me: `true` (default) sends a cookie with Max-Age; `false` a browser-session cookie. */
  get persistent(): boolean {
    return this.#persistent;
  }

  set persistent(value: boolean) {
    this.#writable();
    if (value !== this.#persistent) {
      this.#persistent = value;
      this.#timesChanged = true;
    }
  }

  /** True after `destroy()`. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  // ---------------------------------------------------------------- data

  /** The value of `key`, or undefined. Objects come back as fresh copies: to change one, `set` it again. */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined {
    const text = this.#data.get(key);
    return text === undefined ? undefined : (decodeValue(this.#c.serializer, key, text) as Data[K]);
  }

  /** Set a value; `null` or `undefined` deletes. Throws `UNSERIALIZABLE` for values the serializer cannot keep, `IMMUTABLE` for a key set with `setImmutable`. */
  set<K extends keyof Data & string>(key: K, value: Data[K] | null | undefined): void {
    this.#writable();
    if (this.#immutable.has(key))
      throw new SessionError('IMMUTABLE', `"${key}" is immutable; delete it first or use setImmutable`);
    this.#put(key, value);
  }

  /** Set a value that a later `set` cannot overwrite; `get` returns a copy of it. */
  setImmutable<K extends keyof Data & string>(key: K, value: Data[K]): void {
    this.#writable();
    const before = this.#data.get(key);
    this.#put(key, value);
    // Recorded for a key newly immutable, and for a new value of one already immutable (a store's merge lets only
    // a request that says so replace it); the same value again changes nothing and writes nothing.
    if (value !== null && value !== undefined && (!this.#immutable.has(key) || this.#data.get(key) !== before)) {
      if (this.#immutable === NO_KEYS) this.#immutable = new Set();
      this.#immutable.add(key);
      (this.#immutableOps ??= new Map()).set(key, true);
    }
  }

  /** True if `key` was set with `setImmutable`. */
  isImmutable(key: string): boolean {
    return this.#immutable.has(key);
  }

  has(key: string): boolean {
    return this.#data.has(key);
  }

  delete(key: string): void {
    this.#writable();
    if (!this.#data.has(key)) return;
    this.#data.delete(key);
    (this.#ops ??= new Map()).set(key, 'delete');
    if (this.#immutable.delete(key)) (this.#immutableOps ??= new Map()).set(key, false);
  }

  /** Remove every value (constants and flashes stay). */
  clear(): void {
    this.#writable();
    if (this.#data.size === 0 && !this.#cleared) return;
    this.#data.clear();
    this.#ops = undefined;
    this.#cleared = true;
    if (this.#immutable.size > 0) {
      const ops = (this.#immutableOps ??= new Map());
      for (const k of this.#immutable) ops.set(k, false);
      this.#immutable.clear();
    }
  }

  keys(): string[] {
    return [...this.#data.keys()];
  }

  /** A copy of all values. */
  getAll(): Partial<Data> {
    return toObject([...this.#data].map(([k, text]) => [k, decodeValue(this.#c.serializer, k, text)])) as Partial<Data>;
  }

  /**
   * Calls `visitor` for each value, in the order `keys()` gives: insertion order, except that after a reload
   * integer-like keys ("2") come first, as in any JavaScript object (records travel as JSON objects).
   */
  visitAll(visitor: (key: string, value: unknown) => void): void {
    for (const [k, text] of [...this.#data]) visitor(k, decodeValue(this.#c.serializer, k, text));
  }

  /** A constant attribute given to `create()`; read-only for the session's life. */
  constant<T = unknown>(key: string): T | undefined {
    const text = this.#constants.get(key);
    return text === undefined ? undefined : (decodeValue(this.#c.serializer, key, text) as T);
  }

  /** Adds `by` (default 1) to a number (missing counts as 0) and returns the result. Atomic on stores that support it. */
  increment(key: keyof Data & string, by = 1): number {
    this.#writable();
    if (!Number.isFinite(by))
      throw new SessionError('TYPE_MISMATCH', `increment("${key}") needs a finite number, got ${String(by)}`);
    if (this.#immutable.has(key)) throw new SessionError('IMMUTABLE', `"${key}" is immutable`);
    const next = (this.getNumber(key) ?? 0) + by;
    // A key already set, deleted or cleared in this request is sent as its final value; otherwise as an
    // addition, which a store with update() applies to whatever it holds (concurrent increments all count).
    const op = this.#ops?.get(key);
    const atomic = this.#c.json && !this.#cleared && (op === undefined || typeof op === 'number');
    this.#put(key, next);
    // `??=`: an addition too small to change the value (2^53 + 1) leaves #put nothing to record.
    if (atomic && by !== 0) (this.#ops ??= new Map()).set(key, (op ?? 0) + by);
    return next;
  }

  /** `increment(key, -by)`. */
  decrement(key: keyof Data & string, by = 1): number {
    return this.increment(key, -by);
  }

  // ---------------------------------------------------------------- typed getters

  /** A string; numbers and booleans are converted. Throws `TYPE_MISMATCH` otherwise; the default form never throws. */
  getString(key: string): string | undefined;
  getString(key: string, defaultValue: string): string;
  getString(key: string, defaultValue?: string): string | undefined {
    return this.#typed(key, defaultValue, 'a string', (v) =>
      typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined,
    );
  }

  /** A finite number; numeric strings such as "42" or "4.2" are parsed. */
  getNumber(key: string): number | undefined;
  getNumber(key: string, defaultValue: number): number;
  getNumber(key: string, defaultValue?: number): number | undefined {
    return this.#typed(key, defaultValue, 'a number', toNumber);
  }

  /** A safe integer; integer strings such as "42" are parsed. */
  getInt(key: string): number | undefined;
  getInt(key: string, defaultValue: number): number;
  getInt(key: string, defaultValue?: number): number | undefined {
    return this.#typed(key, defaultValue, 'an integer', (v) => {
      const n = toNumber(v);
      return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
    });
  }

  /** A boolean; "true"/"false"/"1"/"0" (any case) and 1/0 are parsed. */
  getBoolean(key: string): boolean | undefined;
  getBoolean(key: string, defaultValue: boolean): boolean;
  getBoolean(key: string, defaultValue?: boolean): boolean | undefined {
    return this.#typed(key, defaultValue, 'a boolean', (v) => {
      if (typeof v === 'boolean') return v;
      const s = typeof v === 'string' ? v.trim().toLowerCase() : typeof v === 'number' ? String(v) : '';
      return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : undefined;
    });
  }

  #typed<T>(
    key: string,
    defaultValue: T | undefined,
    what: string,
    convert: (value: unknown) => T | undefined,
  ): T | undefined {
    const text = this.#data.get(key);
    if (text === undefined) return defaultValue;
    let decoded: unknown;
    try {
      decoded = decodeValue(this.#c.serializer, key, text);
    } catch (error) {
      // The default form never throws, not even for a stored value that no longer parses.
      if (defaultValue !== undefined) return defaultValue;
      throw error;
    }
    const value = convert(decoded);
    if (value !== undefined) return value;
    if (defaultValue !== undefined) return defaultValue;
    throw new SessionError('TYPE_MISMATCH', `"${key}" is not ${what}`);
  }

  // ---------------------------------------------------------------- flash

  /** A value for the next request (and readable in this one). */
  setFlash(key: string, value: unknown): void {
    this.#writable();
    if (value === null || value === undefined) return this.deleteFlash(key);
    if (this.#flash === NO_ENTRIES) this.#flash = new Map();
    this.#flash.set(key, encodeValue(this.#c.serializer, this.#c.json, key, value));
    this.#consumed?.delete(key);
    (this.#flashOps ??= new Map()).set(key, true);
  }

  /** Reads and consumes a flash: gone from the next request on, still readable in this one. */
  getFlash<T = unknown>(key: string): T | undefined {
    const text = this.#flash.get(key);
    if (text === undefined) return undefined;
    if (!this.#consumed?.has(key)) {
      (this.#consumed ??= new Set()).add(key);
      (this.#flashOps ??= new Map()).set(key, false);
    }
    return decodeValue(this.#c.serializer, key, text) as T;
  }

  /** Reads a flash without consuming it. */
  peekFlash<T = unknown>(key: string): T | undefined {
    const text = this.#flash.get(key);
    return text === undefined ? undefined : (decodeValue(this.#c.serializer, key, text) as T);
  }

  hasFlash(key: string): boolean {
    return this.#flash.has(key);
  }

  /** All flashes, consumed. */
  getFlashes(): Record<string, unknown> {
    return toObject([...this.#flash.keys()].map((k) => [k, this.getFlash(k)]));
  }

  deleteFlash(key: string): void {
    this.#writable();
    if (this.#flash.delete(key)) (this.#flashOps ??= new Map()).set(key, false);
  }

  clearFlashes(): void {
    this.#writable();
    if (this.#flash.size > 0) {
      const ops = (this.#flashOps ??= new Map());
      for (const k of this.#flash.keys()) ops.set(k, false);
      this.#flash.clear();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Give the session a new ID, keeping its data (call it at login and privilege changes: it defeats session
   * fixation). The next `commit()` stores the data under the new ID and deletes the old record, so the old
   * cookie stops working as soon as the commit returns.
   */
  regenerate(): void {
    this.#writable();
    if (!this.#isNew && this.#previousId === undefined) this.#previousId = this.#id;
    this.#id = undefined;
    this.#cookieValue = undefined;
  }

  /** End the session: the next `commit()` deletes it from the store and expires the cookie. */
  destroy(): void {
    this.#destroyed = true;
  }

  /** @internal Set a new lifetime from now: `shiftExpiration` (seconds undefined) and `updateExpiration`. */
  _setLifetime(seconds: number | undefined): void {
    this.#writable();
    const now = this.#c.now();
    if (seconds === -1) {
      this.#persistent = false; // the server-side lifetime stays as it is
    } else {
      if (seconds !== undefined) this.#persistent = true;
      this.#endsAt = this.#capEnd(now + (seconds === undefined ? this.#c.expiresMs : seconds * 1000));
    }
    this.#timesChanged = true;
  }

  /**
   * Writes what changed and returns the headers to append to the Response: a Set-Cookie (and
   * `Cache-Control: private`) when the browser's cookie must change, nothing otherwise. A new session that
   * holds nothing is not stored and sets no cookie. A store failure rejects with a `SessionError` and changes
   * nothing: the stored record and the browser's cookie stay as they were.
   */
  async commit(): Promise<Headers> {
    const lines = await this._commitLines();
    const out = new Headers();
    for (const line of lines) out.append('Set-Cookie', line);
    // A response that sets a session cookie must not be stored by a shared cache (RFC 9111 §5.2.2.7).
    if (lines.length > 0) out.append('Cache-Control', 'private');
    return out;
  }

  /**
   * @internal `commit()` as the Set-Cookie lines to send (`handle()` appends them without a Headers object).
   * When there is nothing to write or send (most read-only requests), the answer is an empty array at once.
   */
  _commitLines(): string[] | Promise<string[]> {
    const c = this.#c;
    const now = c.now();
    if (this.#nothingToDo(now)) return [];
    return c.sealer !== undefined ? this.#commitSealed(c.sealer, now) : this.#commitSigned(now);
  }

  /** No write, no cookie: a new session with nothing in it, or a stored one that nothing changed and no touch is due. */
  #nothingToDo(now: number): boolean {
    if (this.#destroyed) return false;
    const changed = this.#changed();
    if (this.#isNew) return this.#nothingToStore(changed) && !this.#staleCookie;
    return (
      !changed &&
      !this.#timesChanged &&
      this.#previousId === undefined &&
      !this.#resign &&
      !this.#touchDue(this.#idleExpiry(now))
    );
  }

  async #commitSigned(now: number): Promise<string[]> {
    const c = this.#c;
    const out: string[] = [];

    if (this.#destroyed) {
      if (!this.#isNew) {
        // After regenerate() the stored record is still under the previous ID.
        const id = this.#previousId ?? this.#id!;
        await storeCall(c, 'STORE_DELETE', 'delete', () => c.store.delete(id));
        this.#previousId = undefined;
        emit(c, { type: 'destroyed', maskedId: maskId(id), at: now }, this.#ctx);
        this.#isNew = true;
        this.#appendCookie(out, '', 0, now);
      } else if (this.#staleCookie) {
        this.#appendCookie(out, '', 0, now);
      }
      this.#staleCookie = false;
      this.#cookieValue = undefined;
      return out;
    }

    const expiresAt = this.#idleExpiry(now);
    const changed = this.#changed();

    if (this.#isNew) {
      if (this.#nothingToStore(changed)) {
        if (this.#staleCookie) {
          this.#appendCookie(out, '', 0, now);
          this.#staleCookie = false;
        }
        return out;
      }
      const id = this.id;
      const record = this.#record(expiresAt);
      await storeCall(c, 'STORE_WRITE', 'set', () => c.store.set(id, record, expiresAt));
      this.#isNew = false;
      this.#afterWrite(expiresAt);
      emit(c, { type: 'created', maskedId: maskId(id), at: now }, this.#ctx);
      await this.#sendCookie(out, now);
      return out;
    }

    if (this.#previousId !== undefined) {
      const id = this.id;
      const previous = this.#previousId;
      const record = this.#record(expiresAt);
      // Make sure the old session still exists: a renewal racing a logout must not carry the session over to a
      // new ID. A read, not a write: if a later step fails, the old record is as it was (and on KV the old key
      // does not spend its one write per second).
      const stored = await storeCall(c, 'STORE_READ', 'get', () => c.store.get(previous));
      if (stored === null || stored === undefined || !isRecord(stored)) return this.#destroyedMeanwhile(out, now);
      await storeCall(c, 'STORE_WRITE', 'set', () => c.store.set(id, record, expiresAt));
      await this.#deletePrevious();
      this.#afterWrite(expiresAt);
      emit(c, { type: 'regenerated', maskedId: maskId(id), previousMaskedId: maskId(previous), at: now }, this.#ctx);
      await this.#sendCookie(out, now);
      return out;
    }

    const id = this.#id!;
    if (changed || this.#timesChanged) {
      const record = this.#record(expiresAt);
      // Even a times-only change goes through update() where there is one: it never recreates a session
      // that another request destroyed meanwhile, where set() would.
      if (c.store.update !== undefined) {
        const stored = await storeCall(c, 'STORE_WRITE', 'update', () =>
          c.store.update!(id, this.#changes(), record, expiresAt),
        );
        if (stored === null || !isRecord(stored)) return this.#destroyedMeanwhile(out, now);
        this.#adopt(stored);
      } else {
        await storeCall(c, 'STORE_WRITE', 'set', () => c.store.set(id, record, expiresAt));
      }
      this.#afterWrite(expiresAt);
      emit(c, { type: 'updated', maskedId: maskId(id), at: now }, this.#ctx);
      await this.#sendCookie(out, now);
      return out;
    }

    // Nothing changed: extend an idle timeout only when that gains at least `touchAfter`.
    if (this.#touchDue(expiresAt)) {
      const touch = async (): Promise<boolean> => {
        try {
          if (c.store.touch !== undefined) {
            await storeCall(c, 'STORE_WRITE', 'touch', () => c.store.touch!(id, expiresAt));
          } else {
            const record = this.#record(expiresAt);
            await storeCall(c, 'STORE_WRITE', 'set', () => c.store.set(id, record, expiresAt));
          }
          return true;
        } catch (error) {
          // An expiry-only write that fails (a KV 429, say) costs the user nothing yet: report it and go on.
          emit(
            c,
            { type: 'error', operation: 'touch', error: error as SessionError, maskedId: maskId(id), at: now },
            this.#ctx,
          );
          return false;
        }
      };
      if (this.#ctx !== undefined) {
        // Workers: the response need not wait for an expiry-only write (icza's asynchronous backup save).
        this.#ctx.waitUntil(touch());
      } else if (!(await touch())) {
        return out;
      }
      this.#afterWrite(expiresAt);
      await this.#sendCookie(out, now);
      return out;
    }

    if (this.#resign) await this.#sendCookie(out, now);
    return out;
  }

  /**
   * Stateless stores: the record is sealed into the cookie, so every write is a new Set-Cookie (split over
   * chunk cookies when large) and nothing else. A size error is raised before any header is produced.
   */
  async #commitSealed(sealer: Sealer, now: number): Promise<string[]> {
    const c = this.#c;
    const out: string[] = [];
    const clearAll = () => {
      out.push(...sealer.clear(c.cookieName, c.attributes, now, this.#chunks));
      this.#chunks = 0;
      this.#staleCookie = false;
    };
    if (this.#destroyed) {
      if (!this.#isNew) {
        emit(c, { type: 'destroyed', maskedId: maskId(this.#previousId ?? this.#id!), at: now }, this.#ctx);
        this.#isNew = true;
        this.#previousId = undefined;
        clearAll();
      } else if (this.#staleCookie) {
        clearAll();
      }
      return out;
    }

    const expiresAt = this.#idleExpiry(now);
    const changed = this.#changed();
    // (_commitLines has already answered "nothing to do": a stored session reaching here writes.)
    if (this.#isNew && this.#nothingToStore(changed)) {
      if (this.#staleCookie) clearAll();
      return out;
    }

    const id = this.id;
    const record = this.#record(expiresAt);
    const sealed = await sealer.seal(JSON.stringify({ i: id, r: record }), c.secrets, c.cookieName);
    const maxAge = this.#persistent ? this.#maxAge(expiresAt, now) : undefined;
    const { lines, count } = sealer.write(c.cookieName, sealed, c.attributes, maxAge, now, this.#chunks);
    out.push(...lines);

    const event = this.#isNew
      ? 'created'
      : this.#previousId !== undefined
        ? 'regenerated'
        : changed || this.#timesChanged
          ? 'updated'
          : undefined;
    const previous = this.#previousId;
    this.#chunks = count;
    this.#isNew = false;
    this.#resign = false;
    this.#afterWrite(expiresAt);
    if (event === 'regenerated') {
      emit(c, { type: event, maskedId: maskId(id), previousMaskedId: maskId(previous!), at: now }, this.#ctx);
    } else if (event !== undefined) {
      emit(c, { type: event, maskedId: maskId(id), at: now }, this.#ctx);
    }
    return out;
  }

  // ---------------------------------------------------------------- internals

  /** A new session that nothing was put into (and that `create()` did not ask for) is not stored. */
  #nothingToStore(changed: boolean): boolean {
    return !changed && !this.#forced && !this.#timesChanged;
  }

  /** Another request destroyed the session while this one was committing: never bring it back. */
  #destroyedMeanwhile(out: string[], now: number): string[] {
    this.#destroyed = true;
    this.#isNew = true;
    this.#previousId = undefined;
    this.#appendCookie(out, '', 0, now);
    return out;
  }

  #changed(): boolean {
    return this.#cleared || this.#ops !== undefined || this.#flashOps !== undefined || this.#immutableOps !== undefined;
  }

  /** An expiry-only write is due when it would extend an idle timeout by at least `touchAfter`. */
  #touchDue(expiresAt: number): boolean {
    return (
      this.#c.idleMs !== undefined && expiresAt > this.#expiresAt && expiresAt - this.#expiresAt >= this.#c.touchAfterMs
    );
  }

  #maxAge(expiresAt: number, now: number): number {
    return Math.min(MAX_COOKIE_AGE_SEC, Math.max(1, Math.ceil((expiresAt - now) / 1000)));
  }

  #writable(): void {
    if (this.#destroyed) throw new SessionError('DESTROYED', 'this session was destroyed; start a new one');
  }

  #put(key: string, value: unknown): void {
    if (value === null || value === undefined) {
      if (this.#data.has(key)) this.delete(key);
      return;
    }
    const text = encodeValue(this.#c.serializer, this.#c.json, key, value);
    // An unchanged value needs no write, unless this request queued an addition to it: a plain set then
    // means "this value", not "+n" on whatever the store holds by now.
    if (this.#data.get(key) === text && typeof this.#ops?.get(key) !== 'number') return;
    this.#data.set(key, text);
    (this.#ops ??= new Map()).set(key, 'set');
  }

  #capEnd(end: number): number {
    return this.#c.absoluteMs === undefined ? end : Math.min(end, this.#createdAt + this.#c.absoluteMs);
  }

  /** The expiry a write made now would store. */
  #idleExpiry(now: number): number {
    return this.#c.idleMs === undefined ? this.#endsAt : Math.min(this.#endsAt, now + this.#c.idleMs);
  }

  /** Flashes to store: all but those read in this request. */
  #nextFlash(): [string, string][] {
    const consumed = this.#consumed;
    const flash = [...this.#flash];
    return consumed === undefined ? flash : flash.filter(([k]) => !consumed.has(k));
  }

  #record(expiresAt: number): SessionRecord {
    const flash = this.#nextFlash();
    const record: {
      -readonly [K in keyof SessionRecord]: SessionRecord[K];
    } = {
      data: toObject(this.#data),
      createdAt: this.#createdAt,
      endsAt: this.#endsAt,
      expiresAt,
    };
    if (flash.length > 0) record.flash = toObject(flash);
    if (this.#constants.size > 0) record.constants = toObject(this.#constants);
    if (this.#immutable.size > 0) record.immutable = [...this.#immutable];
    if (!this.#persistent) record.persistent = false;
    return record;
  }

  #changes(): SessionChanges {
    const changes: { -readonly [K in keyof SessionChanges]: SessionChanges[K] } = {};
    if (this.#cleared) changes.clear = true;
    const deleted: string[] = [];
    const set: [string, string][] = [];
    const increment: [string, number][] = [];
    for (const [k, op] of this.#ops ?? []) {
      if (op === 'delete') deleted.push(k);
      else if (op === 'set') set.push([k, this.#data.get(k)!]);
      else increment.push([k, op]);
    }
    if (deleted.length > 0) changes.delete = deleted;
    if (set.length > 0) changes.set = toObject(set);
    if (increment.length > 0) changes.increment = toObject(increment);
    if (this.#flashOps !== undefined) {
      changes.flash = toObject([...this.#flashOps].map(([k, keep]) => [k, keep ? (this.#flash.get(k) ?? null) : null]));
    }
    if (this.#immutableOps !== undefined) changes.immutable = toObject(this.#immutableOps);
    return changes;
  }

  /** Take the data a store returned after applying changes atomically (it may hold other requests' updates). */
  #adopt(record: SessionRecord): void {
    this.#data = stringMap(record.data) ?? this.#data;
    this.#immutable = record.immutable === undefined ? NO_KEYS : new Set(record.immutable);
    this.#flash = record.flash === undefined ? NO_ENTRIES : (stringMap(record.flash) ?? NO_ENTRIES);
  }

  #afterWrite(expiresAt: number): void {
    this.#expiresAt = expiresAt;
    this.#cleared = false;
    this.#ops = undefined;
    this.#immutableOps = undefined;
    this.#timesChanged = false;
    this.#forced = false;
    this.#previousId = undefined;
    this.#staleCookie = false;
    if (this.#flashOps !== undefined) {
      for (const k of this.#consumed ?? []) this.#flash.delete(k);
      this.#consumed = undefined;
      this.#flashOps = undefined;
    }
  }

  async #deletePrevious(): Promise<void> {
    const previous = this.#previousId!;
    await storeCall(this.#c, 'STORE_DELETE', 'delete', () => this.#c.store.delete(previous));
    this.#previousId = undefined;
  }

  async #sendCookie(out: string[], now: number): Promise<void> {
    const c = this.#c;
    if (this.#cookieValue === undefined || this.#resign) {
      const id = this.id;
      this.#cookieValue = await c.signer.sign(id);
      this.#resign = false;
    }
    this.#appendCookie(out, this.#cookieValue, this.#persistent ? this.#maxAge(this.#expiresAt, now) : undefined, now);
  }

  /** A signed ID always fits: `createSessions` refuses a name, path and domain that leave it no room. */
  #appendCookie(out: string[], value: string, maxAgeSec: number | undefined, now: number): void {
    const c = this.#c;
    out.push(serializeCookie(c.cookieName, value, c.attributes, maxAgeSec, now));
  }
}

/** Decimal notation only ("42", "-4.2", "1e3"): `Number()` alone would also take "0x10", "0b101" and "". */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
