import type { SessionError } from '../errors.js';
import type { CookieAttributes } from './cookie.js';

/**
 * What a store keeps for one session. Values are already encoded by the manager's serializer (one string per
 * key), so a store only moves strings and numbers; it never needs the serializer. Times are epoch milliseconds.
 */
export interface SessionRecord {
  /** Session values, each encoded by the manager's serializer. */
  readonly data: Readonly<Record<string, string>>;
  /** Flash values waiting to be read, encoded likewise. */
  readonly flash?: Readonly<Record<string, string>>;
  /** Constant attributes given at `create`, encoded likewise; read-only for the session's life. */
  readonly constants?: Readonly<Record<string, string>>;
  /** Keys of `data` that a plain `set` may not overwrite. */
  readonly immutable?: readonly string[];
  /** When the session was created. */
  readonly createdAt: number;
  /** End of the session's lifetime (`expires`, moved by shiftExpiration/updateExpiration), capped by `absoluteTimeout`. */
  readonly endsAt: number;
  /** When the session expires: `endsAt`, or earlier if the idle timeout comes first. Stores expire records here. */
  readonly expiresAt: number;
  /** `false` for a browser-session cookie (no Max-Age): remember-me off. */
  readonly persistent?: boolean;
}

/**
 * The changes one request made to a session, for stores that apply them atomically (Durable Objects).
 * Applied in this order: `clear`, `delete`, `set`, `increment`, then `flash` and `immutable` key by key. A key
 * the stored record holds as immutable keeps its stored value against `set` and `increment` unless this request
 * knew it (its `immutable` entry says so): a request that loaded the session before another made a key immutable
 * cannot overwrite it.
 */
export interface SessionChanges {
  readonly clear?: boolean;
  readonly delete?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  /** Numeric additions, made atomically by stores that can; present only with the JSON serializer. */
  readonly increment?: Readonly<Record<string, number>>;
  /** Per flash key: its new value, or null when this request read, deleted or cleared it. */
  readonly flash?: Readonly<Record<string, string | null>>;
  /** Per key: true when this request made it immutable, false when it deleted it (it is then a plain key). */
  readonly immutable?: Readonly<Record<string, boolean>>;
}

/**
 * The contract every store implements. Keys are session IDs (stores may prefix them); records are plain
 * objects of strings and numbers. A store may go on returning a record after its `expiresAt` until it deletes
 * it (KV keeps keys at least 60 s): the manager checks expiry on every read, never uses such a record, and
 * reports it as `expired`. `count()` counts only records whose `expiresAt` is still ahead.
 */
export interface SessionStore {
  /** A short name used in error messages, such as `"kv"`. */
  readonly name?: string;
  get(key: string): Promise<SessionRecord | null>;
  set(key: string, record: SessionRecord, expiresAt: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Move only the expiry (idle timeout) without rewriting data. Without it the manager calls `set`. */
  touch?(key: string, expiresAt: number): Promise<void>;
  /**
   * Apply `changes` to the record as stored now and store `record`'s times; returns the record as stored
   * afterwards, or null if there is no live record (a commit never recreates a destroyed session). Done
   * atomically (Durable Objects), no concurrent change to another key is lost; done as read-then-write (KV),
   * the window for a lost change shrinks to the gap between the two. Without it the manager writes the whole
   * record with `set`.
   */
  update?(
    key: string,
    changes: SessionChanges,
    record: SessionRecord,
    expiresAt: number,
  ): Promise<SessionRecord | null>;
  clear?(): Promise<void>;
  count?(): Promise<number>;
  /**
   * Present on stateless stores (`edge-sessions/cookie`): the whole record travels, sealed, in the cookie, and
   * the manager calls this instead of get/set/delete.
   */
  readonly sealer?: Sealer;
}

/**
 * Seals session payloads into cookie text and opens them again, and lays the sealed text out in cookies. The
 * manager parses the payload and decides when to write; everything about the cookie store stays in its entry.
 */
export interface Sealer {
  /**
   * The sealed text the request's Cookie header carries: undefined without one, null when its cookies are
   * malformed or incomplete; `present` counts the store's cookies in the header (to expire them later).
   */
  read(header: string | null, cookieName: string): { sealed: string | null | undefined; present: number };
  /**
   * Set-Cookie lines carrying `sealed` in `count` cookies, expiring those of the `present` ones no longer
   * needed. Throws `COOKIE_TOO_LARGE` (nothing written) when it does not fit.
   */
  write(
    cookieName: string,
    sealed: string,
    attributes: CookieAttributes,
    maxAgeSec: number | undefined,
    now: number,
    present: number,
  ): { lines: string[]; count: number };
  /** Set-Cookie lines expiring all `present` cookies of the session (at least the first). */
  clear(cookieName: string, attributes: CookieAttributes, now: number, present: number): string[];
  /** Seal with `secrets[0]`, binding `cookieName`. Returns base64url-safe text (`[A-Za-z0-9._-]`). */
  seal(plaintext: string, secrets: readonly string[], cookieName: string): Promise<string>;
  /**
   * The plaintext, or null for anything forged, truncated, malformed or sealed under an unknown secret.
   * `stale` is true when an older secret opened it (the manager reseals on the next response).
   */
  open(
    sealed: string,
    secrets: readonly string[],
    cookieName: string,
  ): Promise<{ plaintext: string; stale: boolean } | null>;
}

/** Encodes one session value to text and back. The default is JSON. */
export interface Serializer {
  stringify(value: unknown): string;
  parse(text: string): unknown;
}

export type SameSiteOption = 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None';

/** Cookie attributes. Defaults: `__Host-sid`, Path=/, HttpOnly, Secure, SameSite=Lax, not Partitioned. */
export interface CookieOptions {
  /**
   * Cookie name; an RFC 9110 token. Default `__Host-sid`, or `sid` when `secure` is false or a `domain` or
   * another `path` is set (the `__Host-` prefix forbids those).
   */
  name?: string | undefined;
  /** Default `/`. */
  path?: string | undefined;
  /** Sent only when given; then sibling subdomains receive the cookie too. */
  domain?: string | undefined;
  /** Default `true`. Turn off only for plain-http development on a host a browser does not treat as secure. */
  secure?: boolean | undefined;
  /** Default `true`: scripts cannot read the cookie. */
  httpOnly?: boolean | undefined;
  /** Default `lax`. `none` requires `secure`. */
  sameSite?: SameSiteOption | undefined;
  /** CHIPS partitioned cookie; requires `secure`. Default `false`. */
  partitioned?: boolean | undefined;
}

export type SessionEvent =
  | { readonly type: 'created' | 'updated' | 'destroyed'; readonly maskedId: string; readonly at: number }
  | { readonly type: 'regenerated'; readonly maskedId: string; readonly previousMaskedId: string; readonly at: number }
  | {
      readonly type: 'expired';
      readonly maskedId: string;
      readonly reason: 'lifetime' | 'idle' | 'absolute';
      readonly at: number;
    }
  | {
      readonly type: 'rejected';
      /** Why a cookie was not accepted; never the cookie itself. */
      readonly reason: 'malformed' | 'signature' | 'unknown' | 'corrupt';
      readonly at: number;
    }
  | {
      /** A failure that did not fail the request (a touch-only write, background work). */
      readonly type: 'error';
      readonly operation: string;
      readonly error: SessionError;
      readonly maskedId?: string;
      readonly at: number;
    };

/**
 * The part of a Workers `ExecutionContext` the manager uses: work that need not delay the response (an
 * expiry-only write, an asynchronous event hook) is handed to `waitUntil` instead of being awaited.
 */
export interface BackgroundContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** Options of `createSessions`. Durations are seconds; `now()` is epoch milliseconds. */
export interface SessionsOptions {
  /** Where sessions live: `createMemoryStore()`, `createKVStore(env.SESSIONS)`, … Required. */
  store: SessionStore;
  /** HMAC secrets, each at least 32 bytes. The first signs; every one verifies (rotation). Required. */
  secrets: readonly string[];
  cookie?: CookieOptions | undefined;
  /** Lifetime in seconds from creation or the last `shiftExpiration`. Default 14 days; at most 400 days. */
  expires?: number | undefined;
  /** Seconds without a request after which the session ends (sliding). Default: none. */
  idleTimeout?: number | undefined;
  /** Seconds after creation after which the session ends, whatever else happens. Default: none. */
  absoluteTimeout?: number | undefined;
  /**
   * Minimum seconds an expiry-only write must gain before it is made (with `idleTimeout`). Default 60, or
   * a tenth of `idleTimeout` if that is smaller. Must be below `idleTimeout`.
   */
  touchAfter?: number | undefined;
  /**
   * Seconds a store call may take before it fails with `STORE_TIMEOUT` (fractions allowed, e.g. 0.5).
   * Default: no limit beyond the platform's own.
   */
  storeTimeout?: number | undefined;
  /** New session IDs; default 144 random bits, base64url. Must return 22–128 base64url characters. */
  generateId?: (() => string) | undefined;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Encodes values; default JSON (values must then be JSON data: no functions, BigInt, Dates or cycles). */
  serializer?: Serializer | undefined;
  /**
   * Lifecycle events for logging and metrics. An exception it throws is ignored; a promise it returns is
   * handed to `ctx.waitUntil` when the request has a ctx (Workers), and its rejection is ignored.
   */
  onEvent?: ((event: SessionEvent) => unknown) | undefined;
}
